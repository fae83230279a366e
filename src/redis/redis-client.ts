/**
 * redis-client: the small seam between RedisWorkQueue and a Redis client, the locator parser, and
 * the one place that loads ioredis (dynamically, so that nothing loads it before a Redis queue is
 * opened). Any client with these few methods works: ioredis, iovalkey. Scripts run by EVALSHA,
 * falling back to EVAL when the server does not know the script (a restarted server forgets them).
 */
/** What RedisWorkQueue needs from a Redis client (ioredis and iovalkey have it). */
export interface RedisLike {
  evalsha(sha: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  /** A new connection with the same options (for the pub/sub subscriber). */
  duplicate(): RedisLike;
  subscribe(channel: string): Promise<unknown>;
  on(event: 'message', listener: (channel: string, message: string) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  quit(): Promise<unknown>;
  disconnect(): void;
}

/** A parsed `redis://…#name` locator. */
export interface RedisLocator {
  /** The URL without its fragment (what the client connects to). */
  readonly url: string;
  /** The queue name (the fragment). */
  readonly name: string;
}

/** Names that cannot break the `{name}` hash tag: no braces, not empty. */
export function checkQueueName(name: unknown): string {
  if (typeof name !== 'string' || name === '')
    throw new TypeError(`the queue name must be a non-empty string, got ${String(name)}`);
  if (/[{}]/.test(name))
    throw new RangeError(`the queue name must not contain { or }, got ${JSON.stringify(name)}`);
  return name;
}

/** The locator without its password, for messages. */
export function redacted(locator: string): string {
  return locator.replace(/^(rediss?:\/\/[^:@/]*:)[^@/]*@/i, '$1***@');
}

/** Whether `locator` names a Redis queue (`redis://` or `rediss://`). */
export function isRedisLocator(locator: string): boolean {
  return /^rediss?:\/\//i.test(locator);
}

/**
 * Parses `redis://[user:password@]host[:port][/db]#name` (`rediss://` for TLS).
 * @throws TypeError when it is not a Redis URL or has no `#name`.
 */
export function parseRedisLocator(locator: string): RedisLocator {
  if (typeof locator !== 'string' || !isRedisLocator(locator))
    throw new TypeError(
      `expected a redis:// or rediss:// locator, got ${redacted(String(locator))}`,
    );
  const hash = locator.indexOf('#');
  if (hash < 0 || hash === locator.length - 1)
    throw new TypeError(
      `a Redis queue locator names its queue after '#': redis://host:6379/0#jobs, got ${redacted(locator)}`,
    );
  let name: string;
  try {
    name = decodeURIComponent(locator.slice(hash + 1));
  } catch {
    throw new TypeError(`the queue name in ${redacted(locator)} is not valid percent-encoding`);
  }
  const url = locator.slice(0, hash);
  try {
    new URL(url);
  } catch (error) {
    throw new TypeError(`not a valid Redis URL: ${redacted(url)}`, { cause: error });
  }
  return { url, name: checkQueueName(name) };
}

/**
 * A new ioredis client for `url`. It reconnects by itself; a command issued while disconnected
 * waits for the reconnection (ioredis's offline queue, rejected after 20 reconnection attempts),
 * and a command in flight when the connection dropped is sent again after it (ioredis's default:
 * with that option off, ioredis 5 leaves such a command's promise pending forever). Every script
 * is safe to run twice except a keyless put, which may then add its job twice, and a take, which
 * may leave jobs leased to nobody until their lease runs out.
 * @throws Error when ioredis is not installed.
 */
export async function connectRedis(url: string): Promise<RedisLike> {
  let Redis: typeof import('ioredis').Redis;
  try {
    const module = await import('ioredis');
    Redis = module.Redis ?? module.default;
  } catch (error) {
    throw new Error(
      'a redis:// queue needs the ioredis package (an optional peer dependency): npm install ioredis',
      { cause: error },
    );
  }
  const client = new Redis(url, {
    // Reconnect quickly and keep trying: a restarted server is back within seconds.
    retryStrategy: (times: number) => Math.min(50 * times, 1000),
  });
  // Errors are reported through the rejected commands (without a listener ioredis logs each one);
  // a connection's are kept to explain ioredis's "max retries" rejection (describeRedisTrouble).
  const server = redacted(url);
  client.on('error', (error: Error) => {
    const trouble = troubles.get(server);
    troubles.delete(server); // re-inserted last: the most recent trouble is the map's last entry
    troubles.set(server, {
      error,
      since: trouble?.since ?? Date.now(),
      attempts: (trouble?.attempts ?? 0) + 1,
    });
  });
  client.on('ready', () => troubles.delete(server));
  return client as unknown as RedisLike;
}

/** Connection errors since the last successful connection, by server (a redacted URL). */
const troubles = new Map<string, { error: Error; since: number; attempts: number }>();

/**
 * What lies behind ioredis's rejection of a command after its reconnection attempts ("Reached the
 * max retries per request limit"): the server, the last connection error and how long it lasted.
 * Undefined for any other error, or when no connection of this process has failed.
 */
export function describeRedisTrouble(
  error: unknown,
): { server: string; reason: string } | undefined {
  if ((error as Error | null)?.name !== 'MaxRetriesPerRequestError') return undefined;
  const last = [...troubles].at(-1);
  if (last === undefined) return undefined;
  const [server, { error: cause, since, attempts }] = last;
  const seconds = ((Date.now() - since) / 1000).toFixed(1);
  return {
    server,
    reason: `${cause.message || cause.name} (${attempts} connection attempts in ${seconds} s)`,
  };
}

/** EVALSHA with a fallback to EVAL (after a restart the server has forgotten the scripts). */
export class ScriptRunner {
  readonly #client: RedisLike;
  readonly #prefix: string;
  readonly #shas = new Map<string, string>();

  constructor(client: RedisLike, prefix: string) {
    this.#client = client;
    this.#prefix = prefix;
  }

  async run(text: string, args: (string | number)[]): Promise<unknown> {
    let sha = this.#shas.get(text);
    if (sha === undefined) {
      // node:crypto loaded here: the crawl's parent imports this module for its locator parser.
      sha = process.getBuiltinModule('node:crypto').createHash('sha1').update(text).digest('hex');
      this.#shas.set(text, sha);
    }
    try {
      return await this.#client.evalsha(sha, 1, this.#prefix, ...args);
    } catch (error) {
      if (!String((error as Error)?.message).startsWith('NOSCRIPT')) throw error;
      return this.#client.eval(text, 1, this.#prefix, ...args);
    }
  }
}
