/**
 * The handler of examples/resumable-hash.ts: one job = one file. It returns the file's SHA-256
 * and size, which the runner stores in the queue's results Index under the job's key (the path).
 * Hashing a file twice (after a crash) gives the same result, so at-least-once delivery is harmless.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { JobContext } from '../src/index.js';

export default async function hashFile(
  file: string,
  job: JobContext,
): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  // The signal aborts when the lease is lost or the runner stops past its grace period.
  for await (const chunk of createReadStream(file, { signal: job.signal })) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
}
