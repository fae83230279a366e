/**
 * child: the entry of one runner child process (forked by run-workers.ts, never imported). It
 * loads the handler, opens the queue by its locator (a directory or a `redis://…#name` URL), runs the worker loop, reports what it holds (reporter.ts),
 * runs the parent's suspect jobs each alone in a quarantine process (quarantine.ts), and stops
 * gracefully on the parent's `stop` message, on SIGINT/SIGTERM (Ctrl-C reaches the whole process
 * group), or when the parent goes away (the IPC channel closes), so that no child outlives its
 * runner for long.
 */
import { openQueue } from '../collections/open-queue.js';
import { type HandlerModuleExports, type JobHandler, loadHandlerModule } from './handler.js';
import {
  type ChildConfig,
  type ChildMessage,
  EXIT_HANDLER_MODULE,
  type ParentMessage,
} from './protocol.js';
import { JobReporter } from './reporter.js';
import { emptyCounts, runWorkerLoop } from './worker-loop.js';

/** How often the child tells the parent its counts. */
const COUNTS_INTERVAL_MS = 500;

function send(message: ChildMessage, callback?: () => void): void {
  if (process.connected && process.send)
    process.send(message, undefined, {}, callback ? () => callback() : undefined);
  else callback?.();
}

/**
 * The handler, except for suspects: those run alone in a quarantine process. A suspect that
 * settles there is cleared (the parent is told); one whose process dies stays a suspect, and its
 * job fails with how the process died.
 */
function guarded(handler: JobHandler, config: ChildConfig, suspects: Set<number>): JobHandler {
  const runSuspect: JobHandler = async (payload, context) => {
    // Loaded at the first suspect: most runs have none, and every worker's start-up pays for a module.
    const { runAlone } = await import('./quarantine.js');
    const outcome = await runAlone(payload, context, {
      handlerFile: config.handler,
      execArgv: config.execArgv,
      killAfterAbortSeconds: Math.min(config.graceSeconds, 5),
      timeoutSeconds: config.jobTimeoutSeconds ?? undefined,
      onProcess: (pid) => send({ type: 'quarantine', id: context.id, pid }),
    });
    // Died or timed out: it stays a suspect (running it among others could stall them).
    if (outcome.type === 'died' || outcome.type === 'timeout') throw outcome.error;
    suspects.delete(context.id);
    send({ type: 'cleared', id: context.id });
    if (outcome.type === 'error') throw outcome.error;
    return outcome.value;
  };
  return (payload, context) =>
    suspects.size > 0 && suspects.has(context.id)
      ? runSuspect(payload, context)
      : handler(payload, context);
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '') as ChildConfig;
  const stop = new AbortController();
  let graceSeconds = config.graceSeconds;
  const suspects = new Set(config.suspects);
  process.on('message', (message: ParentMessage) => {
    if (message?.type === 'suspects') {
      suspects.clear();
      for (const id of message.ids) suspects.add(id);
      return;
    }
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

  // The queue opens (a connection's round trips) while the handler module loads.
  // Its parent gives back the jobs of a child that dies: others must not reclaim them at once
  // (a directory's queue; on Redis leases simply run out).
  const opening = openQueue(config.queue, { leaseSupervisor: process.ppid });
  opening.catch(() => {}); // awaited below, once the handler is loaded
  let loaded: HandlerModuleExports;
  try {
    loaded = await loadHandlerModule(config.handler);
  } catch (error) {
    process.stderr.write(`diskcache worker ${process.pid}: ${(error as Error).message}\n`);
    process.exit(EXIT_HANDLER_MODULE);
  }
  const queue = await opening;
  send({ type: 'ready' });
  const counts = emptyCounts();
  // Also the parent's sign of life: a child that stays silent is stuck (see run-workers.ts).
  const countsTimer = setInterval(() => send({ type: 'counts', counts }), COUNTS_INTERVAL_MS);
  const tracker = new JobReporter((report) => send(report));
  // A handler that calls process.exit: the last report still goes out (the pipe takes it at once).
  process.on('exit', () => tracker.flush());
  try {
    await runWorkerLoop({
      queue,
      handler: guarded(loaded.handler, config, suspects),
      ...(loaded.resultTag ? { resultTag: loaded.resultTag } : {}),
      concurrency: config.concurrency,
      leaseSeconds: config.leaseSeconds,
      jobTimeoutSeconds: config.jobTimeoutSeconds ?? undefined,
      holdSlotUntilAcked: config.holdSlotUntilAcked,
      // A suspect's time counts in its quarantine process, from its start there.
      isTimed: (job) => !suspects.has(job.id),
      stop: stop.signal,
      graceSeconds: () => graceSeconds,
      counts,
      tracker,
    });
  } finally {
    clearInterval(countsTimer);
    tracker.flush();
    await queue.close();
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
