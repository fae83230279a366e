/**
 * `diskcache crawl [url...]`: the crawler on the command line. With no URL it serves the built-in
 * demo site on 127.0.0.1 and crawls it — what `npm start` runs. With `--dir` the crawl directory
 * is kept and a second run resumes it (the demo site keeps its port, stored in the directory, so
 * the queued URLs stay valid); Ctrl-C stops gracefully. Progress goes to stderr (a bar on a
 * terminal, plain lines otherwise), the summary to stdout. `diskcache crawl export <dir>` prints
 * the records as JSON Lines or CSV. With `--queue redis://…#name` the crawl lives in Redis (nothing
 * local): run the same command on several machines and they share it. Exit codes: docs/crawler.md.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type Command, Option } from 'commander';
import { isRedisQueueLocator } from '../collections/open-queue.js';
import { WorkQueue } from '../collections/work-queue.js';
// The crawler (htmlparser2, robots-parser) is imported when a crawl command runs, not when the CLI
// starts: every other command would pay for loading it.
import type { CrawlSummary } from '../crawler/crawl.js';
import type { DemoSite } from '../crawler/demo-site.js';
import type { ExportFormat } from '../crawler/export.js';
import { parseRedisLocator } from '../redis/redis-client.js';
import { createProgressReporter, formatDuration, type RunProgress } from '../runner/progress.js';
import { action, type CliIo, type CommandContext, optionParser } from './context.js';
import { CliError, EXIT } from './exit-codes.js';
import { helpExamples, parseCount, parseSeconds } from './output.js';
import { queueLocator, rethrowQueueError, shownLocator } from './queue-commands.js';
import { onStopSignals } from './work-command.js';

interface CrawlCommandOptions {
  readonly processes: number;
  readonly concurrency: number;
  readonly maxPages: number;
  readonly maxDepth: number;
  readonly sameOrigin: boolean;
  readonly rate?: number;
  readonly userAgent?: string;
  readonly timeout?: number;
  readonly include?: string;
  readonly exclude?: string;
  readonly handler?: string;
  readonly fresh?: boolean;
  readonly pickle: boolean;
  readonly sitePages: number;
  readonly keep?: boolean;
  readonly queue?: string;
}

function positive(option: string) {
  return optionParser((text) => {
    const value = parseCount(text, option);
    if (value <= 0)
      throw new CliError(EXIT.USAGE, `${option} must be more than 0, got ${JSON.stringify(text)}`);
    return value;
  });
}

function positiveNumber(option: string) {
  return optionParser((text) => {
    const value = parseSeconds(text, option);
    if (value <= 0)
      throw new CliError(EXIT.USAGE, `${option} must be more than 0, got ${JSON.stringify(text)}`);
    return value;
  });
}

function regex(option: string) {
  return optionParser((text) => {
    try {
      new RegExp(text);
    } catch (error) {
      throw new CliError(EXIT.USAGE, `${option}: ${(error as Error).message}`);
    }
    return text;
  });
}

/** Where a kept crawl of the demo site remembers the site's port. */
const DEMO_FILE = 'demo-site.json';

/** Starts the demo site, on the port a previous run in `directory` used when it can. */
async function startDemo(
  context: CommandContext,
  pages: number,
  directory: string | undefined,
): Promise<DemoSite> {
  const file = directory && path.join(directory, DEMO_FILE);
  let port = 0;
  if (file && fs.existsSync(file)) {
    try {
      port = Number((JSON.parse(fs.readFileSync(file, 'utf8')) as { port?: unknown }).port) || 0;
    } catch {
      port = 0;
    }
  }
  const { startDemoSite } = await import('../crawler/demo-site.js');
  let site: DemoSite;
  try {
    site = await startDemoSite({ pages, port });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || port === 0) throw error;
    context.note(
      `the demo site's previous port ${port} is taken: it starts on a new one, and the pages the previous run queued (on the old port) will fail`,
    );
    site = await startDemoSite({ pages });
  }
  if (file) {
    fs.mkdirSync(directory, { recursive: true });
    fs.writeFileSync(file, JSON.stringify({ port: Number(new URL(site.url).port), pages }));
  }
  return site;
}

