/**
 * ledger: the runner parent's record of the leases each child holds, kept from the children's job
 * reports (protocol.ts `JobsReport`), and the suspects. When a child dies, the parent gives its
 * leases back without charging an attempt, and the jobs that were running become suspects: each
 * runs alone in a quarantine process next time (quarantine.ts), which tells the culprit from its
 * innocent neighbours. This file only keeps the books; run-workers.ts talks to the queue and to
 * the processes.
 */
import type { JobsReport } from './protocol.js';

/** A lease a child holds, as its reports tell. */
export interface HeldLease {
  readonly id: number;
  /** The attempt it was leased for: with the id, it names this one lease. */
  readonly attempt: number;
  /** Whether the child reported it started (it may have started without saying so yet). */
  readonly started: boolean;
}

/** What one child holds. */
export class ChildLedger {
  /** By job id, in the order the child will start them (Map keeps insertion order). */
  readonly #held = new Map<number, { readonly attempt: number; readonly index: number }>();
  #taken = 0;
  #started = 0;

  /** Applies a report; returns the ids it ended. */
  apply(report: JobsReport): readonly number[] {
    // A report holds the ends that happened before its takes (takes are reported at once), so a
    // job that failed and was taken again in between is ended, then held again.
    for (const id of report.ended) this.#held.delete(id);
    const { taken } = report;
    for (let i = 0; i + 1 < taken.length; i += 2)
      this.#held.set(taken[i]!, { attempt: taken[i + 1]!, index: this.#taken++ });
    this.#started = Math.max(this.#started, report.started);
    return report.ended;
  }

  /** The leases held, in start order. */
  leases(): HeldLease[] {
    const leases: HeldLease[] = [];
    for (const [id, { attempt, index }] of this.#held)
      leases.push({ id, attempt, started: index < this.#started });
    return leases;
  }

  get size(): number {
    return this.#held.size;
  }
}

/**
 * The jobs to run alone. A job is a suspect when it was running in a process that died, or when
 * it was held by two processes that died (its start may not have been reported); it stops being
 * one when, run alone, it settles without killing its process.
 */
export class Suspects {
  readonly #ids = new Set<number>();
  /** Deaths each job was held at, until it ends normally. */
  readonly #deaths = new Map<number, number>();

  /**
   * Takes the leases of a process that died (`concurrency` jobs at once); returns the ids that
   * became suspects.
   */
  afterDeath(leases: readonly HeldLease[], concurrency: number): number[] {
    const picked = new Set<number>();
    for (const lease of leases) if (lease.started) picked.add(lease.id);
    // None reported running: the ones that started without saying so are the first in order.
    if (picked.size === 0) for (const lease of leases.slice(0, concurrency)) picked.add(lease.id);
    for (const lease of leases) {
      const deaths = (this.#deaths.get(lease.id) ?? 0) + 1;
      this.#deaths.set(lease.id, deaths);
      if (deaths >= 2) picked.add(lease.id);
    }
    const added = [...picked].filter((id) => !this.#ids.has(id));
    for (const id of added) this.#ids.add(id);
    return added;
  }

  /** Jobs a child let go of normally: their deaths are forgotten. */
  ended(ids: readonly number[]): void {
    if (this.#deaths.size === 0) return;
    for (const id of ids) this.#deaths.delete(id);
  }

  /** A suspect settled alone: it is cleared. Returns whether it was a suspect. */
  clear(id: number): boolean {
    this.#deaths.delete(id);
    return this.#ids.delete(id);
  }

  ids(): number[] {
    return [...this.#ids];
  }
}
