/**
 * The cache command group of the CLI: stats, keys, get, set, delete, expire, evict, cull, clear
 * and check on one cache directory. Each command is a thin layer over one `Cache` method: it
 * parses what the user typed, calls the engine, prints a table or a JSON document.
 * It must not hold cache logic of its own; what the engine lacks belongs in the engine.
 */
import { type Command, Option } from 'commander';
import type { Cache } from '../cache/cache.js';
import { Timeout } from '../cache/errors.js';
import type { CheckWarning } from '../cache/types.js';
import {
  action,
  addKeyOptions,
  addTagTypeOption,
  type CliIo,
  type CommandContext,
  optionParser,
} from './context.js';
import { CliError, EXIT } from './exit-codes.js';
import {
  formatSize,
  formatTable,
  formatTime,
  formatValue,
  helpExamples,
  parseCount,
  parseJson,
  parseSeconds,
} from './output.js';

/** Settings shown first by `stats`, in this order; the others follow alphabetically. */
const MAIN_SETTINGS = [
  'size_limit',
  'cull_limit',
  'eviction_policy',
  'statistics',
  'tag_index',
  'disk_min_file_size',
];
/** Lines of `keys` text written at once. */
const KEYS_PER_WRITE = 1000;
/** `check --fix` removes one level of emptied value directories per pass: value files sit two levels deep. */
const MAX_FIX_PASSES = 3;

function inline(value: unknown): string {
  return formatValue(value, { inline: true });
}

function notFound(key: unknown): CliError {
  return new CliError(EXIT.NOT_FOUND, `key not found: ${inline(key)}`, { details: { key } });
}

/** Runs a batch remover; a Timeout becomes exit 4 and says how many entries went before it. */
function removing(what: string, remove: () => number): number {
  try {
    return remove();
  } catch (error) {
    if (!(error instanceof Timeout)) throw error;
    throw new CliError(
      EXIT.TIMEOUT,
      `${what}: timed out waiting for the write lock after removing ${error.count} entries`,
      {
        cause: error,
        details: { removed: error.count },
      },
    );
  }
}

/** `removed 1 entry`, `removed 3 expired entries`. */
function removedText(count: number, adjective = ''): string {
  return `removed ${count} ${adjective}${count === 1 ? 'entry' : 'entries'}`;
}

// ---- stats, keys, get ---------------------------------------------------------------------------

function statsCommand(program: Command, io: CliIo): void {
  program
    .command('stats')
    .description('show entries, volume, hit/miss counts and settings')
    .addHelpText(
      'after',
      helpExamples('diskcache -d ./cache stats', 'diskcache -d ./cache stats --json | jq .entries'),
    )
    .action(
      action(io, (context) =>
        context.withCache({ create: false }, (cache) => {
          const { hits, misses } = cache.stats();
          const settings = cache.settings;
          const document = {
            directory: cache.directory,
            entries: cache.size,
            volume: cache.volume(),
            hits,
            misses,
            settings,
          };
          context.print(document, () => {
            const names = [
              ...MAIN_SETTINGS.filter((name) => name in settings),
              ...Object.keys(settings)
                .filter((n) => !MAIN_SETTINGS.includes(n))
                .sort(),
            ];
            const summary = formatTable([
              ['directory', document.directory],
              ['entries', String(document.entries)],
              ['volume', formatSize(document.volume)],
              ['hits', String(hits)],
              ['misses', `${misses}${Number(settings.statistics) ? '' : '  (statistics are off)'}`],
            ]);
            const table = formatTable(
              names.map((name) => [name, inline(settings[name])]),
              { header: ['setting', 'value'] },
            );
            return `${summary}\n${table}`;
          });
        }),
      ),
    );
}