function summaryLines(
  summary: CrawlSummary,
  options: CrawlCommandOptions,
  kept: boolean,
  directory: string,
  redis: boolean,
): string[] {
  const statuses = Object.entries(summary.byStatus)
    .map(([status, count]) => `${status}: ${count}`)
    .join(', ');
  const lines = [
    `${summary.reason === 'drained' ? 'crawl finished' : 'crawl stopped (run the same command again to resume)'}${summary.resumed ? ' (resumed)' : ''} in ${formatDuration(summary.elapsedSeconds)}`,
    `pages recorded: ${summary.pages} (${statuses || 'none'}); failed: ${summary.failed}; still queued: ${summary.remaining}`,
  ];
  // The crawl's own errors start with the URL; a worker's death, for one, does not.
  for (const { attempts, error, url } of summary.failures.slice(0, 5))
    lines.push(
      `  failed after ${attempts} attempts: ${error.startsWith(url) ? error : `${url}: ${error}`}`,
    );
  if (summary.failures.length > 5)
    lines.push(`  … (diskcache queue failed ${shownLocator(directory)} lists them all)`);
  const { 'max-depth': byDepth, 'max-pages': byPages } = summary.deferred;
  if (byDepth + byPages > 0) {
    const why = [
      byDepth > 0 ? `${byDepth} beyond --max-depth ${options.maxDepth}` : '',
      byPages > 0 ? `${byPages} beyond --max-pages ${options.maxPages}` : '',
    ].filter(Boolean);
    lines.push(
      `links deferred: ${why.join(', ')}${kept ? ` (run again with higher limits and the same ${redis ? '--queue' : '--dir'} to fetch them)` : ''}`,
    );
  }
  if (summary.requeued > 0)
    lines.push(`deferred links queued by this run's higher limits: ${summary.requeued}`);
  const shown = shownLocator(directory);
  lines.push(
    redis
      ? `results: the queue's results in Redis (diskcache crawl export '${shown}' --format jsonl|csv)`
      : kept
        ? `results: an Index in ${path.join(directory, 'results')} (diskcache crawl export ${directory} --format jsonl|csv)`
        : 'results: in a temporary directory, now removed (give -d DIR to keep the crawl and resume it)',
    kept
      ? `see it in a browser: npx diskcache dashboard ${redis ? `'${shown}'` : directory}`
      : 'see a crawl in a browser: keep it with -d DIR, then npx diskcache dashboard DIR',
  );
  return lines;
}

/** A Redis locator given by --queue, -d/--dir or $DISKCACHE_DIR, if that is what names the crawl. */
function redisQueue(context: CommandContext, options: CrawlCommandOptions): string | undefined {
  const named = options.queue ?? context.options.dir ?? context.io.env.DISKCACHE_DIR;
  if (named === undefined || !isRedisQueueLocator(named)) return undefined;
  const locator = queueLocator(context, options.queue);
  try {
    // A malformed locator is a usage error before anything starts.
    parseRedisLocator(locator);
  } catch (error) {
    throw new CliError(EXIT.USAGE, (error as Error).message, { cause: error });
  }
  return locator;
}

