/**
 * `diskcache dashboard [locator...]`: serves a web page for work queues, crawls and caches (see
 * src/dashboard and docs/dashboard.md). Prints one line, `dashboard: http://HOST:PORT/?token=TOKEN`,
 * on stdout and runs until Ctrl-C (SIGINT) or SIGTERM, then closes cleanly (exit 0). The dashboard
 * module is imported only when this command runs.
 */
import * as path from 'node:path';
import { type Command, Option } from 'commander';
import { action, type CliIo, type CommandContext, optionParser } from './context.js';
import { CliError, EXIT } from './exit-codes.js';
import { helpExamples } from './output.js';
import { onStopSignals } from './work-command.js';

function parsePort(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65_535)
    throw new CliError(
      EXIT.USAGE,
      `--port must be an integer from 0 to 65535, got ${JSON.stringify(text)}`,
    );
  return port;
}

async function runDashboard(context: CommandContext, given: string[]): Promise<void> {
  const { host, port } = context.opts<{ host: string; port: number }>();
  // The CLI's one rule for directories: -d/--dir (or $DISKCACHE_DIR) names it when no locator
  // does; a --dir that differs from every locator given is a usage error.
  const flag = context.options.dir;
  if (given.length > 0 && flag !== undefined && flag !== '') {
    if (!given.some((locator) => path.resolve(locator) === path.resolve(flag)))
      throw new CliError(
        EXIT.USAGE,
        `--dir ${flag} is not among the locators given (name each directory once)`,
      );
  }
  const fallback = context.findDirectory();
  const locators = given.length > 0 ? given : fallback === undefined ? [] : [fallback];
  if (locators.length === 0)
    throw new CliError(
      EXIT.USAGE,
      'no queue given: name queue, crawl or cache directories, or redis://host:port/db#name locators',
    );
  const { startDashboard } = await import('../dashboard/server.js');
  const { DashboardSourceError } = await import('../dashboard/sources.js');
  const controller = new AbortController();
  const removeSignals = onStopSignals(controller);
  try {
    let dashboard: Awaited<ReturnType<typeof startDashboard>>;
    try {
      dashboard = await startDashboard({ locators, host, port });
    } catch (error) {
      if (error instanceof DashboardSourceError)
        throw new CliError(EXIT.BAD_DIRECTORY, error.message, { cause: error });
      if (error instanceof TypeError)
        throw new CliError(EXIT.USAGE, error.message, { cause: error });
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE' || code === 'EADDRNOTAVAIL' || code === 'EACCES')
        throw new CliError(EXIT.USAGE, `cannot listen on ${host}:${port}: ${code}`, {
          cause: error,
        });
      throw error;
    }
    context.io.stdout.write(`dashboard: ${dashboard.url}\n`);
    if (host !== '127.0.0.1' && host !== 'localhost' && host !== '::1')
      context.note(
        `the dashboard listens on ${host}: anyone who can reach it and has the token can retry and purge jobs`,
      );
    await new Promise<void>((resolve) => {
      if (controller.signal.aborted) resolve();
      controller.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    await dashboard.close();
  } finally {
    removeSignals();
  }
}

/** Registers `diskcache dashboard [locator...]` on the root program. */
export function registerDashboardCommand(program: Command, io: CliIo): void {
  program
    .command('dashboard')
    .description(
      'serve a web page showing work queues, crawls and caches live, with retry and purge buttons',
    )
    .argument(
      '[locator...]',
      'queue, crawl or cache directories, or redis://host:port/db#name (default: --dir)',
    )
    .option('--host <host>', 'the interface to listen on (other machines: 0.0.0.0)', '127.0.0.1')
    .addOption(
      new Option('--port <n>', 'the port (0 picks a free one)')
        .argParser(optionParser(parsePort))
        .default(0),
    )
    .addHelpText(
      'after',
      '\nPrints one line, dashboard: http://HOST:PORT/?token=TOKEN; open it in a browser. Every request needs the token. Ctrl-C stops the server.\n' +
        helpExamples(
          'diskcache dashboard ./crawl',
          'diskcache dashboard ./jobs redis://127.0.0.1:6379/0#jobs --port 8080',
        ),
    )
    .action(
      // A variadic argument arrives as one array.
      action(io, (context, ...args) =>
        runDashboard(context, (args as unknown as string[][])[0] ?? []),
      ),
    );
}
