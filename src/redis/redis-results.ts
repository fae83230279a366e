/**
 * redis-results: the results map of a RedisWorkQueue (AsyncResults): a hash field -> value plus a
 * zset field -> insertion number, so that iteration follows insertion order and pages by score
 * (entries removed meanwhile are skipped, none is visited twice). Acks write results inside their
 * own script (scripts.ts); this file serves reads and direct writes through the queue's scripts.
 */
import type { AsyncResults, ResultKey } from '../collections/async-work-queue.js';
import { decodeValue, encodeValue, resultField, resultKey } from './redis-codec.js';
import type { MapScriptName } from './scripts.js';

/** Results read per page by `keys()` and `entries()`. */
const RESULT_PAGE = 500;

/** Runs one of the map scripts (connecting first). */
export type RunScript = (name: MapScriptName, args: (string | number)[]) => Promise<unknown>;

/** The results map on top of a script runner (the queue's, or a RedisIndex's). */
export function redisResults(run: RunScript): AsyncResults {
  async function* page(withValues: boolean): AsyncGenerator<[ResultKey, unknown]> {
    let after = '0';
    for (;;) {
      const out = (await run('resultPage', [after, RESULT_PAGE, withValues ? '1' : '0'])) as (
        | string
        | null
      )[];
      const step = withValues ? 3 : 2;
      for (let i = 0; i < out.length; i += step) {
        after = out[i + 1]!;
        // A value deleted between the page and its read is skipped.
        if (withValues && out[i + 2] === null) continue;
        yield [resultKey(out[i]!), withValues ? decodeValue(out[i + 2]) : undefined];
      }
      if (out.length < RESULT_PAGE * step) return;
    }
  }
  return {
    get: async (key) => {
      const stored = await run('resultRead', ['get', resultField(key)]);
      return stored === null ? undefined : decodeValue(stored);
    },
    has: async (key) => (await run('resultRead', ['has', resultField(key)])) === 1,
    set: async (key, value) => {
      const field = resultField(key);
      await run('resultSet', [field, encodeValue(value)]);
    },
    delete: async (key) => (await run('resultDelete', [resultField(key)])) === 1,
    size: async () => (await run('resultRead', ['size'])) as number,
    keys: async function* () {
      for await (const [key] of page(false)) yield key;
    },
    entries: () => page(true),
  };
}
