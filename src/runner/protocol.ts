/**
 * protocol: what the runner's parent and its children say to each other (and a child to the
 * quarantine process it forks for a suspect job), and where the entry files are. A child gets its
 * configuration as one JSON argument; afterwards they talk over the IPC channel. Shared by
 * run-workers.ts, child.ts and quarantine*.ts; it must not do any work itself.
 */
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { WorkerCounts } from './worker-loop.js';

/** The child's configuration (argv[2], JSON). */
export interface ChildConfig {
  /** The queue's locator: a directory, or `redis://…#name` (the child opens it with openQueue). */
  readonly queue: string;
  /** Absolute path of the handler module. */
  readonly handler: string;
  readonly concurrency: number;
  readonly leaseSeconds: number;
  readonly graceSeconds: number;
  /** Seconds a job may run before it fails with JobTimeoutError; null: no limit. */
  readonly jobTimeoutSeconds: number | null;
  /** A completed job keeps its slot until its ack is written (runWorkers' option). */
  readonly holdSlotUntilAcked: boolean;
  /** Ids of the jobs to run alone, each in a fresh quarantine process (see quarantine.ts). */
  readonly suspects: readonly number[];
  /** Node options for the quarantine processes (those of the child itself). */
  readonly execArgv: readonly string[];
}

/** Parent → child. `suspects` replaces the child's set of jobs to run alone. */
export type ParentMessage =
  | { readonly type: 'stop'; readonly graceSeconds: number }
  | { readonly type: 'suspects'; readonly ids: readonly number[] };

/**
 * Child → parent: what the child holds, as the changes since its previous report. The child sends
 * one before any job of a new batch starts (so the parent knows every lease a dying child held),
 * and otherwise at most about once a millisecond (so that reports cost nothing next to the jobs).
 */
export interface JobsReport {
  readonly type: 'jobs';
  /** Jobs leased since the previous report, as [id, attempt, id, attempt, …], in start order. */
  readonly taken: readonly number[];
  /** How many of the jobs this child ever took have started (they start in taken order). */
  readonly started: number;
  /** Ids of the jobs whose lease the child no longer holds (settled, given back or lost). */
  readonly ended: readonly number[];
}

/** Child → parent. `counts` are cumulative for the child's life. */
export type ChildMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'counts'; readonly counts: WorkerCounts }
  | JobsReport
  /** A quarantine process started (`pid`) or ended (no `pid`) for job `id`. */
  | { readonly type: 'quarantine'; readonly id: number; readonly pid?: number }
  /** Job `id`, run alone, settled without killing its process: it is no longer a suspect. */
  | { readonly type: 'cleared'; readonly id: number };

/** Child → quarantine process: run this job (structured clone: the payload as the queue decoded it). */
export type QuarantineRequest =
  | {
      readonly type: 'run';
      readonly payload: unknown;
      readonly id: number;
      readonly key: string | undefined;
      readonly attempt: number;
    }
  | { readonly type: 'abort'; readonly name: string; readonly message: string };

/** A thrown value, as a quarantine process reports it. */
export interface QuarantineError {
  readonly name: string;
  readonly message: string;
  readonly stack: string;
  /** The error's `retryInSeconds` (RetryLaterError), when it has one. */
  readonly retryInSeconds?: number;
}

/** Quarantine process → child: the job starts now (its handler is loaded), and how it ended. */
export type QuarantineReply =
  | { readonly type: 'started' }
  | { readonly type: 'result'; readonly value: unknown }
  | { readonly type: 'error'; readonly error: QuarantineError };

/** Exit code of a child whose handler module cannot be loaded: the parent does not restart it. */
export const EXIT_HANDLER_MODULE = 78;

const here = fileURLToPath(import.meta.url);
/** The child entry beside this file: child.ts when running from source (through tsx), child.js from dist. */
export const CHILD_ENTRY = path.join(path.dirname(here), `child${path.extname(here)}`);
/** The entry of a quarantine process, beside this file likewise. */
export const QUARANTINE_ENTRY = path.join(
  path.dirname(here),
  `quarantine-child${path.extname(here)}`,
);

const TYPESCRIPT = /\.[cm]?tsx?$/;

/**
 * Node options for a child: tsx's loader when the child entry or the handler is TypeScript (it
 * is resolved from here, so it works whatever the working directory), else none.
 * @throws Error when TypeScript must be loaded and tsx is not installed.
 */
export function childExecArgv(handlerFile: string): string[] {
  if (!TYPESCRIPT.test(CHILD_ENTRY) && !TYPESCRIPT.test(handlerFile)) return [];
  let loader: string;
  try {
    loader = createRequire(import.meta.url).resolve('tsx');
  } catch (error) {
    throw new Error(`running the TypeScript handler ${handlerFile} needs tsx: npm install tsx`, {
      cause: error,
    });
  }
  return ['--import', pathToFileURL(loader).href];
}
