/**
 * The `diskcache` commander program: global options, the registered command groups, help text
 * with the exit codes, and `runCli`, which runs one command line and returns its exit code
 * (usable in-process: every stream goes through `CliIo`). A new command group (deque, queue,
 * work, ...) is one file exporting a `CommandGroup`, added to COMMAND_GROUPS below.
 * This file must not hold commands itself, nor call process.exit.
 */
import * as fs from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { Command, CommanderError } from 'commander';
import { describeRedisTrouble } from '../redis/redis-client.js';
import { registerCacheCommands } from './cache-commands.js';
import { registerDequeCommands, registerIndexCommands } from './collection-commands.js';
import { addGlobalOptions, type CliIo } from './context.js';
import { registerCrawlCommand } from './crawl-command.js';
import { registerDashboardCommand } from './dashboard-command.js';
import {
  CliError,
  EXIT,
  EXIT_CODES_HELP,
  type ExitCode,
  exitCodeFor,
  exitCodeName,
} from './exit-codes.js';
import { formatValue, toJson } from './output.js';
import { registerQueueCommands } from './queue-commands.js';
import { registerWorkCommand } from './work-command.js';

/** A group of commands: registers its commands (or one parent command) on the root program. */
export type CommandGroup = (program: Command, io: CliIo) => void;

/** The command groups of `diskcache`, in the order `--help` lists them. */
export const COMMAND_GROUPS: readonly CommandGroup[] = [
  registerCacheCommands,
  registerDequeCommands,
  registerIndexCommands,
  registerQueueCommands,
  registerWorkCommand,
  registerCrawlCommand,
  registerDashboardCommand,
];

const ENVIRONMENT_HELP = `Environment:
  DISKCACHE_DIR    the cache directory when --dir is not given
  DISKCACHE_DEBUG  set to 1 to print stack traces of unexpected errors`;

const EXAMPLES_HELP = `Examples:
  diskcache -d ./cache set greeting hello --expire 60
  diskcache -d ./cache get greeting
  diskcache -d ./cache set --int-key 42 '{"a": [1, 2]}' --json-value
  diskcache -d ./cache keys --limit 20 --json`;

function packageVersion(): string {
  try {
    // Two levels up from src/cli and from dist/cli alike.
    const text = fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
    return String((JSON.parse(text) as { version?: unknown }).version ?? '0.0.0');
  } catch {
    return '0.0.0';
  }
}

/** The JSON document of an error on stderr (with --json). */
function jsonError(code: ExitCode, message: string, details: object = {}): string {
  return `${JSON.stringify({ error: { exitCode: code, kind: exitCodeName(code), message, ...(toJson(details) as object) } })}\n`;
}

/**
 * Builds the program; `groups` defaults to every command group. With `jsonErrors` (the command
 * line has --json) the parser's own usage errors are JSON documents too.
 */
export function buildProgram(
  io: CliIo,
  groups: readonly CommandGroup[] = COMMAND_GROUPS,
  options: { jsonErrors?: boolean } = {},
): Command {
  const program = new Command('diskcache')
    .description('Inspect and manage node-diskcache (and python-diskcache) directories.')
    .version(packageVersion(), '-V, --version')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      outputError: options.jsonErrors
        ? (text) => io.stderr.write(jsonError(EXIT.USAGE, text.trim().replace(/^error: /, '')))
        : (text, write) => write(text),
    })
    .showHelpAfterError(options.jsonErrors ? false : '(run diskcache --help for usage)')
    .addHelpText('after', `\n${EXIT_CODES_HELP}\n\n${ENVIRONMENT_HELP}\n\n${EXAMPLES_HELP}\n`);
  addGlobalOptions(program);
  for (const register of groups) register(program, io);
  return program;
}

/** Prints a failure on stderr: one line of text, or a JSON document with `--json`. */
function reportError(io: CliIo, error: unknown, code: ExitCode, json: boolean): void {
  const redis = describeRedisTrouble(error);
  const message = redis
    ? `the Redis server ${redis.server} did not answer: ${redis.reason}`
    : error instanceof Error
      ? error.message
      : String(error);
  if (json) {
    io.stderr.write(jsonError(code, message, error instanceof CliError ? error.details : {}));
    return;
  }
  io.stderr.write(`diskcache: ${message}\n`);
  if (code === EXIT.FAILURE && io.env.DISKCACHE_DEBUG && error instanceof Error && error.stack) {
    io.stderr.write(`${error.stack}\n`);
  } else if (code === EXIT.FAILURE && !(error instanceof Error)) {
    io.stderr.write(`${formatValue(error)}\n`);
  }
}

/** Runs one command line (`args` without node and the script) and returns the exit code. */
export async function runCli(
  args: readonly string[],
  io: CliIo = processIo(),
  groups: readonly CommandGroup[] = COMMAND_GROUPS,
): Promise<ExitCode> {
  const json = args.includes('--json');
  const program = buildProgram(io, groups, { jsonErrors: json });
  try {
    await program.parseAsync([...args], { from: 'user' });
    return EXIT.OK;
  } catch (error) {
    // commander has printed its own message (help, version, or the usage error).
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    const code = exitCodeFor(error);
    reportError(io, error, code, json);
    return code;
  }
}

/** The real process's streams; `confirm` only when both stdin and stderr are terminals. */
export function processIo(): CliIo {
  const interactive = process.stdin.isTTY === true && process.stderr.isTTY === true;
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    ...(interactive
      ? {
          confirm: async (question: string) => {
            const prompt = createInterface({ input: process.stdin, output: process.stderr });
            try {
              return /^y(es)?$/i.test((await prompt.question(question)).trim());
            } finally {
              prompt.close();
            }
          },
        }
      : {}),
  };
}
