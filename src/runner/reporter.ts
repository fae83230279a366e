/**
 * reporter: the child's side of the job reports (protocol.ts `JobsReport`). The worker loop tells
 * it what it takes, starts and lets go of; it tells the parent, so that when this process dies the
 * parent knows which leases it held and which jobs were running. It must stay cheap: a report per
 * batch taken, and otherwise at most one about every millisecond (never one per job), whatever
 * the jobs' speed. It knows nothing of the queue.
 */
import type { LeaseId } from '../collections/async-work-queue.js';
import type { JobsReport } from './protocol.js';
import type { JobTracker } from './worker-loop.js';

/** Starts closer together than this are reported together, at the end of the event-loop turn. */
const COALESCE_MS = 1;

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

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.flush();
    });
  }
}
