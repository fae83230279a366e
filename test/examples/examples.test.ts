/**
 * Every runnable example in examples/ is smoke-tested: it must finish on its own with exit code 0.
 * An example that needs arguments or a longer run is listed in SPECIAL with how to run it here.
 * Examples run from their transpiled copy with plain node where they can (see exampleEntry),
 * three at a time.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import PQueue from 'p-queue';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { findRedisServer, RedisServer } from '../helpers/redis-server.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const examplesDir = path.join(root, 'examples');

/** Examples run with extra arguments or environment; `skip` names the test that covers it instead. */
const SPECIAL: Record<string, { args?: string[]; env?: Record<string, string>; skip?: string }> = {
  // Run with a folder to hash and a kept queue directory, stopped and resumed, by its own test.
  'resumable-hash.ts': { skip: 'test/runner/resumable-hash-example.test.ts' },
};

/** One example per usage pattern of python-diskcache's description (and this library's additions). */
const USAGE_PATTERNS: Record<string, string> = {
  'basic operations': 'basic-operations.ts',
  memoize: 'memoize.ts',
  'stampede-safe memoize': 'memoize-stampede.ts',
  'stampede-safe memoize across processes': 'stampede-http.ts',
  FanoutCache: 'fanout-cache.ts',
  'tags and evict': 'tags-and-evict.ts',
  'an Index as a result store': 'result-store-index.ts',
  'a framework cache through the Keyv adapter': 'keyv-framework-cache.ts',
  'custom serialization with a compressing Disk': 'compressing-disk.ts',
  'cross-process lock': 'cross-process-lock.ts',
  throttle: 'throttle-api-client.ts',
  'a work queue on a Deque': 'work-queue-deque.ts',
  'a resumable WorkQueue run by worker processes': 'resumable-hash.ts',
  'a RedisDeque and a RedisIndex shared by machines': 'redis-deque-index.ts',
  'a RedisLock and a RedisThrottle shared by machines': 'redis-lock-throttle.ts',
  'a crawl from several machines on Redis': 'redis-crawl.ts',
};

/** Examples named `redis-*.ts` run against a redis-server this file starts (REDIS_URL). */
const isRedisExample = (file: string) => file.startsWith('redis-');
let redis: RedisServer | undefined;

const examples = fs
  .readdirSync(examplesDir)
  .filter(
    (file) =>
      file.endsWith('.ts') &&
      !file.endsWith('.d.ts') &&
      !file.includes('.handler.') &&
      !file.endsWith('-handler.ts'),
  )
  .sort();

describe('examples', () => {
  beforeAll(async () => {
    if (findRedisServer() !== null) redis = await RedisServer.start();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('there are examples to run', () => {
    expect(examples.length).toBeGreaterThan(3);
  });

  it('every usage pattern has its example', () => {
    for (const [pattern, file] of Object.entries(USAGE_PATTERNS))
      expect(examples, `${pattern}: examples/${file}`).toContain(file);
  });

  it('every example covered elsewhere names a test file that exists', () => {
    for (const { skip } of Object.values(SPECIAL)) {
      if (skip) expect(fs.existsSync(path.join(root, skip)), skip).toBe(true);
    }
  });

  // Examples covered by their own test (SPECIAL[file].skip) are not run twice. Three run at a time:
  // most of an example's time is waiting (timers, child processes, servers), not CPU.
  const slots = new PQueue({ concurrency: 3 });
  for (const file of examples.filter((name) => !SPECIAL[name]?.skip)) {
    const special = SPECIAL[file] ?? {};
    const needsRedis = isRedisExample(file) && findRedisServer() === null;
    (needsRedis ? it.skip : it.concurrent)(
      `${file} runs to completion${needsRedis ? ' (skipped: no redis-server)' : ''}`,
      async () => {
        const redisEnv: Record<string, string> = isRedisExample(file)
          ? { REDIS_URL: `redis://127.0.0.1:${redis!.port}/0` }
          : {};
        const result = await slots.add(() =>
          runExample(file, special.args ?? [], { ...special.env, ...redisEnv }),
        );
        if (result.status !== 0) {
          throw new Error(
            `${file} exited with ${result.status}\n${result.stdout}\n${result.stderr}`,
          );
        }
        expect(result.status).toBe(0);
      },
      120_000,
    );
  }
});

/**
 * How node runs an example: its transpiled copy from this run's globalSetup with plain node (its
 * forked children inherit that), unless it names a file beside it (a `.ts` handler module, a
 * Python script), which only its own directory has: then the source, through tsx.
 */
function exampleEntry(file: string): string[] {
  const build = inject('fixtureBuild');
  const compiled = build && path.join(build, 'examples', file.replace(/\.ts$/, '.js'));
  const source = fs.readFileSync(path.join(examplesDir, file), 'utf8');
  const namesSibling = /['"][\w-]+\.(ts|py)['"]/.test(source);
  return compiled && !namesSibling && fs.existsSync(compiled)
    ? [compiled]
    : ['--import', 'tsx', path.join(examplesDir, file)];
}

/** Runs one example; its exit code (or signal name) and output. */
function runExample(
  file: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ status: number | string; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...exampleEntry(file), ...args], {
      cwd: root,
      env: { ...process.env, ...env, CI: 'true' },
      timeout: 90_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolve({ status: code ?? signal ?? 'unknown', stdout, stderr }),
    );
  });
}
