/**
 * settings: reading and changing a cache's settings at run time (`cache.reset`), under
 * diskcache's names or the option names. A change is written to the Settings table (so every
 * process and later opener sees it) and applied: pragmas, the eviction policy's index, the tag
 * index. Opening a cache (defaults, stored, given) is schema.ts's job, not this file's.
 */
import type Database from 'better-sqlite3';
import { KeyError } from './errors.js';
import { POLICIES } from './eviction.js';
import {
  applyPragma,
  bindSetting,
  checkSettings,
  databaseFile,
  optionsToSettings,
  type SettingValue,
} from './schema.js';
import type { CacheStatements } from './statements.js';
import type { Transactor } from './transaction.js';
import type { CacheOptions, EvictionPolicy } from './types.js';

/** Option names accepted by `reset` besides diskcache's names, and the setting each one is. */
export const SETTING_ALIASES: Readonly<Record<string, string>> = Object.freeze({
  sizeLimit: 'size_limit',
  cullLimit: 'cull_limit',
  evictionPolicy: 'eviction_policy',
  statistics: 'statistics',
  tagIndex: 'tag_index',
  minFileSize: 'disk_min_file_size',
});

const OPTION_OF = new Map(Object.entries(SETTING_ALIASES).map(([option, name]) => [name, option]));

/** What `resetSetting` needs of its Cache. */
export interface SettingsHost {
  readonly db: Database.Database;
  readonly tx: Transactor;
  statements(): CacheStatements;
  /** The Cache's copy of the settings (updated here). */
  readonly settings: Record<string, SettingValue>;
  /** Re-reads the settings that shape the Cache's behaviour and statements. */
  apply(): void;
}

/**
 * `cache.reset(setting)`: reads a setting from the database. `cache.reset(setting, value)`: checks
 * the value as the option would be checked, stores it for every process and applies it here.
 */
export function resetSetting(
  host: SettingsHost,
  setting: string,
  value: SettingValue | boolean | undefined,
): SettingValue {
  if (typeof setting !== 'string')
    throw new TypeError(`reset(setting): setting must be a string, got ${typeof setting}`);
  const name = SETTING_ALIASES[setting] ?? setting;
  const option = OPTION_OF.get(name);
  if (value === undefined) {
    const row = host.statements().readSetting.get(name);
    if (row === undefined)
      throw new KeyError(setting, `unknown setting ${JSON.stringify(setting)}`);
    checkSettings({ [name]: row[0] }, databaseFile(host.db));
    host.settings[name] = row[0];
    if (option) host.apply();
    return row[0];
  }
  let stored: SettingValue = typeof value === 'boolean' ? (value ? 1 : 0) : value;
  if (option) {
    const isFlag = option === 'statistics' || option === 'tagIndex';
    if (isFlag && stored !== 0 && stored !== 1)
      throw new TypeError(`${option} must be a boolean (or 0/1), got ${String(value)}`);
    const checked = optionsToSettings({
      [option]: isFlag ? Boolean(stored) : stored,
    } as CacheOptions);
    stored = checked[name] ?? stored;
  }
  const { db, tx } = host;
  if (name.startsWith('sqlite_')) applyPragma(db, name, stored);
  tx.run(true, null, () => host.statements().writeSetting.run(name, bindSetting(stored)));
  if (name === 'eviction_policy') {
    const init = POLICIES[stored as EvictionPolicy].init;
    if (init) tx.run(true, null, () => db.exec(init));
  }
  if (name === 'tag_index') {
    const sql = stored
      ? 'CREATE INDEX IF NOT EXISTS Cache_tag_rowid ON Cache(tag, rowid)'
      : 'DROP INDEX IF EXISTS Cache_tag_rowid';
    tx.run(true, null, () => db.exec(sql));
  }
  host.settings[name] = stored;
  host.apply();
  return stored;
}
