/**
 * `diskcache work <handler-module> --queue DIR|redis://…#name`: the worker runner on the command line. It checks
 * the handler module before forking (exit 2 with a clear message when it is missing or exports no
 * function), runs `runWorkers`, draws progress on stderr (a bar on a terminal, plain lines
 * otherwise), and turns SIGINT/SIGTERM into a graceful stop: running jobs get `--grace-seconds`
 * to finish and the command exits 0; a second signal exits at once (130). The summary names the
 * jobs that failed during the run, with their errors (how their process died, when it did).
 * It must not run jobs itself; the runner does.
 */
import * as os from 'node:os';
import { type Command, Option } from 'commander';
import { HandlerModuleError } from '../cache/errors.js';
import { createProgressReporter, formatDuration, type RunProgress } from '../runner/progress.js';
import { type RunnerEvent, type RunSummary, runWorkers } from '../runner/run-workers.js';
import { action, type CliIo, type CommandContext, optionParser } from './context.js';
import { CliError, EXIT } from './exit-codes.js';
import { helpExamples, parseCount, parseSeconds } from './output.js';
import { openQueueAt, queueLocator, shownLocator } from './queue-commands.js';

interface WorkOptions {
  readonly queue?: string;
  readonly processes?: number;
  readonly concurrency: number;
  readonly leaseSeconds?: number;
  readonly graceSeconds: number;
  readonly jobTimeout?: number;
  readonly once?: boolean;
  readonly pickle?: boolean;
  readonly progressInterval?: number;
}

function positive(parse: (text: string, option: string) => number, option: string) {
  return optionParser((text) => {
    const value = parse(text, option);
    if (value <= 0)
      throw new CliError(EXIT.USAGE, `${option} must be more than 0, got ${JSON.stringify(text)}`);
    return value;
  });
}

function describeEvent(event: RunnerEvent, graceSeconds: number): string | undefined {
  switch (event.type) {
    case 'exit': {
      if (event.restartInSeconds === undefined) return undefined;
      const jobs =
        event.requeued === 0
          ? ''
          : `; its ${event.requeued} ${event.requeued === 1 ? 'job goes' : 'jobs go'} back without an attempt charged${event.suspects > 0 ? `, ${event.suspects} of them to run alone to find the culprit` : ''}`;
      return `diskcache work: worker ${event.worker} (pid ${event.pid}) exited with ${event.signal ?? `code ${event.code}`}; restarting it in ${event.restartInSeconds} s${jobs}`;
    }
    case 'unresponsive':
      return `diskcache work: worker ${event.worker} (pid ${event.pid}) has not answered for ${event.silentSeconds} s after a job timeout (a handler keeps it busy); killing it`;
    case 'stopping':
      return event.reason === 'drained'
        ? undefined
        : `diskcache work: stopping — running jobs have ${graceSeconds} s to finish (press Ctrl-C again to quit at once)`;
    default:
      return undefined;
  }
}

/** Failures listed under the summary; the rest are in `diskcache queue failed`. */
const FAILURES_SHOWN = 10;

function summaryText(summary: RunSummary, locator: string): string {
  const { stats, counts } = summary;
  const how = summary.reason === 'drained' ? 'queue drained' : 'stopped';
  const extra = [
    counts.timedOut > 0 ? `${counts.timedOut} timed out` : '',
    summary.restarts > 0 ? `${summary.restarts} workers restarted` : '',
    summary.requeued > 0 ? `${summary.requeued} jobs given back after a worker died` : '',
  ].filter(Boolean);
  const lines = [
    `${how} after ${formatDuration(summary.elapsedSeconds)}: this run ${counts.done} done, ${counts.failed} failed, ${counts.retried} to retry` +
      `${extra.map((text) => `, ${text}`).join('')}; queue: ${stats.pending} pending, ${stats.leased} leased, ${stats.done} done, ${stats.failed} failed`,
  ];
  const { failures } = summary;
  if (failures.length > 0) {
    lines.push(`failed during this run:`);
    for (const failure of failures.slice(0, FAILURES_SHOWN)) {
      const reason = failure.error.split('\n', 1)[0];
      lines.push(
        `  job ${failure.id}${failure.key === undefined ? '' : ` (${failure.key})`}, ${failure.attempts} ${failure.attempts === 1 ? 'attempt' : 'attempts'}: ${reason}`,
      );
    }
    const more = failures.length - FAILURES_SHOWN;
    lines.push(
      `  ${more > 0 ? `… and ${more} more; ` : ''}all errors: diskcache queue failed ${JSON.stringify(shownLocator(locator))}`,
    );
  }
  return lines.join('\n');
}

