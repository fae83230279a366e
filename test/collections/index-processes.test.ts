// Index shared by real child processes on one directory: 4 x 5,000 random operations in
// transaction batches, then a consistent state - each child's own keys match its model (order
// included), and the shared keys hold their invariants (no lost increment, one setDefault winner,
// every log push present in push order).
import { describe, expect, it } from 'vitest';
import { Index } from '../../src/index.js';
import { exited, forkFixture, messagesReceived } from '../helpers/children.js';
import { tempDir } from '../helpers/tmp.js';
import { startTogether } from '../recipes/together.js';

interface ChildReport {
  model: [string, number][];
  increments: number;
  pushes: number;
  firsts: unknown[];
  mismatches: number;
}

describe('Index across processes', () => {
  it('4 x 5,000 random operations end in a consistent state', async () => {
    const directory = tempDir('index-processes');
    const ids = ['p0', 'p1', 'p2', 'p3'];
    const seed = Date.now() % 100_000;
    const reports = await startTogether<ChildReport>(
      'collections-index-child.ts',
      ids.map((id, n) => [directory, id, '5000', String(seed + n)]),
    );
    const index = new Index<string, unknown>(directory);
    try {
      const entries = [...index];
      ids.forEach((id, n) => {
        const report = reports[n]!;
        expect(report.mismatches, `child ${id}, seed ${seed + n}`).toBe(0);
        expect(
          entries.filter(([key]) => key.startsWith(`${id}:k`)),
          `child ${id}, seed ${seed + n}`,
        ).toEqual(report.model);
      });
      const increments = reports.reduce((sum, report) => sum + report.increments, 0);
      expect(increments).toBeGreaterThan(0);
      expect(index.get('shared:counter')).toBe(increments);
      const winner = index.get('shared:first');
      expect(ids).toContain(winner);
      expect(new Set(reports.flatMap((report) => report.firsts))).toEqual(new Set([winner]));
      const log: string[] = [];
      for (
        let entry = index.pull({ prefix: 'log' });
        entry !== undefined;
        entry = index.pull({ prefix: 'log' })
      )
        log.push(entry[1] as string);
      ids.forEach((id, n) => {
        const mine = log.filter((item) => item.startsWith(`${id}:`));
        expect(mine).toEqual(Array.from({ length: reports[n]!.pushes }, (_, i) => `${id}:${i}`));
      });
      expect(log).toHaveLength(reports.reduce((sum, report) => sum + report.pushes, 0));
      const owned = reports.reduce((sum, report) => sum + report.model.length, 0);
      expect(index.size).toBe(owned + 2); // the counter and the setDefault winner
    } finally {
      index.close();
    }
  });
});

describe('Index and a process killed mid-transaction', () => {
  it('a SIGKILLed transact batch is all or nothing', async () => {
    const directory = tempDir('index-kill');
    const child = forkFixture('collections-killed-child.ts', ['index-batch', directory, '200']);
    await messagesReceived(child, 5); // five whole batches committed
    child.kill('SIGKILL');
    expect(await exited(child)).toBe('SIGKILL');
    const index = new Index<string, number>(directory);
    const values = new Set(index.values());
    expect(index.size).toBe(200);
    expect(values.size).toBe(1); // every key from the same batch
    expect([...values][0]).toBeGreaterThanOrEqual(4);
    index.close();
  });
});
