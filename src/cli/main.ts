#!/usr/bin/env node
/**
 * The `diskcache` executable: runs the command line and exits with its code (see
 * `diskcache --help` and docs/cli.md for the codes). Everything else lives in program.ts;
 * this file must stay a two-line entry point.
 */
import { runCli } from './program.js';

process.exitCode = await runCli(process.argv.slice(2));
