/**
 * reporter: the child's side of the job reports (protocol.ts `JobsReport`). The worker loop tells
 * it what it takes, starts and lets go of; it tells the parent, so that when this process dies the
 * parent knows which leases it held and which jobs were running. It must stay cheap: a report per
 * batch taken, and otherwise at most one every COALESCE_MS (never one per job), whatever the jobs'
 * speed: an IPC message costs both processes tens of microseconds, as much as a short job. A start
 * the parent has not heard of yet is covered by the parent's rules for a death (ledger.ts: with
 * none reported running, the first jobs in start order are suspects; a job in two deaths is one).
 * It knows nothing of the queue.
 */
import type { LeaseId } from '../collections/async-work-queue.js';
import type { JobsReport } from './protocol.js';
import type { JobTracker } from './worker-loop.js';

/** Starts and ends closer together than this (ms) are reported together. */
const COALESCE_MS = 10;

export class JobReporter implements JobTracker {
  readonly #send: (report: JobsReport) => void;
  #taken: number[] = [];
  #ended: number[] = [];
  #started = 0;
  #sentStarted = 0;
  #sentAt = Number.NEGATIVE_INFINITY;
  #scheduled = false;

  /** `send` must send at once (process.send does: it writes to the pipe when it can). */
  constructor(send: (report: JobsReport) => void) {
    this.#send = send;
  }

  taken(jobs: readonly LeaseId[]): void {
    for (const job of jobs) this.#taken.push(job.id, job.attempt);
    // Before any of them starts: a job that kills the process at once must be known to be held.
    this.flush();
  }

  started(): void {
    this.#started++;
    // A job that starts long after the previous report is announced before it runs: if it kills
    // the process, the parent knows it was running. Quick ones are batched.
    if (performance.now() - this.#sentAt >= COALESCE_MS) this.flush();
    else this.#schedule();
  }

  ended(job: LeaseId): void {
    this.#ended.push(job.id);
    this.#schedule();
  }

  /** Sends what changed since the last report, if anything did. */
  flush(): void {
    if (this.#taken.length === 0 && this.#ended.length === 0 && this.#started === this.#sentStarted)
      return;
    const report: JobsReport = {
      type: 'jobs',
      taken: this.#taken,
      started: this.#started,
      ended: this.#ended,
    };
    this.#taken = [];
    this.#ended = [];
    this.#sentStarted = this.#started;
    this.#sentAt = performance.now();
    this.#send(report);
  }

  /** Flushes COALESCE_MS after the last report (at the end of this turn if that is past). */
  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    const wait = this.#sentAt + COALESCE_MS - performance.now();
    const flush = () => {
      this.#scheduled = false;
      this.flush();
    };
    if (wait <= 0) setImmediate(flush);
    // Unref'd: a child about to exit flushes on 'exit' and in its finally block.
    else setTimeout(flush, wait).unref();
  }
}
