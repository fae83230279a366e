/**
 * A WorkQueue's results as pickle (`disk: PickleDisk`): the choice is persisted, so a worker
 * process that opens the queue without options writes pickle too, and Python's
 * `diskcache.Index(dir + '/results')` reads every result as plain Python data. The crawler stores
 * its records that way by default (`pickle: false` / `--no-pickle` to opt out).
 */
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Disk, PickleDisk } from '../../src/cache/disk.js';
import { DatabaseError } from '../../src/cache/errors.js';
import { WorkQueue } from '../../src/collections/work-queue.js';
import { crawl } from '../../src/crawler/crawl.js';
import { type DemoSite, startDemoSite } from '../../src/crawler/demo-site.js';
import { runChildren } from '../helpers/children.js';
import { findPython, pythonTitle, runPython } from '../helpers/python.js';
import { tempDir } from '../helpers/tmp.js';

/** Python's view of a results Index, as JSON (with the Python type of each value). */
function pythonResults(directory: string): Record<string, { type: string; value: unknown }> {
  const out = runPython(
    [
      'import json, sys, diskcache',
      "index = diskcache.Index(sys.argv[1] + '/results')",
      'print(json.dumps({str(k): {"type": type(v).__name__, "value": v} for k, v in index.items()}))',
    ].join('\n'),
    [directory],
  );
  return JSON.parse(out) as Record<string, { type: string; value: unknown }>;
}

describe('WorkQueue results format (disk option)', () => {
  it('persists disk: PickleDisk, so a later opener without options writes pickle', () => {
    const directory = tempDir('queue-pickle');
    new WorkQueue(directory, { disk: PickleDisk }).close();
    const queue = new WorkQueue(directory);
    expect(queue.settings.resultsFormat).toBe('pickle');
    queue.put({ n: 1 }, { key: 'a' });
    queue.take()!.ack({ ok: true, list: [1, null] });
    expect(queue.results.get('a')).toEqual({ ok: true, list: [1, null] });
    // A value pickle cannot carry fails the ack with the TypeError, and the job stays leased.
    queue.put(2, { key: 'b' });
    const job = queue.take()!;
    expect(() => job.ack({ when: new Date(0) })).toThrow(/a Date cannot be pickled/);
    expect(queue.stats()).toMatchObject({ leased: 1, done: 1 });
    queue.close();
    // Disk switches back (and is persisted too); both formats stay readable.
    const again = new WorkQueue(directory, { disk: Disk });
    expect(again.settings.resultsFormat).toBe('default');
    again.close();
  });

  it('refuses a disk other than Disk or PickleDisk, and a corrupt stored format', () => {
    const directory = tempDir('queue-pickle-bad');
    class MyDisk extends Disk {}
    expect(() => new WorkQueue(directory, { disk: MyDisk })).toThrow(
      /disk must be Disk or PickleDisk/,
    );
    expect(() => new WorkQueue(directory, { disk: 'pickle' as never })).toThrow(TypeError);
    new WorkQueue(directory).close();
    // A foreign writer stores a format this version does not know.
    const raw = new Database(path.join(directory, 'cache.db'));
    raw
      .prepare(
        "INSERT OR REPLACE INTO WorkQueue_settings (key, value) VALUES ('results_format', 'xml')",
      )
      .run();
    raw.close();
    expect(() => new WorkQueue(directory)).toThrow(DatabaseError);
    expect(() => new WorkQueue(directory)).toThrow(/results_format is "xml"/);
  });
});

describe.skipIf(!findPython())(pythonTitle(`WorkQueue results read by Python`), () => {
  it('results acked by worker processes are plain Python data', async () => {
    const directory = tempDir('queue-pickle-python');
    const queue = new WorkQueue<number>(directory, { disk: PickleDisk });
    queue.putMany([1, 2, 3, 4, 5, 6], { key: (n) => `job-${n}` });
    queue.close();
    // queue-drain.ts opens the queue with no options and acks {pid, payload}.
    await runChildren('queue-drain.ts', [
      [directory, '1'],
      [directory, '3'],
    ]);
    const results = pythonResults(directory);
    expect(Object.keys(results).sort()).toEqual([1, 2, 3, 4, 5, 6].map((n) => `job-${n}`));
    for (const [key, { type, value }] of Object.entries(results)) {
      expect(type).toBe('dict');
      expect((value as { payload: number }).payload).toBe(Number(key.slice(4)));
    }
  });

  describe('crawl records', () => {
    let site: DemoSite;
    beforeAll(async () => {
      site = await startDemoSite({ pages: 40, seed: 5 });
    });
    afterAll(() => site.close());

    it('are dicts in Python by default, and v8 values with pickle: false', async () => {
      const directory = tempDir('crawl-pickle');
      const summary = await crawl({
        startUrl: site.url,
        directory,
        processes: 1,
        concurrency: 4,
      });
      expect(summary.reason).toBe('drained');
      const records = pythonResults(directory);
      const values = Object.values(records);
      expect(values.length).toBe(summary.pages);
      expect(values.every(({ type }) => type === 'dict')).toBe(true);
      const start = records[site.url]!.value as Record<string, unknown>;
      expect(start).toMatchObject({ url: site.url, status: 200, depth: 0 });
      expect(Array.isArray(start.outlinks)).toBe(true);

      const plain = tempDir('crawl-no-pickle');
      await crawl({ startUrl: site.url, directory: plain, processes: 1, pickle: false });
      expect(() => pythonResults(plain)).toThrow();
      await expect(
        crawl({ startUrl: site.url, directory: plain, pickle: 'yes' as never }),
      ).rejects.toThrow(/pickle must be a boolean/);
    });
  });
});
