/**
 * quarantine: runs one job alone in a fresh process (quarantine-child.ts): the way the runner
 * finds which job killed a worker process. Every job that was running in a process that died is
 * a suspect; run alone, a suspect that kills its process again is the culprit, and its error says
 * how the process died (exit code, signal, out of memory); a suspect that settles is cleared.
 * The child that calls it keeps the job's lease (its heartbeat goes on) and settles the job with
 * what this returns. It never touches the queue.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { AbortError, JobTimeoutError } from '../cache/errors.js';
import type { JobContext } from './handler.js';
import {
  QUARANTINE_ENTRY,
  type QuarantineError,
  type QuarantineReply,
  type QuarantineRequest,
} from './protocol.js';

/** How a job run alone ended. */
export type QuarantineOutcome =
  /** It settled: its handler returned `value` or threw `error`. */
  | { readonly type: 'result'; readonly value: unknown }
  | { readonly type: 'error'; readonly error: Error }
  /** It ran past its timeout (its process is killed unless it ends on the abort). */
  | { readonly type: 'timeout'; readonly error: JobTimeoutError }
  /** Its process died (or could not start) before it settled: `error` says how. */
  | { readonly type: 'died'; readonly error: Error };

export interface QuarantineOptions {
  /** The handler module (absolute path). */
  readonly handlerFile: string;
  /** Node options of the quarantine process. */
  readonly execArgv: readonly string[];
  /** Seconds the job may run, counted from its start in the process (not from the fork). */
  readonly timeoutSeconds?: number;
  /** Seconds the process gets to end after the job's signal aborts, before SIGKILL. */
  readonly killAfterAbortSeconds: number;
  /** Told the process's pid when it starts, and `undefined` once it is gone. */
  readonly onProcess?: (pid: number | undefined) => void;
}

/** V8's last words when the heap limit is reached. */
const OUT_OF_MEMORY = /JavaScript heap out of memory|Reached heap limit|Allocation failed/;
/** How much of the process's stderr is kept to tell how it died. */
const STDERR_TAIL = 8192;

function fromReply(error: QuarantineError): Error {
  const copy = new Error(error.message);
  copy.name = error.name;
  copy.stack = error.stack;
  if (error.retryInSeconds !== undefined)
    Object.assign(copy, { retryInSeconds: error.retryInSeconds });
  return copy;
}

/** An error without the stack of this process, which would say nothing about the job. */
function plainError(message: string): Error {
  const error = new Error(message);
  error.stack = `Error: ${message}`;
  return error;
}

/** Why a quarantine process ended without answering, in words. */
export function describeDeath(
  code: number | null,
  signal: NodeJS.Signals | null,
  stderr: string,
): string {
  const how = signal === null ? `exit code ${code}` : `signal ${signal}`;
  if (OUT_OF_MEMORY.test(stderr))
    return `it ran out of memory (JavaScript heap out of memory, ${how})`;
  if (signal === 'SIGABRT' || code === 134)
    return `it aborted (${how}; without V8's out-of-memory message on stderr)`;
  if (signal !== null) return `it was killed by signal ${signal}`;
  if (code === 0)
    return 'it exited with code 0 before the job settled (process.exit in the handler?)';
  return `it exited with code ${code}`;
}

/** The quarantine processes of this process: killed when it exits, so none outlives it. */
const living = new Set<ChildProcess>();
let exitHook = false;

/** Runs one job alone in a fresh process and tells how it ended. Never rejects. */
export function runAlone(
  payload: unknown,
  context: JobContext,
  options: QuarantineOptions,
): Promise<QuarantineOutcome> {
  return new Promise((resolve) => {
    let outcome: QuarantineOutcome | undefined;
    let stderr = '';
    let killer: NodeJS.Timeout | undefined;
    let deadline: NodeJS.Timeout | undefined;
    const settle = (result: QuarantineOutcome) => {
      outcome ??= result;
    };
    const child = fork(QUARANTINE_ENTRY, [options.handlerFile], {
      execArgv: [...options.execArgv],
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    if (child.pid !== undefined) options.onProcess?.(child.pid);
    living.add(child);
    if (!exitHook) {
      exitHook = true;
      process.on('exit', () => {
        for (const process of living) process.kill('SIGKILL');
      });
    }
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      process.stderr.write(chunk);
      stderr = (stderr + chunk).slice(-STDERR_TAIL);
    });
    child.on('message', (reply: QuarantineReply) => {
      if (reply?.type === 'started' && options.timeoutSeconds !== undefined) {
        deadline = setTimeout(() => {
          const error = new JobTimeoutError(
            `job ${context.id} ran past its timeout of ${options.timeoutSeconds} s (attempt ${context.attempt}, run alone)`,
          );
          settle({ type: 'timeout', error });
          abort(error);
          // The slot is free now; the process ends (or is killed) on its own time.
          resolve(outcome!);
        }, options.timeoutSeconds * 1000);
      } else if (reply?.type === 'result') settle({ type: 'result', value: reply.value });
      else if (reply?.type === 'error') settle({ type: 'error', error: fromReply(reply.error) });
    });
    child.on('error', (error) => {
      settle({
        type: 'died',
        error: plainError(`the process to run job ${context.id} alone failed: ${error.message}`),
      });
      if (child.pid === undefined) finish(null, null);
    });
    const { signal } = context;
    const abort = (reason: Error | undefined) => {
      if (killer !== undefined) return;
      const request: QuarantineRequest = {
        type: 'abort',
        name: reason?.name ?? 'AbortError',
        message: reason?.message ?? 'the job was aborted',
      };
      if (child.connected) child.send(request, (error) => error && undefined);
      killer = setTimeout(() => child.kill('SIGKILL'), options.killAfterAbortSeconds * 1000);
    };
    const onAbort = () => abort(signal.reason as Error | undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    let finished = false;
    const finish = (code: number | null, signalName: NodeJS.Signals | null) => {
      if (finished) return;
      finished = true;
      living.delete(child);
      clearTimeout(killer);
      clearTimeout(deadline);
      signal.removeEventListener('abort', onAbort);
      if (child.pid !== undefined) options.onProcess?.(undefined);
      settle({
        type: 'died',
        error: signal.aborted
          ? new AbortError(`job ${context.id} was aborted`, { cause: signal.reason })
          : plainError(
              `the process running job ${context.id} alone (attempt ${context.attempt}) died: ${describeDeath(code, signalName, stderr)}`,
            ),
      });
      resolve(outcome!);
    };
    // 'close', not 'exit': by then every message and all of stderr have been read.
    child.on('close', finish);
    const request: QuarantineRequest = {
      type: 'run',
      payload,
      id: context.id,
      key: context.key,
      attempt: context.attempt,
    };
    child.send(request, (error) => {
      if (error) {
        settle({
          type: 'died',
          error: plainError(`job ${context.id} could not be sent to its process: ${error.message}`),
        });
        child.kill('SIGKILL');
      }
    });
    if (signal.aborted) onAbort();
  });
}
