import { defineConfig } from 'vitest/config';
import SlowestFirst from './test/helpers/sequencer.js';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Builds dist/ once per run (skipped when up to date): the CLI tests run the compiled CLI.
    globalSetup: ['./test/helpers/global-setup.ts'],
    // Generous on purpose: the machine is shared and loaded, and the multi-process tests wait
    // on real children (under parallel load a heavy one took 57 s of the former 60 s limit).
    // A test that needs longer is hung, not slow. No retry: a test that fails once under load
    // is a bug to fix, not to hide.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    retry: 0,
    // Multi-process tests fork children on a 2-core machine: two files at a time keeps both
    // cores busy without piling up processes.
    fileParallelism: true,
    maxWorkers: 2,
    pool: 'forks',
    // The two worker processes run file after file without a fresh process (and module graph)
    // for each (test/cache alone, on a loaded machine: CPU 74 s -> 56 s, wall 112 s -> 52 s).
    // A test that depends on what this process has loaded (for example, that a module is never
    // imported) checks it in a child process of its own.
    isolate: false,
    // The slowest files first: both workers end together (test/helpers/sequencer.ts).
    sequence: { sequencer: SlowestFirst },
    reporters: ['default', './test/helpers/summary-reporter.ts'],
  },
});
