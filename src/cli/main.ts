#!/usr/bin/env node
/**
 * The `diskcache` executable: runs the command line and exits with its code (see
 * `diskcache --help` and docs/cli.md for the codes). Everything else lives in program.ts;
 * this file must stay a small entry point.
 */
import { runCli } from './program.js';

// A reader that stops early (`diskcache keys | head`) closes the pipe: stop quietly, as `cat` would.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(0);
});
process.exitCode = await runCli(process.argv.slice(2));