function keysCommand(program: Command, io: CliIo): void {
  program
    .command('keys')
    .description('list keys, in insertion order (expired entries not yet culled included)')
    .addHelpText(
      'after',
      helpExamples(
        'diskcache -d ./cache keys --limit 20',
        'diskcache -d ./cache keys --sorted --reverse --json',
      ),
    )
    .addOption(
      new Option('--limit <n>', 'list at most N keys').argParser(
        optionParser((text) => parseCount(text, '--limit')),
      ),
    )
    .option(
      '--sorted',
      "in SQLite's key order (numbers, then strings, then bytes) instead of insertion order",
    )
    .option('--reverse', 'newest (or greatest, with --sorted) first')
    .action(
      action(io, (context) =>
        context.withCache({ create: false }, (cache) => {
          const { limit, sorted, reverse } = context.opts<{
            limit?: number;
            sorted?: boolean;
            reverse?: boolean;
          }>();
          const source = sorted ? cache.iterKeys({ reverse }) : cache.keys({ reverse });
          // Text goes out in chunks as keys are read: a cache may hold millions. JSON is one document.
          const keys: unknown[] = [];
          let lines: string[] = [];
          let count = 0;
          let truncated = false;
          for (const key of source) {
            if (limit !== undefined && count >= limit) {
              truncated = true;
              break;
            }
            count++;
            if (context.json) keys.push(key);
            else lines.push(`${inline(key)}\n`);
            if (lines.length >= KEYS_PER_WRITE) {
              io.stdout.write(lines.join(''));
              lines = [];
            }
          }
          source.return(undefined);
          context.print({ count, truncated, keys }, () => lines.join(''));
          if (truncated) context.note(`(first ${count} keys shown; raise --limit for more)`);
        }),
      ),
    );
}

function getCommand(program: Command, io: CliIo): void {
  const command = program
    .command('get')
    .description('print the value of KEY (exit code 1 when it is missing or expired)')
    .addHelpText(
      'after',
      helpExamples(
        'diskcache -d ./cache get greeting',
        'diskcache -d ./cache get --int-key 42 --json',
      ),
    )
    .argument('<key>', 'the key (a string unless --key-type says otherwise)')
    .option(
      '--raw',
      'write a string or bytes value exactly as stored, with no newline (for pipes)',
    );
  addKeyOptions(command).action(
    action(io, (context, keyText) => {
      const key = context.parseKey(keyText!);
      return context.withCache({ create: false }, (cache) => {
        // A value this process cannot decode (a pickle naming code, another language's object)
        // prints as its placeholder, as listings show it: the entry exists.
        const entry = cache.getEntry(key, { placeholder: true });
        if (entry === undefined) throw notFound(key);
        if (context.opts<{ raw?: boolean }>().raw && !context.json) {
          const { value } = entry;
          if (typeof value !== 'string' && !(value instanceof Uint8Array)) {
            throw new CliError(
              EXIT.USAGE,
              `--raw needs a string or bytes value; this one is ${inline(value)} (use --json or no option)`,
            );
          }
          io.stdout.write(value);
          return;
        }
        context.print(entry, () => formatValue(entry.value));
      });
    }),
  );
}

// ---- set, delete ------------------------------------------------------------------------------

function setCommand(program: Command, io: CliIo): void {
  const command = program
    .command('set')
    .description('store VALUE under KEY (creates the cache directory if needed)')
    .addHelpText(
      'after',
      helpExamples(
        'diskcache -d ./cache set greeting hello --expire 60 --tag demo',
        `diskcache -d ./cache set --int-key 42 '{"a": [1, 2]}' --json-value`,
      ),
    )
    .argument('<key>', 'the key (a string unless --key-type says otherwise)')
    .argument('<value>', 'the value: a string, or any JSON document with --json-value')
    .addOption(
      new Option('--expire <seconds>', 'expire the entry after this many seconds').argParser(
        optionParser((text) => parseSeconds(text, '--expire')),
      ),
    )
    .option('--tag <tag>', 'a tag, for `diskcache evict TAG`')
    .option('--json-value', 'parse VALUE as JSON (numbers, booleans, null, arrays, objects)');
  addTagTypeOption(addKeyOptions(command)).action(
    action(io, (context, keyText, valueText) => {
      const options = context.opts<{ expire?: number; tag?: string; jsonValue?: boolean }>();
      const key = context.parseKey(keyText!);
      const value = options.jsonValue ? parseJson(valueText!, 'VALUE (--json-value)') : valueText!;
      const tag = options.tag === undefined ? undefined : context.parseTag(options.tag);
      return context.withCache({ create: true }, (cache) => {
        cache.set(key, value, { expire: options.expire, tag });
        const expireTime = options.expire === undefined ? null : Date.now() / 1000 + options.expire;
        context.print({ key, stored: true, expireTime, tag: tag ?? null }, () => {
          const extras = [
            options.expire === undefined ? '' : `expires ${formatTime(expireTime)}`,
            tag === undefined ? '' : `tag ${inline(tag)}`,
          ];
          return `stored ${inline(key)}${extras
            .filter(Boolean)
            .map((text) => `, ${text}`)
            .join('')}`;
        });
      });
    }),
  );
}