async function runCrawl(context: CommandContext, urls: string[]): Promise<void> {
  const options = context.opts<CrawlCommandOptions>();
  const redis = redisQueue(context, options);
  if (redis !== undefined && urls.length === 0)
    throw new CliError(
      EXIT.USAGE,
      'a crawl on a redis:// queue needs its start URL (the built-in demo site serves this machine only): diskcache crawl URL --queue redis://host:6379#name',
    );
  const given = redis ?? context.findDirectory(options.queue);
  const directory = given ?? fs.mkdtempSync(path.join(os.tmpdir(), 'diskcache-crawl-'));
  const kept = Boolean(given || options.keep);
  if (options.fresh && given && !redis) fs.rmSync(directory, { recursive: true, force: true });
  const stderr = context.io.stderr as CliIo['stderr'] & { isTTY?: boolean; columns?: number };
  let site: DemoSite | undefined;
  if (urls.length === 0) {
    site = await startDemo(context, options.sitePages, given ? directory : undefined);
    context.note(
      `demo site: ${site.url} (${options.sitePages} pages, ${site.reachablePages} reachable from the start page)`,
    );
  }
  const startUrls = urls.length > 0 ? urls : [site!.url];
  context.note(
    `crawling ${startUrls.join(' ')} with ${options.processes} worker process${options.processes === 1 ? '' : 'es'} × ${options.concurrency} requests each${options.rate ? `, at most ${options.rate} requests/s per host` : ''}; ${redis ? `crawl queue ${shownLocator(directory)} (shared by every machine on it)` : `crawl directory ${directory}`}`,
  );
  if (!redis && fs.existsSync(path.join(directory, 'results'))) {
    const queue = new WorkQueue(directory);
    const holders = queue.leaseHolders();
    queue.close();
    const gone = holders.reduce((sum, h) => sum + (h.status === 'dead' ? h.jobs : 0), 0);
    if (gone > 0)
      context.note(
        `resuming: ${gone} pages were held by processes of a previous run that are gone; they are taken back at once`,
      );
    const { describeWaiting } = await import('../crawler/crawl.js');
    const waiting = describeWaiting(holders);
    if (waiting) context.note(`resuming: ${waiting} (they come back when their leases run out)`);
  }
  const controller = new AbortController();
  const removeSignals = onStopSignals(controller);
  const reporter = context.json
    ? undefined
    : createProgressReporter(stderr, { intervalSeconds: 1 });
  let last: RunProgress | undefined;
  try {
    let summary: CrawlSummary;
    try {
      const { crawl } = await import('../crawler/crawl.js');
      summary = await crawl({
        startUrl: startUrls,
        ...(redis ? { queue: redis, fresh: options.fresh === true } : { directory }),
        processes: options.processes,
        concurrency: options.concurrency,
        maxPages: options.maxPages,
        maxDepth: options.maxDepth,
        sameOrigin: options.sameOrigin,
        pickle: options.pickle,
        ...(options.rate !== undefined ? { rate: options.rate } : {}),
        ...(options.userAgent !== undefined ? { userAgent: options.userAgent } : {}),
        ...(options.timeout !== undefined ? { timeoutSeconds: options.timeout } : {}),
        ...(options.include !== undefined ? { include: options.include } : {}),
        ...(options.exclude !== undefined ? { exclude: options.exclude } : {}),
        ...(options.handler !== undefined ? { handler: options.handler } : {}),
        signal: controller.signal,
        onProgress: (progress) => {
          last = progress;
          reporter?.update(progress);
        },
      });
    } catch (error) {
      if (error instanceof TypeError || error instanceof RangeError || error instanceof SyntaxError)
        throw new CliError(EXIT.USAGE, error.message, { cause: error });
      throw error;
    }
    if (reporter && last) reporter.finish(last);
    const duplicates = site?.duplicateFetches() ?? [];
    const report = {
      ...summary,
      ...(redis ? { queue: shownLocator(redis) } : { directory }),
      ...(site
        ? {
            site: site.url,
            reachablePages: site.reachablePages,
            duplicateFetches: duplicates.length,
          }
        : {}),
    };
    context.print(report, () => {
      const lines = summaryLines(summary, options, kept, directory, redis !== undefined);
      if (site)
        lines.push(
          `demo site: ${site.reachablePages} pages reachable; pages fetched twice without need: ${duplicates.length}`,
        );
      return lines.join('\n');
    });
    if (summary.startErrors.length > 0)
      throw new CliError(
        EXIT.FAILURE,
        `the start page could not be fetched: ${summary.startErrors.join('; ')}`,
      );
    if (summary.reason === 'stopped')
      throw new CliError(
        EXIT.INTERRUPTED,
        `interrupted: ${summary.remaining} pages still queued${kept ? '; run the same command again to resume' : ''}`,
      );
  } finally {
    removeSignals();
    await site?.close();
    if (!kept) fs.rmSync(directory, { recursive: true, force: true });
  }
}

async function runExport(context: CommandContext, target: string): Promise<void> {
  const { format } = context.opts<{ format: ExportFormat }>();
  const redis = isRedisQueueLocator(target);
  const resolved = redis ? target : path.resolve(target);
  if (!redis && !fs.existsSync(path.join(resolved, 'results')))
    throw new CliError(EXIT.BAD_DIRECTORY, `not a crawl directory (no results): ${resolved}`);
  const { exportRecords } = await import('../crawler/export.js');
  try {
    const count = await exportRecords(resolved, format, (chunk) => context.io.stdout.write(chunk));
    if (redis && count === 0)
      context.note(`no records in ${shownLocator(resolved)}: is it the locator of a crawl?`);
  } catch (error) {
    rethrowQueueError(error);
  }
}

