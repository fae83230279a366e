/**
 * child: the entry of one runner child process (forked by run-workers.ts, never imported). It
 * loads the handler, opens the queue, runs the worker loop, and stops gracefully on the parent's
 * `stop` message, on SIGINT/SIGTERM (Ctrl-C reaches the whole process group), or when the parent
 * goes away (the IPC channel closes), so that no child outlives its runner for long.
 */
import { WorkQueue } from '../collections/work-queue.js';
import { loadHandler } from './handler.js';
import {
  type ChildConfig,
  type ChildMessage,
  EXIT_HANDLER_MODULE,
  type ParentMessage,
} from './protocol.js';
import { emptyCounts, runWorkerLoop } from './worker-loop.js';

/** How often the child tells the parent its counts. */
const COUNTS_INTERVAL_MS = 500;

function send(message: ChildMessage, callback?: () => void): void {
  if (process.connected && process.send)
    process.send(message, undefined, {}, callback ? () => callback() : undefined);
  else callback?.();
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '') as ChildConfig;
  const stop = new AbortController();
  let graceSeconds = config.graceSeconds;
  process.on('message', (message: ParentMessage) => {
    if (message?.type !== 'stop') return;
    if (typeof message.graceSeconds === 'number') graceSeconds = message.graceSeconds;
    stop.abort();
  });
  process.on('disconnect', () => stop.abort());
  // A second signal means "now": the leases of running jobs then simply run out. Count signals,
  // not stops: on Ctrl-C the parent's stop message may arrive before our own SIGINT.
  let signals = 0;
  const onSignal = () => {
    if (++signals > 1) process.exit(130);
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let handler: Awaited<ReturnType<typeof loadHandler>>;
  try {
    handler = await loadHandler(config.handler);
  } catch (error) {
    process.stderr.write(`diskcache worker ${process.pid}: ${(error as Error).message}\n`);
    process.exit(EXIT_HANDLER_MODULE);
  }
  const queue = new WorkQueue(config.queue);
  send({ type: 'ready' });
  const counts = emptyCounts();
  const reporter = setInterval(() => send({ type: 'counts', counts }), COUNTS_INTERVAL_MS);
  try {
    await runWorkerLoop({
      queue,
      handler,
      concurrency: config.concurrency,
      leaseSeconds: config.leaseSeconds,
      stop: stop.signal,
      graceSeconds: () => graceSeconds,
      counts,
    });
  } finally {
    clearInterval(reporter);
    queue.close();
  }
  // Exit explicitly: a handler may leave timers or sockets open that would keep the process alive.
  send({ type: 'counts', counts }, () => process.exit(0));
}

main().catch((error: unknown) => {
  process.stderr.write(
    `diskcache worker ${process.pid}: ${(error as Error)?.stack ?? String(error)}\n`,
  );
  process.exit(1);
});