function deleteCommand(program: Command, io: CliIo): void {
  const command = program
    .command('delete')
    .description('delete KEY (exit code 1 when it is missing or expired)')
    .addHelpText(
      'after',
      helpExamples(
        'diskcache -d ./cache delete greeting',
        'diskcache -d ./cache delete --int-key 42',
      ),
    )
    .argument('<key>', 'the key (a string unless --key-type says otherwise)');
  addKeyOptions(command).action(
    action(io, (context, keyText) => {
      const key = context.parseKey(keyText!);
      return context.withCache({ create: false }, (cache) => {
        if (!cache.delete(key)) throw notFound(key);
        context.print({ key, deleted: true }, () => `deleted ${inline(key)}`);
      });
    }),
  );
}

// ---- expire, evict, cull, clear ---------------------------------------------------------------

function expireCommand(program: Command, io: CliIo): void {
  program
    .command('expire')
    .description('remove every expired entry')
    .addHelpText(
      'after',
      helpExamples('diskcache -d ./cache expire', 'DISKCACHE_DIR=./cache diskcache expire --json'),
    )
    .action(
      action(io, (context) =>
        context.withCache({ create: false }, (cache) => {
          const removed = removing('expire', () => cache.expire());
          context.print({ removed }, () => removedText(removed, 'expired '));
        }),
      ),
    );
}

function evictCommand(program: Command, io: CliIo): void {
  const command = program
    .command('evict')
    .description('remove every entry tagged TAG (live or not)')
    .addHelpText(
      'after',
      helpExamples(
        'diskcache -d ./cache evict demo',
        'diskcache -d ./cache evict 1234 --tag-type int',
      ),
    )
    .argument('<tag>', 'the tag (a string unless --tag-type says otherwise)');
  addTagTypeOption(command).action(
    action(io, (context, tagText) => {
      const tag = context.parseTag(tagText!);
      return context.withCache({ create: false }, (cache) => {
        const removed = removing('evict', () => cache.evict(tag));
        context.print({ tag, removed }, () => `${removedText(removed)} tagged ${inline(tag)}`);
      });
    }),
  );
}

function cullCommand(program: Command, io: CliIo): void {
  program
    .command('cull')
    .description(
      'remove expired entries, then entries in eviction-policy order until the volume is within size_limit',
    )
    .addHelpText(
      'after',
      helpExamples('diskcache -d ./cache cull', 'diskcache -d ./cache cull --json'),
    )
    .action(
      action(io, (context) =>
        context.withCache({ create: false }, (cache) => {
          const removed = removing('cull', () => cache.cull());
          const volume = cache.volume();
          const sizeLimit = Number(cache.settings.size_limit);
          context.print(
            { removed, volume, sizeLimit },
            () =>
              `${removedText(removed)}; volume ${formatSize(volume)}, size_limit ${formatSize(sizeLimit)}`,
          );
        }),
      ),
    );
}