/** Turns SIGINT/SIGTERM into `controller.abort()` (a second one exits 130); returns the cleanup. */
export function onStopSignals(controller: AbortController): () => void {
  let signals = 0;
  const handle = () => {
    if (++signals > 1) process.exit(EXIT.INTERRUPTED);
    controller.abort();
  };
  process.on('SIGINT', handle);
  process.on('SIGTERM', handle);
  return () => {
    process.off('SIGINT', handle);
    process.off('SIGTERM', handle);
  };
}

async function work(context: CommandContext, handlerModule: string): Promise<void> {
  const options = context.opts<WorkOptions>();
  const locator = queueLocator(context, options.queue);
  const queue = await openQueueAt(context, locator, {
    create: false,
    pickle: options.pickle ?? false,
  });
  const controller = new AbortController();
  const removeSignals = onStopSignals(controller);
  const stderr = context.io.stderr as CliIo['stderr'] & { isTTY?: boolean; columns?: number };
  const reporter = context.json
    ? undefined
    : createProgressReporter(stderr, { intervalSeconds: options.progressInterval ?? 5 });
  let last: RunProgress | undefined;
  try {
    const summary = await runWorkers({
      queue,
      handler: handlerModule,
      processes: options.processes ?? os.availableParallelism(),
      concurrency: options.concurrency,
      leaseSeconds: options.leaseSeconds,
      graceSeconds: options.graceSeconds,
      jobTimeoutSeconds: options.jobTimeout,
      once: options.once ?? false,
      signal: controller.signal,
      progressIntervalSeconds: stderr.isTTY ? 0.25 : Math.min(1, options.progressInterval ?? 1),
      onProgress: (progress) => {
        last = progress;
        reporter?.update(progress);
      },
      onEvent: (event) => {
        const text = describeEvent(event, options.graceSeconds);
        if (text !== undefined) context.note(stderr.isTTY ? `\r\x1b[2K${text}` : text);
      },
    });
    // The last snapshot (taken after the workers exited), as a line that stays.
    if (reporter && last) reporter.finish(last);
    context.print(summary, () => summaryText(summary, locator));
  } catch (error) {
    if (error instanceof HandlerModuleError)
      throw new CliError(EXIT.USAGE, error.message, { cause: error });
    throw error;
  } finally {
    removeSignals();
    await queue.close();
  }
}

/** Registers `diskcache work <handler-module>` on the root program. */
export function registerWorkCommand(program: Command, io: CliIo): void {
  program
    .command('work')
    .description(
      'run the jobs of a work queue in worker processes (the handler module exports a default function (payload, job) => result)',
    )
    .argument(
      '<handler-module>',
      'the module whose default export (or export named "handler") runs one job',
    )
    .addHelpText(
      'after',
      helpExamples(
        'diskcache work ./hash-file.js --queue ./jobs --processes 4 --concurrency 8 --once',
        'diskcache -d ./jobs work ./handler.ts --lease-seconds 60',
        'diskcache work ./handler.js --queue redis://127.0.0.1:6379/0#jobs -p 4 -c 8',
      ),
    )
    .option(
      '-q, --queue <queue>',
      'the work queue: a directory (the same as -d/--dir; default: $DISKCACHE_DIR) or redis://[user:password@]host[:port][/db]#name',
    )
    .addOption(
      new Option('-p, --processes <n>', 'worker processes (default: the number of CPUs)').argParser(
        positive(parseCount, '--processes'),
      ),
    )
    .addOption(
      new Option('-c, --concurrency <m>', 'jobs each process runs at once')
        .argParser(positive(parseCount, '--concurrency'))
        .default(1),
    )
    .addOption(
      new Option(
        '--lease-seconds <s>',
        "lease length (extended while a job runs; default: the queue's)",
      ).argParser(positive(parseSeconds, '--lease-seconds')),
    )
    .addOption(
      new Option('--grace-seconds <s>', 'on Ctrl-C/SIGTERM, how long running jobs get to finish')
        .argParser(optionParser((text) => parseSeconds(text, '--grace-seconds')))
        .default(30),
    )
    .addOption(
      new Option(
        '--job-timeout <s>',
        'fail a job (JobTimeoutError, then retried) that runs longer than this; a worker kept busy past it and --grace-seconds is killed and replaced (default: no limit)',
      ).argParser(positive(parseSeconds, '--job-timeout')),
    )
    .option('--once', 'exit when no job is pending or running (instead of waiting for more)')
    .option(
      '--pickle',
      "store results as pickle, so Python's diskcache.Index(QUEUE/results) reads objects as dicts (a directory queue; remembered by the queue)",
    )
    .addOption(
      new Option(
        '--progress-interval <s>',
        'seconds between progress lines when stderr is not a terminal',
      ).argParser(positive(parseSeconds, '--progress-interval')),
    )
    .action(action(io, (context, handlerModule) => work(context, handlerModule!)));
}
