/**
 * The queue command group of the CLI: `diskcache queue stats|put|failed|retry-failed <queue>` on a
 * work queue: a directory or a `redis://…#name` locator (a password in it is never printed). Each
 * command is a thin layer over one WorkQueue method. `put` creates the queue if needed; the others
 * refuse a directory that holds no work queue, or a Redis queue never created, with exit 5 and
 * write nothing, so a mistyped path or name never leaves an empty queue behind. It must not hold
 * queue logic of its own.
 */

import * as fs from 'node:fs';
import { type Command, Option } from 'commander';
import { PickleDisk } from '../cache/disk.js';
import { QueueNotFoundError } from '../cache/errors.js';
import type { AsyncWorkQueue } from '../collections/async-work-queue.js';
import { isRedisQueueLocator, openQueue } from '../collections/open-queue.js';
import { isWorkQueueDirectory } from '../collections/work-queue-schema.js';
import { redacted } from '../redis/redis-client.js';
import { action, type CliIo, type CommandContext, optionParser } from './context.js';
import { CliError, EXIT } from './exit-codes.js';
import {
  formatTable,
  formatTime,
  formatValue,
  helpExamples,
  parseCount,
  parseJson,
  parseSeconds,
} from './output.js';

/** A queue error as the CLI says it: a bad locator or option is usage (2), no such queue 5. */
export function rethrowQueueError(error: unknown): never {
  if (error instanceof TypeError || error instanceof RangeError)
    throw new CliError(EXIT.USAGE, error.message, { cause: error });
  if (error instanceof QueueNotFoundError)
    throw new CliError(EXIT.BAD_DIRECTORY, error.message, { cause: error });
  throw error;
}

function inline(value: unknown): string {
  return formatValue(value, { inline: true });
}

/**
 * The queue named by `given` (a positional argument or `--queue`), else by -d/--dir or
 * $DISKCACHE_DIR: a `redis://…#name` locator as given, or a directory, resolved.
 */
export function queueLocator(context: CommandContext, given: string | undefined): string {
  const named = given !== undefined && given !== '' ? given : undefined;
  const flag = context.options.dir;
  if (named !== undefined && isRedisQueueLocator(named)) {
    if (flag !== undefined && flag !== '' && flag !== named)
      throw new CliError(
        EXIT.USAGE,
        `two queues given: --dir ${shownLocator(flag)} and ${redacted(named)} (name the queue once)`,
      );
    return named;
  }
  if (named === undefined) {
    const fallback = flag ?? context.io.env.DISKCACHE_DIR;
    if (fallback !== undefined && isRedisQueueLocator(fallback)) return fallback;
  } else if (flag !== undefined && isRedisQueueLocator(flag))
    throw new CliError(
      EXIT.USAGE,
      `two queues given: --dir ${redacted(flag)} and ${named} (name the queue once)`,
    );
  return context.directory(named);
}

/** The locator as it may be printed: a Redis password is replaced by `***`. */
export function shownLocator(locator: string): string {
  return isRedisQueueLocator(locator) ? redacted(locator) : locator;
}

/** Where the queue is, for a JSON document: `{directory}` or `{queue}` (a Redis locator, redacted). */
function whereIs(locator: string): { directory: string } | { queue: string } {
  return isRedisQueueLocator(locator) ? { queue: redacted(locator) } : { directory: locator };
}

/**
 * Opens the queue at `locator` (see `queueLocator`). Unless `create`, the queue must exist (exit 5
 * otherwise: a directory holding a work queue, a Redis queue with its settings), so a mistyped
 * path or name never leaves an empty queue behind.
 */
