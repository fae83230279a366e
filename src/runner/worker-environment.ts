/**
 * worker-environment: the environment `runWorkers` gives its worker processes: the parent's, plus
 * a malloc setting for glibc (Linux) unless the parent's environment already makes one.
 *
 * Why: glibc gives the top of the heap back to the system as soon as 128 KiB of it is free
 * (`M_TRIM_THRESHOLD`), and SQLite allocates and frees its per-statement scratch memory in
 * blocks of about that size. A worker that takes, puts and acks jobs in a loop then grows and
 * shrinks its heap at almost every statement, with a page fault for every page it touches again.
 * Raised to 4 MiB, a crawl worker's cycle (take 6 jobs, put 12 keyed jobs for each, ack the 6
 * with their records) cost 12-17 % less per job (docs/benchmarks.md, "malloc"), for at most
 * 4 MiB of freed memory kept per process.
 */

/** glibc's trim threshold for worker processes, in bytes. */
export const WORKER_TRIM_THRESHOLD = 4 * 1024 * 1024;

/**
 * `base` with `MALLOC_TRIM_THRESHOLD_` set to WORKER_TRIM_THRESHOLD, unless `base` sets it already
 * or sets a trim threshold through `GLIBC_TUNABLES` (the user's choice wins). Only on Linux,
 * where glibc reads it; elsewhere `base` as it is.
 */
export function workerEnvironment(
  base: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
): NodeJS.ProcessEnv {
  if (platform !== 'linux') return base;
  if (base.MALLOC_TRIM_THRESHOLD_ !== undefined) return base;
  if (base.GLIBC_TUNABLES?.includes('glibc.malloc.trim_threshold')) return base;
  return { ...base, MALLOC_TRIM_THRESHOLD_: String(WORKER_TRIM_THRESHOLD) };
}
