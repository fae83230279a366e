/**
 * cull: keeping a cache within its limits, as diskcache's `_cull` does — after a write, up to
 * `cullLimit` expired entries go, then entries in eviction-policy order while the volume is over
 * `sizeLimit`. Reading the volume (page count and file sizes) on every write would cost more than
 * the write's own statement, so the Culler reads it every VOLUME_CHECK_INTERVAL inline writes of
 * its Cache object, and on every one once it is within 10% of the limit. An inline value is under
 * `minFileSize`, so a cache can overshoot by at most that many small values per process; writes of
 * values in files always check (in `cull`). It runs statements; it never opens transactions of
 * its own except through the Transactor.
 */
import { Timeout } from './errors.js';
import type { Policy } from './eviction.js';
import type { CacheStatements } from './statements.js';
import type { Transactor } from './transaction.js';

/** Inline writes between two reads of the volume while it is well below `sizeLimit`. */
const VOLUME_CHECK_INTERVAL = 64;

/** The settings that shape culling (refreshed whenever a setting changes). */
export interface CullSettings {
  readonly statements: CacheStatements;
  readonly policy: Policy;
  /** Bytes. */
  readonly sizeLimit: number;
  /** Most entries removed by one write; 0 turns culling on write off. */
  readonly cullLimit: number;
}

/** One Cache object's culling. */
export class Culler {
  readonly #tx: Transactor;
  readonly #pageSize: number;
  #settings!: CullSettings;
  /** The volume last read by `overSizeLimit`, and inline writes since (the first write reads it). */
  #lastVolume = 0;
  #writesSinceVolume = VOLUME_CHECK_INTERVAL;

  constructor(tx: Transactor, pageSize: number, settings: CullSettings) {
    this.#tx = tx;
    this.#pageSize = pageSize;
    this.configure(settings);
  }

  /** Takes new settings; the next write reads the volume again. */
  configure(settings: CullSettings): void {
    this.#settings = settings;
    this.#writesSinceVolume = VOLUME_CHECK_INTERVAL;
  }

  /** Bytes on disk: database pages plus value files (the WAL file is not counted). */
  volume(): number {
    const [pages, fileBytes] = this.#settings.statements.volume.get()!;
    return pages * this.#pageSize + Number(fileBytes);
  }

  /** Whether `volume()` reached `sizeLimit`, read as often as the header comment says. */
  #overSizeLimit(): boolean {
    const { policy, sizeLimit } = this.#settings;
    if (policy.order === null) return false;
    if (++this.#writesSinceVolume >= VOLUME_CHECK_INTERVAL || this.#lastVolume >= sizeLimit * 0.9) {
      this.#writesSinceVolume = 0;
      this.#lastVolume = this.volume();
    }
    return this.#lastVolume >= sizeLimit;
  }

  /** diskcache's `_cull`, inside the open transaction: up to cullLimit expired entries, then by policy. */
  cull(now: number): void {
    const { statements, sizeLimit } = this.#settings;
    let limit = this.#settings.cullLimit;
    if (limit === 0) return;
    const expired = statements.cullExpired.all(now, limit);
    for (const file of expired) this.#tx.removeLater(file);
    limit -= expired.length;
    if (limit <= 0 || statements.cullPolicy === null || this.volume() < sizeLimit) return;
    for (const file of statements.cullPolicy.all(limit)) this.#tx.removeLater(file);
  }

  /**
   * After an inline write that committed: culls (in a transaction of its own) when the write
   * reported an expired entry (`minExpireTime` before `now`) or the volume is over the limit.
   */
  cullAfter(minExpireTime: number | null, now: number): void {
    if (this.#settings.cullLimit === 0) return;
    const expired = minExpireTime !== null && minExpireTime < now;
    if (!expired && !this.#overSizeLimit()) return;
    if (this.#tx.active) {
      this.cull(now);
      return;
    }
    try {
      this.#tx.write(false, null, () => this.cull(now));
    } catch (error) {
      // The write itself committed; the limit is soft and the next write culls again.
      if (!(error instanceof Timeout)) throw error;
    }
  }
}
