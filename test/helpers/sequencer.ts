/**
 * The order of the test files: the slowest first, so that two workers finish together (the
 * longest-first packing), whatever vitest's own order is. Vitest orders by the durations it
 * cached on earlier runs, and by file size without them: in a fresh clone (CI) a long file that
 * started last kept one worker busy alone for its whole length at the end.
 */
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/** The slowest files, slowest first (a fresh clone's run, two workers: 55 s down to 17 s). */
const SLOWEST = [
  'test/redis/redis-crawl.test.ts',
  'test/redis/redis-runner.test.ts',
  'test/examples/examples.test.ts',
  'test/docs/code-blocks.test.ts',
  'test/package/package.test.ts',
  'test/stress/stress.test.ts',
  'test/cli/cache-commands.test.ts',
  'test/runner/run-workers.test.ts',
  'test/cli/queue-commands.test.ts',
  'test/runner/fault-isolation.test.ts',
  'test/cli/work-command.test.ts',
  'test/cli/exit-codes.test.ts',
  'test/cache/async.test.ts',
];

function rank(file: TestSpecification): number {
  const path = file.moduleId.replaceAll('\\', '/');
  const index = SLOWEST.findIndex((slow) => path.endsWith(slow));
  return index === -1 ? SLOWEST.length : index;
}

export default class SlowestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const position = new Map(sorted.map((file, index) => [file, index]));
    return sorted.sort((a, b) => rank(a) - rank(b) || position.get(a)! - position.get(b)!);
  }
}
