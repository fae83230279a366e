/**
 * redis-handle: what every Redis collection and recipe object shares — the target (a
 * `redis://…#name` locator, whose client this object makes and closes, or `{client, name}`, a
 * client the caller owns), the lazy connection, the scripts run against one key prefix (every key
 * of the object carries the `{name}` hash tag, so one slot on Redis Cluster), and waiting for a
 * pub/sub wake-up with bounded polling. One subscriber connection per client serves every object
 * on it (a hub, reference-counted: the last `close()` drops it; a channel stays subscribed until
 * then, one per deque or lock that waited). This file knows no collection.
 */
import { abortError } from '../cache/waiting.js';
import { COLLECTION_SCRIPTS, type CollectionScriptName } from './collection-scripts.js';
import {
  checkQueueName,
  connectRedis,
  parseRedisLocator,
  type RedisLike,
  redacted,
  ScriptRunner,
} from './redis-client.js';

/** A Redis object on a client you own (it is not closed by `close()`). */
export interface RedisTarget {
  readonly client: RedisLike;
  /** The object's name: its keys are `<kind prefix>:{name}:…`. */
  readonly name: string;
}

/** A resolved target: the name, the locator, and how to get the client. */
export interface ResolvedTarget {
  readonly name: string;
  readonly locator: string;
  /** Whether this object made the client (and so closes it). */
  readonly ownsClient: boolean;
  readonly connect: () => Promise<RedisLike>;
}

/**
 * Resolves a `redis://…#name` locator (a new ioredis client, made at the first `connect`) or
 * `{client, name}` (the caller's client). `kind` names the object in messages.
 * @throws TypeError / RangeError for a bad locator or name.
 */
export function resolveTarget(kind: string, target: string | RedisTarget): ResolvedTarget {
  if (typeof target === 'string') {
    const parsed = parseRedisLocator(target);
    return {
      name: parsed.name,
      locator: target,
      ownsClient: true,
      connect: () => connectRedis(parsed.url),
    };
  }
  if (target === null || typeof target !== 'object' || target.client === undefined)
    throw new TypeError(
      `${kind}: expected a redis://host:6379/0#name locator or {client, name}, got ${String(target)}`,
    );
  const name = checkQueueName(target.name);
  const client = target.client;
  return {
    name,
    locator: `redis://#${encodeURIComponent(name)}`,
    ownsClient: false,
    connect: async () => client,
  };
}

/** How long `close()` lets QUIT wait before dropping the connection. */
const CLOSE_WAIT_MS = 1000;

/** QUITs `client`, dropping the connection when the server does not answer within a second. */
export async function quitClient(client: RedisLike): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), CLOSE_WAIT_MS);
  });
  const quitted = await Promise.race([client.quit().catch(() => 'late' as const), late]);
  clearTimeout(timer);
  if (quitted === 'late') client.disconnect();
}

/** The subscriber connection of one client: channel -> the wake-ups waiting on it. */
class WakeHub {
  readonly #client: RedisLike;
  readonly #channels = new Map<string, Set<() => void>>();
  #subscriber: RedisLike | undefined;
  readonly #subscribed = new Map<string, Promise<void>>();
  users = 0;

  constructor(client: RedisLike) {
    this.#client = client;
  }

