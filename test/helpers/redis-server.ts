/**
 * A real redis-server for tests: each test file starts its own on a free port (never 6379), with
 * its data in a temp directory, and stops it. Where redis-server is not installed the Redis tests
 * skip with how to install it. Usable outside vitest (fixtures, benchmarks) — except in CI (REQUIRE_REDIS=1, set by .ci/run), where that fails.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const CANDIDATES = ['/usr/bin/redis-server', 'redis-server'];
let found: string | null | undefined;

/** The path of redis-server, or null. */
export function findRedisServer(): string | null {
  if (found !== undefined) return found;
  found = null;
  for (const candidate of CANDIDATES) {
    if (spawnSync(candidate, ['--version'], { stdio: 'ignore' }).status === 0) {
      found = candidate;
      break;
    }
  }
  if (found === null && process.env.REQUIRE_REDIS)
    throw new Error('redis-server is required here (REQUIRE_REDIS is set) but is not installed');
  return found;
}

/** Why the Redis tests are skipped. */
export const REDIS_MISSING_REASON =
  'redis-server is not installed: run `apt-get install -y redis-server` to run the Redis tests';

/** A describe title: `title`, plus why it is skipped when redis-server is missing. */
export function redisTitle(title: string): string {
  return findRedisServer() === null ? `${title} (skipped: ${REDIS_MISSING_REASON})` : title;
}

/** A free TCP port on 127.0.0.1 (other than 6379). */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address() as net.AddressInfo;
        server.close(() => resolve(port));
      });
    });
    if (port !== 6379) return port;
  }
}

/** Answers PING over a raw socket (no client library), or throws. */
function ping(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.setTimeout(500);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      socket.destroy();
      if (data.toString().startsWith('+PONG')) resolve();
      else reject(new Error(`unexpected reply ${data.toString()}`));
    });
    socket.once('timeout', () => {
      socket.destroy();
      reject(new Error('timeout'));
    });
    socket.once('error', reject);
  });
}

export interface RedisServerOptions {
  /** Turn the append-only file on (a restart then keeps the data). @default false */
  readonly appendonly?: boolean;
}

/** One redis-server process; `start()` again after `kill()` restarts it on the same port and data. */
export class RedisServer {
  readonly port: number;
  readonly directory: string;
  readonly #options: RedisServerOptions;
  #process: ChildProcess | undefined;

  private constructor(port: number, directory: string, options: RedisServerOptions) {
    this.port = port;
    this.directory = directory;
    this.#options = options;
  }

  /** Starts a new server on a free port in a new temp directory; resolves once it answers PING. */
  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    const server = new RedisServer(
      await freePort(),
      fs.mkdtempSync(path.join(os.tmpdir(), 'ndc-redis-')),
      options,
    );
    await server.start();
    return server;
  }

  /** `redis://127.0.0.1:PORT/0#name`. */
  locator(name: string): string {
    return `redis://127.0.0.1:${this.port}/0#${name}`;
  }

  /** (Re)starts the process and waits for PING (at most 10 s). */
  async start(): Promise<void> {
    const binary = findRedisServer();
    if (binary === null) throw new Error(REDIS_MISSING_REASON);
    const child = spawn(
      binary,
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        this.#options.appendonly ? 'yes' : 'no',
        '--appendfsync',
        'everysec',
        '--dir',
        this.directory,
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    this.#process = child;
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
      try {
        await ping(this.port);
        return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await sleep(20);
      }
    }
  }

  /** SIGKILL (a crash): with appendonly, what was written to the AOF survives a restart. */
  async kill(): Promise<void> {
    const child = this.#process;
    this.#process = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  /** Stops the server for good (SIGKILL: the data is thrown away) and removes its directory. */
  async stop(): Promise<void> {
    await this.kill();
    fs.rmSync(this.directory, { recursive: true, force: true });
  }
}
