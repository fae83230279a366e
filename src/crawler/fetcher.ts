/**
 * fetcher: one HTTP GET with undici, bounded in time and size, returning what the crawler needs.
 * Network errors and timeouts are thrown (the work queue retries them); HTTP statuses are data.
 */
import { request } from 'undici';

/** What a fetch returns. */
export interface FetchResult {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
  readonly bytes: number;
  /** Whether the body was cut at `maxBytes`. */
  readonly truncated: boolean;
}

/** Options of `fetchPage`. */
export interface FetchOptions {
  /** Seconds before the request is abandoned. @default 10 */
  readonly timeoutSeconds?: number;
  /** Bytes of body kept at most. @default 2_000_000 */
  readonly maxBytes?: number;
  readonly userAgent?: string;
  readonly signal?: AbortSignal;
}

/** Fetches `url` with GET. */
export async function fetchPage(url: string, options: FetchOptions = {}): Promise<FetchResult> {
  const timeoutMs = (options.timeoutSeconds ?? 10) * 1000;
  const maxBytes = options.maxBytes ?? 2_000_000;
  const response = await request(url, {
    method: 'GET',
    headers: { 'user-agent': options.userAgent ?? 'node-diskcache-crawler/0.1' },
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    signal: options.signal,
  });
  const chunks: Buffer[] = [];
  let bytes = 0;
  let truncated = false;
  for await (const chunk of response.body) {
    const buffer = chunk as Buffer;
    if (bytes + buffer.length > maxBytes) {
      chunks.push(buffer.subarray(0, maxBytes - bytes));
      bytes = maxBytes;
      truncated = true;
      response.body.destroy();
      break;
    }
    chunks.push(buffer);
    bytes += buffer.length;
  }
  const header = response.headers['content-type'];
  return {
    status: response.statusCode,
    contentType: Array.isArray(header) ? (header[0] ?? '') : (header ?? ''),
    body: Buffer.concat(chunks).toString('utf8'),
    bytes,
    truncated,
  };
}
