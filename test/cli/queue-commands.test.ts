/**
 * `diskcache queue stats|put|failed|retry-failed` as real processes: text and --json output,
 * idempotent puts, stdin, and the refusal to create a queue where a command only reads.
 */
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { WorkQueue } from '../../src/collections/work-queue.js';
import { tempDir } from '../helpers/tmp.js';
import { type CliResult, runCli } from './run-cli.js';

/** `diskcache ...args` with `input` (or nothing) on its stdin. */
function cli(args: string[], input?: string): Promise<CliResult> {
  return runCli(args, { input: input ?? '' });
}

describe('diskcache queue', () => {
  it('put adds jobs (strings, or JSON with --json-payload) and stats counts them', async () => {
    const directory = path.join(tempDir('cli-queue'), 'jobs');
    expect(await cli(['queue', 'put', directory, 'a.txt', 'b.txt'])).toMatchObject({
      code: 0,
      stdout: 'queued 2 jobs\n',
    });
    const json = await cli([
      '--json',
      'queue',
      'put',
      directory,
      '{"n": 1}',
      '--json-payload',
      '--delay',
      '60',
    ]);
    expect(JSON.parse(json.stdout)).toEqual({ directory, queued: [3], ignored: 0 });
    const stats = await cli(['queue', 'stats', directory]);
    expect(stats.stdout).toMatch(/^pending +3$/m);
    expect(stats.stdout).toMatch(/^maxAttempts +3$/m);
    expect(JSON.parse((await cli(['--json', 'queue', 'stats', directory])).stdout)).toMatchObject({
      pending: 3,
      leased: 0,
      done: 0,
      failed: 0,
    });
    const queue = new WorkQueue(directory);
    expect(queue.takeMany(10).map((job) => job.payload)).toEqual(['a.txt', 'b.txt']);
    queue.close();
  });

  it('put --unique and --key make puts idempotent; --stdin reads one payload per line', async () => {
    const directory = tempDir('cli-queue-keys');
    expect(
      (await cli(['queue', 'put', directory, '--stdin', '--unique'], 'x\ny\n\nx\n')).stdout,
    ).toBe('queued 2 jobs (1 already queued under the same key, ignored)\n');
    expect((await cli(['queue', 'put', directory, 'y', '--unique'])).stdout).toMatch(
      /^queued 0 jobs \(1 already/,
    );
    expect((await cli(['queue', 'put', directory, 'payload', '--key', 'k1'])).stdout).toBe(
      'queued 1 job\n',
    );
    expect((await cli(['queue', 'put', directory, 'other', '--key', 'k1'])).stdout).toMatch(
      /^queued 0 jobs/,
    );
    const both = await cli(['queue', 'put', directory, 'a', 'b', '--key', 'k2']);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--key applies to exactly one payload/);
    expect((await cli(['queue', 'put', directory])).code).toBe(2);
    expect((await cli(['queue', 'put', directory, '{bad', '--json-payload'])).stderr).toMatch(
      /is not valid JSON/,
    );
  });

  it('failed lists the failed jobs and retry-failed moves them back to pending', async () => {
    const directory = tempDir('cli-queue-failed');
    const queue = new WorkQueue<{ file: string }>(directory, { maxAttempts: 1 });
    queue.put({ file: 'broken.txt' }, { key: 'broken.txt' });
    queue.take()!.fail(new Error('cannot read broken.txt\n    at somewhere'));
    const listed = await cli(['queue', 'failed', directory]);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^id +key +attempts +failed at +error +payload$/m);
    expect(listed.stdout).toMatch(
      /^ *1 +broken\.txt +1 +\S+ \(\d+ s ago\) +Error: cannot read broken\.txt +\{ file: 'broken\.txt' \}$/m,
    );
    const [job] = JSON.parse((await cli(['--json', 'queue', 'failed', directory])).stdout) as {
      id: number;
      error: string;
      payload: unknown;
    }[];
    expect(job).toMatchObject({
      id: 1,
      key: 'broken.txt',
      attempts: 1,
      payload: { file: 'broken.txt' },
    });
    expect(job!.error).toMatch(/^Error: cannot read broken.txt\n {4}at somewhere/);
    expect((await cli(['queue', 'retry-failed', directory])).stdout).toBe(
      'moved 1 failed job back to pending\n',
    );
    expect((await cli(['queue', 'failed', directory])).stdout).toBe('no failed jobs\n');
    expect(queue.stats()).toMatchObject({ pending: 1, failed: 0 });
    queue.close();
  });

  it('refuses to read a directory that holds no work queue, and creates nothing', async () => {
    const parent = tempDir('cli-queue-none');
    const missing = path.join(parent, 'missing');
    const result = await cli(['queue', 'stats', missing]);
    expect(result.code).toBe(5);
    expect(result.stderr).toMatch(/work queue directory .*missing does not exist/);
    await cli(['-d', parent, 'set', 'k', 'v']);
    const plainCache = await cli(['queue', 'failed', parent]);
    expect(plainCache.code).toBe(5);
    expect(plainCache.stderr).toMatch(/is not a work queue/);
    expect((await cli(['-d', parent, 'queue', 'retry-failed'])).code).toBe(5);
  });
});