export async function openQueueAt(
  context: CommandContext,
  locator: string,
  options: { create: boolean; pickle?: boolean },
): Promise<AsyncWorkQueue<unknown>> {
  if (isRedisQueueLocator(locator)) {
    if (options.pickle)
      throw new CliError(
        EXIT.USAGE,
        '--pickle applies to a directory queue (its results directory); a Redis queue keeps its results in Redis',
      );
    try {
      return await openQueue(locator, { create: options.create });
    } catch (error) {
      rethrowQueueError(error);
    }
  }
  const directory = locator;
  if (fs.existsSync(directory) && !fs.statSync(directory).isDirectory())
    throw new CliError(EXIT.BAD_DIRECTORY, `${directory} is not a directory`);
  if (!options.create) {
    if (!fs.existsSync(directory))
      throw new CliError(EXIT.BAD_DIRECTORY, `work queue directory ${directory} does not exist`);
    if (!isWorkQueueDirectory(directory))
      throw new CliError(
        EXIT.BAD_DIRECTORY,
        `${directory} is not a work queue (no WorkQueue_jobs table in its cache.db)`,
      );
  }
  return await openQueue(directory, {
    timeout: context.options.timeout,
    ...(options.pickle ? { disk: PickleDisk } : {}),
  });
}

async function withQueue<T>(
  context: CommandContext,
  given: string | undefined,
  create: boolean,
  body: (queue: AsyncWorkQueue<unknown>, locator: string) => T | Promise<T>,
): Promise<T> {
  const locator = queueLocator(context, given);
  const queue = await openQueueAt(context, locator, { create });
  try {
    return await body(queue, locator);
  } finally {
    await queue.close();
  }
}

function statsCommand(group: Command, io: CliIo): void {
  group
    .command('stats')
    .description('count jobs by state (pending includes delayed jobs and retries)')
    .addHelpText(
      'after',
      helpExamples('diskcache queue stats ./jobs', 'diskcache -d ./jobs queue stats --json'),
    )
    .argument(
      '[queue]',
      'the queue: a directory or redis://[user:password@]host[:port][/db]#name (default: --dir or $DISKCACHE_DIR)',
    )
    .action(
      action(io, (context, dir) =>
        withQueue(context, dir, false, async (queue, locator) => {
          const stats = await queue.stats();
          const settings = await queue.settings();
          const document = { ...whereIs(locator), ...stats, settings };
          context.print(document, () =>
            formatTable(
              [
                [isRedisQueueLocator(locator) ? 'queue' : 'directory', shownLocator(locator)],
                ['pending', String(stats.pending)],
                ['leased', String(stats.leased)],
                ['done', String(stats.done)],
                ['failed', String(stats.failed)],
                ['leaseSeconds', String(settings.leaseSeconds)],
                ['maxAttempts', String(settings.maxAttempts)],
                ['backoffSeconds', String(settings.backoffSeconds)],
              ],
              { right: [] },
            ),
          );
        }),
      ),
    );
}

/** Payload lines from standard input (empty lines skipped). */
async function readLines(stream: NodeJS.ReadableStream): Promise<string[]> {
  let text = '';
  for await (const chunk of stream)
    text += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
  return text.split(/\r?\n/).filter((line) => line !== '');
}