/** Registers `diskcache crawl [url...]` and `diskcache crawl export <dir>` on the root program. */
export function registerCrawlCommand(program: Command, io: CliIo): void {
  const command = program
    .command('crawl')
    .description(
      'crawl a site with several worker processes, resumably (no URL: a built-in demo site on 127.0.0.1)',
    )
    .argument('[url...]', 'the start pages (only links to their origins are followed)')
    .addOption(
      new Option('-p, --processes <n>', 'worker processes')
        .argParser(positive('--processes'))
        .default(1),
    )
    .addOption(
      new Option('-c, --concurrency <m>', 'requests each process runs at once')
        .argParser(positive('--concurrency'))
        .default(8),
    )
    .addOption(
      new Option('--max-pages <n>', 'queue at most this many pages; links beyond are deferred')
        .argParser(positive('--max-pages'))
        .default(10_000),
    )
    .addOption(
      new Option(
        '--max-depth <n>',
        'follow links this many hops from the start at most; beyond are deferred',
      )
        .argParser(optionParser((text) => parseCount(text, '--max-depth')))
        .default(10),
    )
    .option('--same-origin', "follow only links to the start pages' origins", true)
    .option('--no-same-origin', 'follow links to any http(s) origin (mind --include/--max-depth)')
    .addOption(
      new Option(
        '--rate <n>',
        'at most N requests per second to each host, shared by every process',
      ).argParser(positiveNumber('--rate')),
    )
    .option('--user-agent <s>', 'the User-Agent header (robots.txt groups match it)')
    .addOption(
      new Option('--timeout <seconds>', 'seconds before a request is abandoned').argParser(
        positiveNumber('--timeout'),
      ),
    )
    .option('--include <regex>', 'follow only URLs matching this regex', regex('--include'))
    .option('--exclude <regex>', 'do not follow URLs matching this regex', regex('--exclude'))
    .option('--handler <module>', 'a module whose default export returns extra fields per page')
    .option('--fresh', 'delete the crawl directory first: start over instead of resuming')
    .option(
      '--no-pickle',
      "store records with v8's structured clone instead of pickle (for --handler fields pickle cannot carry: Date, undefined...); Python then cannot read them",
    )
    .addOption(
      new Option('--site-pages <n>', 'pages of the built-in demo site')
        .argParser(positive('--site-pages'))
        .default(300),
    )
    .option(
      '-q, --queue <dir|locator>',
      "the crawl's work queue: a directory (the same as -d/--dir; kept, and resumed on a second run), or redis://host:6379#name to crawl from several machines (every machine runs the same command)",
    )
    .option('--keep', 'keep the temporary crawl directory when no --dir is given')
    .addHelpText(
      'after',
      '\nWith -d/--dir DIR (or --queue DIR) the crawl is kept in DIR: stop it (Ctrl-C, or kill it) and run the same command again to resume.' +
        '\nWith --queue redis://host:6379#name the whole crawl is in Redis: the same command on other machines joins it (one frontier, one --rate budget).' +
        '\nExit codes: 0 finished; 2 usage; 6 the start page could not be fetched (or another failure); 130 stopped by Ctrl-C/SIGTERM (resumable).\n' +
        helpExamples(
          'diskcache crawl',
          'diskcache crawl -d ./crawl --max-pages 100 http://127.0.0.1:8080/',
          "diskcache crawl https://example.com/ --rate 2 --queue 'redis://10.0.0.5:6379#example'",
        ),
    )
    .action(
      // A variadic argument arrives as one array.
      action(io, (context, ...args) => runCrawl(context, (args as unknown as string[][])[0] ?? [])),
    )
    .hook('preAction', (_program, actionCommand) => {
      // `--timeout` is also a global option (the cache lock's); the root parses it wherever it
      // is written, so take it from there when it was given: here it is the request timeout.
      const root = actionCommand.parent;
      if (actionCommand.getOptionValue('timeout') !== undefined || root === null) return;
      if (root.getOptionValueSource('timeout') !== 'cli') return;
      const seconds = Number(root.getOptionValue('timeout'));
      if (!(seconds > 0))
        throw new CliError(EXIT.USAGE, `--timeout must be more than 0, got ${seconds}`);
      actionCommand.setOptionValue('timeout', seconds);
    });
  command
    .command('export')
    .description('print the records of a crawl (directory or redis:// queue), one per URL')
    .argument('<dir|locator>', 'the crawl directory, or the redis://…#name queue of the crawl')
    .addOption(
      new Option('--format <format>', 'jsonl (one JSON object a line) or csv')
        .choices(['jsonl', 'csv'])
        .default('jsonl'),
    )
    .addHelpText(
      'after',
      helpExamples(
        'diskcache crawl export ./crawl > pages.jsonl',
        'diskcache crawl export ./crawl --format csv > pages.csv',
      ),
    )
    .action(action(io, (context, directory) => runExport(context, directory!)));
}
