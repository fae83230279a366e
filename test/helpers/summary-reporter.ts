/**
 * A vitest reporter that ends the run with one plain line, `Tests: N passed, N failed, N skipped`,
 * which CI tooling reads to tell a run that tested something from one that ran nothing, and a
 * second line with the wall time of the whole run (including the dist/ build of globalSetup),
 * `Suite time: N s`. That line must stay separate: tooling reads 'N passed, N failed' alone.
 */
import type { Reporter, TestCase } from 'vitest/node';

export default class SummaryReporter implements Reporter {
  #passed = 0;
  #failed = 0;
  #skipped = 0;
  #started = performance.now();

  onInit(): void {
    this.#started = performance.now();
  }

  onTestCaseResult(testCase: TestCase): void {
    const state = testCase.result().state;
    if (state === 'passed') this.#passed++;
    else if (state === 'failed') this.#failed++;
    else if (state === 'skipped') this.#skipped++;
  }

  onTestRunEnd(): void {
    const seconds = Math.round((performance.now() - this.#started) / 1000);
    process.stdout.write(
      `\nTests: ${this.#passed} passed, ${this.#failed} failed, ${this.#skipped} skipped\n` +
        `Suite time: ${seconds} s\n`,
    );
  }
}