function clearCommand(program: Command, io: CliIo): void {
  program
    .command('clear')
    .description('remove every entry (asks first on a terminal; --yes to skip the question)')
    .addHelpText(
      'after',
      helpExamples('diskcache -d ./cache clear', 'diskcache -d ./cache clear --yes --json'),
    )
    .option('-y, --yes', 'do not ask for confirmation')
    .action(
      action(io, (context) =>
        context.withCache({ create: false }, async (cache) => {
          if (!context.opts<{ yes?: boolean }>().yes) await confirmClear(context, cache);
          const removed = removing('clear', () => cache.clear());
          context.print({ removed }, () => removedText(removed));
        }),
      ),
    );
}

async function confirmClear(context: CommandContext, cache: Cache): Promise<void> {
  const { confirm } = context.io;
  if (confirm === undefined || context.json) {
    throw new CliError(
      EXIT.USAGE,
      'clear removes every entry: pass --yes to confirm (stdin is not a terminal to ask on)',
    );
  }
  if (!(await confirm(`Remove all ${cache.size} entries from ${cache.directory}? [y/N] `))) {
    throw new CliError(EXIT.USAGE, 'clear cancelled; nothing was removed');
  }
}

// ---- check ------------------------------------------------------------------------------------

function warningRows(warnings: readonly CheckWarning[]): string {
  return formatTable(
    warnings.map((warning) => [warning.kind, warning.message]),
    { header: ['problem', 'details'] },
  );
}

/**
 * `check --fix`: one repairing pass, then a verifying one. A repair can leave a parent
 * directory empty (one level per pass, as in diskcache), so passes repeat while only empty
 * directories remain. Returns what the first pass found and what is left.
 */
function checkAndFix(cache: Cache): { found: CheckWarning[]; remaining: CheckWarning[] } {
  const found = cache.check({ fix: true });
  let remaining = cache.check();
  for (
    let pass = 1;
    pass < MAX_FIX_PASSES && remaining.length > 0 && remaining.every((w) => w.kind === 'empty-dir');
    pass++
  ) {
    cache.check({ fix: true });
    remaining = cache.check();
  }
  return { found, remaining };
}

function checkCommand(program: Command, io: CliIo): void {
  program
    .command('check')
    .description('check the database and the value files (exit code 3 when problems are found)')
    .addHelpText(
      'after',
      helpExamples(
        'diskcache -d ./cache check || echo "cache damaged"',
        'diskcache -d ./cache check --fix --json',
      ),
    )
    .option('--fix', 'repair what is found (holds the write lock while it scans)')
    .action(
      action(io, (context) =>
        context.withCache({ create: false }, (cache) => {
          const fix = context.opts<{ fix?: boolean }>().fix === true;
          const { found, remaining } = fix
            ? checkAndFix(cache)
            : { found: cache.check(), remaining: undefined };
          const problems = remaining ?? found;
          context.print(
            {
              ok: problems.length === 0,
              fixed: fix,
              warnings: found,
              ...(fix ? { remaining } : {}),
            },
            () => {
              if (found.length === 0) return 'no problems found';
              const head = `${found.length} problem${found.length === 1 ? '' : 's'} found${fix ? ' and repaired' : ''}:\n`;
              const tail =
                remaining && remaining.length > 0
                  ? `\nstill there after --fix:\n${warningRows(remaining)}`
                  : '';
              return head + warningRows(found) + tail;
            },
          );
          if (problems.length > 0) {
            const message = fix
              ? `${problems.length} problems remain after --fix`
              : `${problems.length} problems found (run check --fix to repair)`;
            throw new CliError(EXIT.CHECK_PROBLEMS, message, {
              details: { problems: problems.length },
            });
          }
        }),
      ),
    );
}

/** Registers the cache commands on the root program (a command group: see program.ts). */
export function registerCacheCommands(program: Command, io: CliIo): void {
  for (const register of [
    statsCommand,
    keysCommand,
    getCommand,
    setCommand,
    deleteCommand,
    expireCommand,
    evictCommand,
    cullCommand,
    clearCommand,
    checkCommand,
  ]) {
    register(program, io);
  }
}
