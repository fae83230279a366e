/**
 * Child process of the recipes benchmarks (locks.bench.ts, stampede.bench.ts), forked with tsx.
 * `lock <dir> <kind> <seconds>`: after 'go', acquires and releases one shared lock in a loop for
 * that long and reports every acquire+release latency. `stampede <contender> <dir> <loaderMs>`: for
 * each {key} message, 50 concurrent callers ask one memoized loader for that cold key; reports the
 * callers' latencies and how many distinct values they got. It measures; it asserts nothing.
 */
import { BoundedSemaphore, Cache, Lock, memoizeStampede, RLock } from '../src/index.js';
import { importOptional } from './lib.js';

const [mode, ...rest] = process.argv.slice(2);
const send = (message: unknown) =>
  new Promise<void>((resolve) => process.send!(message, () => resolve()));
const nextMessage = <T>() => new Promise<T>((resolve) => process.once('message', resolve));

async function lockLoop(directory: string, kind: string, seconds: number): Promise<void> {
  const cache = new Cache(directory);
  const lock =
    kind === 'rlock'
      ? new RLock(cache, 'bench-lock', { expire: 60 })
      : kind === 'semaphore'
        ? new BoundedSemaphore(cache, 'bench-lock', { value: 1, expire: 60 })
        : new Lock(cache, 'bench-lock', { expire: 60 });
  await send('ready');
  await nextMessage();
  const samples: number[] = [];
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    const start = process.hrtime.bigint();
    await lock.acquire();
    lock.release();
    samples.push(Number(process.hrtime.bigint() - start));
  }
  await send({ samples });
  cache.close();
}

type Loader = (key: string) => Promise<string>;

/** The part of cache-manager 7's cache used here. */
interface CacheManager {
  wrap<T>(key: string, fn: () => Promise<T>, ttlMs: number): Promise<T>;
  disconnect(): Promise<unknown>;
}

async function stampede(contender: string, directory: string, loaderMs: number): Promise<void> {
  const counter = new Cache(`${directory}/counter`); // the same run counter for every contender
  const slow = async function loader(key: string): Promise<string> {
    counter.incr('runs', 1, { retry: true });
    await new Promise((resolve) => setTimeout(resolve, loaderMs));
    return `${key} by ${process.pid}`;
  };
  let load: Loader;
  let close = () => {};
  if (contender === 'memoizeStampede' || contender === 'cache.memoize') {
    const cache = new Cache(`${directory}/diskcache`);
    load =
      contender === 'memoizeStampede'
        ? memoizeStampede(cache, { expire: 600 })(slow)
        : cache.memoize({ expire: 600 })(slow);
    close = () => cache.close();
  } else {
    // Types written out here: type-checking the repository must not need bench's dependencies.
    const cm = await importOptional<{ createCache(options: { stores: unknown[] }): CacheManager }>(
      'cache-manager',
    );
    const keyv = await importOptional<{ default: new (options: { store: unknown }) => unknown }>(
      'keyv',
    );
    const sqlite = await importOptional<{
      default: new (options: { uri: string; busyTimeout: number }) => unknown;
    }>('@keyv/sqlite');
    if ('missing' in cm || 'missing' in keyv || 'missing' in sqlite)
      throw new Error('cache-manager, keyv or @keyv/sqlite missing');
    const store = new sqlite.module.default({
      uri: `sqlite://${directory}/keyv.sqlite`,
      busyTimeout: 30_000,
    });
    const manager = cm.module.createCache({ stores: [new keyv.module.default({ store })] });
    load = (key: string) => manager.wrap(key, () => slow(key), 600_000);
    close = () => void manager.disconnect();
  }
  await send('ready');
  for (;;) {
    const message = await nextMessage<{ key?: string }>();
    if (message.key === undefined) break;
    const key = message.key;
    const latencies: number[] = [];
    const values = await Promise.all(
      Array.from({ length: 50 }, async () => {
        const start = performance.now();
        const value = await load(key);
        latencies.push(performance.now() - start);
        return value;
      }),
    );
    await send({ latencies, distinct: [...new Set(values)] });
  }
  close();
  counter.close();
}

if (mode === 'lock') await lockLoop(rest[0]!, rest[1]!, Number(rest[2]));
else if (mode === 'stampede') await stampede(rest[0]!, rest[1]!, Number(rest[2]));
else throw new Error(`recipes-child: unknown mode ${mode}`);
process.disconnect();