function putCommand(group: Command, io: CliIo): void {
  group
    .command('put')
    .description(
      'add jobs: each PAYLOAD (or each line of stdin with --stdin) is one job, all in one transaction',
    )
    .addHelpText(
      'after',
      helpExamples(
        'diskcache queue put ./jobs a.txt b.txt',
        'find ./data -type f | diskcache -d ./jobs queue put --stdin --unique',
      ),
    )
    .argument(
      '[queue]',
      'the queue: a directory (created if needed) or redis://…#name (with -d/--dir, this is the first payload)',
    )
    .argument('[payloads...]', 'the payloads: strings, or JSON documents with --json-payload')
    .option(
      '--json-payload',
      'parse each payload as JSON (numbers, booleans, null, arrays, objects)',
    )
    .option('--stdin', 'read payloads from standard input, one per line')
    .option(
      '--key <key>',
      'an idempotency key (one payload only): ignored if a job with this key exists',
    )
    .option('--unique', "use each payload's text as its key, so the same payload is queued once")
    .addOption(
      new Option('--delay <seconds>', 'make the jobs ready after this many seconds').argParser(
        optionParser((text) => parseSeconds(text, '--delay')),
      ),
    )
    .action(
      action(io, async (context, dir, ...rest) => {
        const options = context.opts<{
          jsonPayload?: boolean;
          stdin?: boolean;
          key?: string;
          unique?: boolean;
          delay?: number;
        }>();
        // With --dir naming the queue, every argument is a payload.
        const byFlag = context.options.dir !== undefined;
        const queueDir = byFlag ? undefined : dir;
        const given = [
          ...(byFlag && dir !== undefined ? [dir] : []),
          ...((rest[0] as unknown as string[] | undefined) ?? []),
        ];
        const texts = options.stdin ? [...given, ...(await readLines(process.stdin))] : given;
        if (texts.length === 0)
          throw new CliError(EXIT.USAGE, 'no payload: give PAYLOAD arguments or --stdin');
        if (options.key !== undefined && (texts.length !== 1 || options.unique)) {
          throw new CliError(
            EXIT.USAGE,
            '--key applies to exactly one payload (use --unique to key many payloads by their text)',
          );
        }
        const payloads = texts.map((text) =>
          options.jsonPayload
            ? parseJson(text, `payload ${JSON.stringify(text)} (--json-payload)`)
            : text,
        );
        const keys = texts.map((text) => (options.unique ? text : options.key));
        await withQueue(context, queueDir, true, async (queue, locator) => {
          const ids = await queue.putMany(payloads, {
            delaySeconds: options.delay,
            key: (_payload, index) => keys[index],
          });
          const queued = ids.filter((id): id is number => id !== undefined);
          const ignored = ids.length - queued.length;
          context.print({ ...whereIs(locator), queued, ignored }, () => {
            const jobs = `${queued.length} ${queued.length === 1 ? 'job' : 'jobs'}`;
            return `queued ${jobs}${ignored > 0 ? ` (${ignored} already queued under the same key, ignored)` : ''}`;
          });
        });
      }),
    );
}

function failedCommand(group: Command, io: CliIo): void {
  group
    .command('failed')
    .description('list the jobs that used up their attempts')
    .addHelpText(
      'after',
      helpExamples(
        'diskcache queue failed ./jobs',
        'diskcache -d ./jobs queue failed --limit 10 --json',
      ),
    )
    .argument(
      '[queue]',
      'the queue: a directory or redis://[user:password@]host[:port][/db]#name (default: --dir or $DISKCACHE_DIR)',
    )
    .addOption(
      new Option('--limit <n>', 'list at most N jobs').argParser(
        optionParser((text) => parseCount(text, '--limit')),
      ),
    )
    .action(
      action(io, (context, dir) =>
        withQueue(context, dir, false, async (queue) => {
          const { limit } = context.opts<{ limit?: number }>();
          const failed = await queue.failed({ limit });
          context.print(failed, () => {
            if (failed.length === 0) return 'no failed jobs';
            const rows = failed.map((job) => [
              String(job.id),
              job.key === undefined ? '' : inline(job.key),
              String(job.attempts),
              formatTime(job.failedAt),
              inline(job.error.split('\n')[0] ?? ''),
              inline(job.payload),
            ]);
            return formatTable(rows, {
              header: ['id', 'key', 'attempts', 'failed at', 'error', 'payload'],
              right: [0, 2],
            });
          });
        }),
      ),
    );
}

function retryFailedCommand(group: Command, io: CliIo): void {
  group
    .command('retry-failed')
    .description('move every failed job back to pending, with a fresh attempt count')
    .addHelpText(
      'after',
      helpExamples(
        'diskcache queue retry-failed ./jobs',
        'diskcache -d ./jobs queue retry-failed --json',
      ),
    )
    .argument(
      '[queue]',
      'the queue: a directory or redis://[user:password@]host[:port][/db]#name (default: --dir or $DISKCACHE_DIR)',
    )
    .action(
      action(io, (context, dir) =>
        withQueue(context, dir, false, async (queue, locator) => {
          const retried = await queue.retryFailed();
          context.print(
            { ...whereIs(locator), retried },
            () => `moved ${retried} failed ${retried === 1 ? 'job' : 'jobs'} back to pending`,
          );
        }),
      ),
    );
}

/** Registers `diskcache queue …` (stats, put, failed, retry-failed) on the root program. */
export function registerQueueCommands(program: Command, io: CliIo): void {
  const group = program
    .command('queue')
    .description('inspect and feed a work queue (see also: diskcache work)');
  statsCommand(group, io);
  putCommand(group, io);
  failedCommand(group, io);
  retryFailedCommand(group, io);
}
