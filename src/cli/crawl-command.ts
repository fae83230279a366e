/**
 * `diskcache crawl [url]`: the sample crawler on the command line. With no URL it serves the
 * built-in demo site on 127.0.0.1 and crawls it — what `npm start` runs. With `--dir` the crawl
 * directory is kept and a second run resumes it; Ctrl-C stops gracefully. Progress goes to
 * stderr (a bar on a terminal, plain lines otherwise), the summary to stdout.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type Command, Option } from 'commander';
import { crawl } from '../crawler/crawl.js';
import { type DemoSite, startDemoSite } from '../crawler/demo-site.js';
import { createProgressReporter, formatDuration, type RunProgress } from '../runner/progress.js';
import { action, type CliIo, type CommandContext, optionParser } from './context.js';
import { CliError, EXIT } from './exit-codes.js';
import { helpExamples, parseCount } from './output.js';
import { onStopSignals } from './work-command.js';

interface CrawlCommandOptions {
  readonly processes: number;
  readonly concurrency: number;
  readonly maxPages: number;
  readonly maxDepth: number;
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

async function runCrawl(context: CommandContext, url: string | undefined): Promise<void> {
  const options = context.opts<CrawlCommandOptions>();
  const given = context.findDirectory(options.queue);
  const directory = given ?? fs.mkdtempSync(path.join(os.tmpdir(), 'diskcache-crawl-'));
  const stderr = context.io.stderr as CliIo['stderr'] & { isTTY?: boolean; columns?: number };
  let site: DemoSite | undefined;
  if (url === undefined) {
    site = await startDemoSite({ pages: options.sitePages });
    context.note(
      `demo site: ${site.url} (${options.sitePages} pages, ${site.reachablePages} reachable from the start page)`,
    );
  }
  const startUrl = url ?? site!.url;
  context.note(
    `crawling ${startUrl} with ${options.processes} worker processes × ${options.concurrency} requests each; crawl directory ${directory}`,
  );
  const controller = new AbortController();
  const removeSignals = onStopSignals(controller);
  const reporter = context.json
    ? undefined
    : createProgressReporter(stderr, { intervalSeconds: 1 });
  let last: RunProgress | undefined;
  try {
    const summary = await crawl({
      startUrl,
      directory,
      processes: options.processes,
      concurrency: options.concurrency,
      maxPages: options.maxPages,
      maxDepth: options.maxDepth,
      signal: controller.signal,
      onProgress: (progress) => {
        last = progress;
        reporter?.update(progress);
      },
    });
    if (reporter && last) reporter.finish(last);
    const duplicates = site?.duplicateFetches() ?? [];
    const report = {
      ...summary,
      directory,
      ...(site
        ? {
            site: site.url,
            reachablePages: site.reachablePages,
            duplicateFetches: duplicates.length,
          }
        : {}),
    };
    context.print(report, () => {
      const statuses = Object.entries(summary.byStatus)
        .map(([status, count]) => `${status}: ${count}`)
        .join(', ');
      const lines = [
        `${summary.reason === 'drained' ? 'crawl finished' : 'crawl stopped (run again with --dir to resume)'}${summary.resumed ? ' (resumed)' : ''} in ${formatDuration(summary.elapsedSeconds)}`,
        `pages recorded: ${summary.pages} (${statuses}); failed: ${summary.failed}; still queued: ${summary.remaining}`,
        given || options.keep
          ? `results: an Index in ${path.join(directory, 'results')} (Python: diskcache.Index(path)); run again with the same --dir to resume`
          : 'results: in a temporary directory, now removed (give -d DIR to keep the crawl and resume it)',
      ];
      if (site)
        lines.push(
          `demo site: ${site.reachablePages} pages reachable; pages fetched twice without need: ${duplicates.length}`,
        );
      return lines.join('\n');
    });
  } finally {
    removeSignals();
    await site?.close();
    if (!given && !options.keep) fs.rmSync(directory, { recursive: true, force: true });
  }
}

/** Registers `diskcache crawl [url]` on the root program. */
export function registerCrawlCommand(program: Command, io: CliIo): void {
  program
    .command('crawl')
    .description(
      'crawl a site with several worker processes, resumably (no URL: a built-in demo site on 127.0.0.1)',
    )
    .argument('[url]', 'the start page (only links to its origin are followed)')
    .addOption(
      new Option('-p, --processes <n>', 'worker processes')
        .argParser(positive('--processes'))
        .default(3),
    )
    .addOption(
      new Option('-c, --concurrency <m>', 'requests each process runs at once')
        .argParser(positive('--concurrency'))
        .default(8),
    )
    .addOption(
      new Option('--max-pages <n>', 'stop queueing pages beyond this many')
        .argParser(positive('--max-pages'))
        .default(10_000),
    )
    .addOption(
      new Option('--max-depth <n>', 'links followed this many hops from the start at most')
        .argParser(positive('--max-depth'))
        .default(10),
    )
    .addOption(
      new Option('--site-pages <n>', 'pages of the built-in demo site')
        .argParser(positive('--site-pages'))
        .default(300),
    )
    .option(
      '-q, --queue <dir>',
      'the crawl directory, a work queue (the same as -d/--dir; kept, and resumed on a second run)',
    )
    .option('--keep', 'keep the temporary crawl directory when no --dir is given')
    .addHelpText(
      'after',
      '\nWith -d/--dir DIR (or --queue DIR) the crawl is kept in DIR: stop it (Ctrl-C, or kill it) and run the same command again to resume.\n' +
        helpExamples(
          'diskcache crawl',
          'diskcache crawl -d ./crawl --max-pages 100 http://127.0.0.1:8080/',
        ),
    )
    .action(action(io, (context, url) => runCrawl(context, url)));
}