  /** Subscribes to `channel` (once); rejects when the server refuses pub/sub. */
  subscribe(channel: string): Promise<void> {
    let done = this.#subscribed.get(channel);
    if (done === undefined) {
      if (this.#subscriber === undefined) {
        const subscriber = this.#client.duplicate();
        subscriber.on('error', () => {});
        subscriber.on('message', (name: string) => {
          for (const wake of [...(this.#channels.get(name) ?? [])]) wake();
        });
        this.#subscriber = subscriber;
      }
      done = this.#subscriber.subscribe(channel).then(
        () => undefined,
        (error: unknown) => {
          this.#subscribed.delete(channel); // try again at the next wait
          throw error;
        },
      );
      this.#subscribed.set(channel, done);
    }
    return done;
  }

  /** Registers a wake-up on `channel` now; returns its removal. */
  listen(channel: string, wake: () => void): () => void {
    let set = this.#channels.get(channel);
    if (set === undefined) {
      set = new Set();
      this.#channels.set(channel, set);
    }
    set.add(wake);
    return () => {
      set.delete(wake);
    };
  }

  /** Wakes every waiter (at close) and drops the subscriber connection. */
  close(): void {
    for (const set of this.#channels.values()) for (const wake of [...set]) wake();
    this.#channels.clear();
    this.#subscriber?.disconnect();
    this.#subscriber = undefined;
    this.#subscribed.clear();
  }
}

const hubs = new WeakMap<RedisLike, WakeHub>();

/** A wake-up registered before a look, so that a publish between the look and the sleep counts. */
export interface WakeUp {
  /** Sleeps until the wake-up fires, `ms` pass, or `signal` aborts (AbortError). */
  wait(ms: number, signal?: AbortSignal): Promise<void>;
  cancel(): void;
}

/**
 * A wake-up registered now through `register` (which returns its removal): `wait` sleeps until
 * it fires, the time passes, `signal` aborts (AbortError naming `what`), or `done()` is true.
 */
export function wakeUpOn(
  register: (wake: () => void) => () => void,
  what: string,
  done: () => boolean = () => false,
): WakeUp {
  let fired = false;
  let onWake: (() => void) | undefined;
  const cancel = register(() => {
    fired = true;
    onWake?.();
  });
  const wait = (ms: number, signal?: AbortSignal) =>
    new Promise<void>((resolve, reject) => {
      if (fired || done()) return resolve(void cancel());
      if (signal?.aborted) return reject(abortError(signal, what));
      const finish = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        cancel();
      };
      const onAbort = () => {
        finish();
        reject(abortError(signal!, what));
      };
      onWake = () => {
        finish();
        resolve();
      };
      const timer = setTimeout(onWake, Math.max(0, ms));
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  return { wait, cancel };
}

/** One Redis object's connection: its name, key prefix, scripts and wake-ups. */
export class RedisHandle {
  readonly name: string;
  readonly locator: string;
  /** The prefix of every key of the object: `<kind>:{name}:`. */
  readonly prefix: string;
  readonly #what: string;
  readonly #ownsClient: boolean;
  readonly #connect: () => Promise<RedisLike>;
  #connecting: Promise<RedisLike> | undefined;
  #scripts: ScriptRunner | undefined;
  #hub: WakeHub | undefined;
  #closed = false;

  /**
   * @param kind names the object in messages (`RedisDeque`).
   * @param keyKind the first part of every key (`dd` → `dd:{name}:…`).
   * @throws TypeError / RangeError for a bad locator or name.
   */
  constructor(kind: string, keyKind: string, target: string | RedisTarget) {
    const resolved = resolveTarget(`new ${kind}()`, target);
    this.name = resolved.name;
    this.locator = resolved.locator;
    this.#ownsClient = resolved.ownsClient;
    this.#connect = resolved.connect;
    this.prefix = `${keyKind}:{${this.name}}:`;
    this.#what = `${kind} ${redacted(this.locator)}`;
  }

  get closed(): boolean {
    return this.#closed;
  }

  async #client(): Promise<RedisLike> {
    if (this.#closed) throw new Error(`${this.#what} is closed`);
    this.#connecting ??= this.#connect().catch((error: unknown) => {
      this.#connecting = undefined; // the next call tries again
      throw error;
    });
    return this.#connecting;
  }

  /** Runs `script` (EVALSHA, EVAL after a server restart) with the prefix as KEYS[1]. */
  async run(script: string, args: (string | number)[]): Promise<unknown> {
    const client = await this.#client();
    this.#scripts ??= new ScriptRunner(client, this.prefix);
    return this.#scripts.run(script, args);
  }

  /**
   * Registers a wake-up on the channel `prefix + suffix` before the caller looks; subscribes on
   * first use. A client without pub/sub still works: the wait is then a poll.
   */
  async wakeUp(suffix: string): Promise<WakeUp> {
    const client = await this.#client();
    let hub = this.#hub;
    if (hub === undefined) {
      hub = hubs.get(client);
      if (hub === undefined) {
        hub = new WakeHub(client);
        hubs.set(client, hub);
      }
      hub.users += 1;
      this.#hub = hub;
    }
    const channel = this.prefix + suffix;
    try {
      await hub.subscribe(channel);
    } catch {
      // No pub/sub (a proxy that refuses SUBSCRIBE): polling alone still works.
    }
    const closed = () => this.#closed;
    return wakeUpOn((wake) => hub.listen(channel, wake), `${this.#what}: the wait`, closed);
  }

  /**
   * Stops the wake-ups of this object (the shared subscriber goes with the last user of the
   * client) and closes the connection if this object made it.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const hub = this.#hub;
    this.#hub = undefined;
    const client = await this.#connecting?.catch(() => undefined);
    if (hub !== undefined && --hub.users === 0) {
      hub.close();
      if (client !== undefined && hubs.get(client) === hub) hubs.delete(client);
    }
    if (this.#ownsClient && client !== undefined) await quitClient(client);
  }
}

/**
 * The base of RedisDeque, RedisIndex, RedisLock and RedisThrottle: a handle on `<keyKind>:{name}:`
 * keys, running the collection scripts, and `close()`.
 */
export abstract class RedisObject {
  protected readonly handle: RedisHandle;

  constructor(kind: string, keyKind: string, target: string | RedisTarget) {
    this.handle = new RedisHandle(kind, keyKind, target);
  }

  /** The object's name (the locator's `#fragment`). */
  get name(): string {
    return this.handle.name;
  }

  /** The prefix of its keys: `<kind>:{name}:`. */
  get keyPrefix(): string {
    return this.handle.prefix;
  }

  protected script(name: CollectionScriptName, args: (string | number)[]): Promise<unknown> {
    return this.handle.run(COLLECTION_SCRIPTS[name], args);
  }

  /** Closes the connection if this object made it (a client you passed in stays open). */
  close(): Promise<void> {
    return this.handle.close();
  }

  /** `close()`, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
