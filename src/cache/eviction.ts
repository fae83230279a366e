/**
 * eviction: diskcache's four eviction policies as SQL fragments. `init` creates the policy's
 * index, `access` is the SET clause applied on a hit (and by incr on a live key), `order` is the
 * column that orders culling. Fragments are fixed strings: nothing here is built from user input.
 */
import type { EvictionPolicy } from './types.js';

export interface Policy {
  readonly init: string | null;
  /** SET clause run on a hit; `?` is bound to now. */
  readonly access: string | null;
  /** Cull order; null means the policy never culls by size. */
  readonly order: string | null;
}

export const POLICIES: Readonly<Record<EvictionPolicy, Policy>> = Object.freeze({
  none: { init: null, access: null, order: null },
  'least-recently-stored': {
    init: 'CREATE INDEX IF NOT EXISTS Cache_store_time ON Cache (store_time)',
    access: null,
    order: 'store_time',
  },
  'least-recently-used': {
    init: 'CREATE INDEX IF NOT EXISTS Cache_access_time ON Cache (access_time)',
    access: 'access_time = ?',
    order: 'access_time',
  },
  'least-frequently-used': {
    init: 'CREATE INDEX IF NOT EXISTS Cache_access_count ON Cache (access_count)',
    access: 'access_count = access_count + 1 + 0 * ?',
    order: 'access_count',
  },
});
