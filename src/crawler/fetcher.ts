/**
 * fetcher: one HTTP GET with undici, bounded in time and size, redirects not followed (the
 * crawler follows them hop by hop, so that each hop is deduplicated and checked like a link).
 * Network errors and timeouts are thrown; HTTP statuses are data. It knows nothing of queues.
 */
import { request } from 'undici';

/** What a fetch returns. */
export interface FetchResult {
  readonly status: number;
  /** The Content-Type header as sent ('' when absent). */
  readonly contentType: string;
  /** Response headers, lower-case names; repeated headers joined with ', '. */
  readonly headers: Readonly<Record<string, string>>;
  /** The raw body (up to `maxBytes`). */
  readonly body: Buffer;
  readonly bytes: number;
  /** Whether the body was cut at `maxBytes`. */
  readonly truncated: boolean;
}

/** Options of `fetchPage`. */
export interface FetchOptions {
  /** Seconds before the request is abandoned (headers, then between body chunks). @default 10 */
  readonly timeoutSeconds?: number;
  /** Bytes of body kept at most. @default 2_000_000 */
  readonly maxBytes?: number;
  readonly userAgent?: string;
  readonly signal?: AbortSignal;
}

/** Fetches `url` with GET; a redirect is returned as it is (see `headers.location`). */
export async function fetchPage(url: string, options: FetchOptions = {}): Promise<FetchResult> {
  const timeoutMs = (options.timeoutSeconds ?? 10) * 1000;
  const maxBytes = options.maxBytes ?? 2_000_000;
  const response = await request(url, {
    method: 'GET',
    headers: {
      'user-agent': options.userAgent ?? 'node-diskcache-crawler/0.1',
      accept: 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.5',
    },
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    signal: options.signal,
  });
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(response.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  const chunks: Buffer[] = [];
  let bytes = 0;
  let truncated = false;
  // A redirect's body is not needed: drop it without reading it all.
  if (response.statusCode >= 300 && response.statusCode < 400 && headers.location) {
    await response.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
  } else {
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
  }
  return {
    status: response.statusCode,
    contentType: headers['content-type'] ?? '',
    headers,
    body: Buffer.concat(chunks),
    bytes,
    truncated,
  };
}

/** A short, stable description of a fetch error (undici's code and message). */
export function describeFetchError(error: unknown): string {
  const code = (error as { code?: unknown })?.code;
  const cause = (error as { cause?: { code?: unknown } })?.cause?.code;
  const message = (error as Error)?.message ?? String(error);
  const codes = [code, cause].filter((part) => typeof part === 'string' && part !== '');
  return codes.length > 0 ? `${[...new Set(codes)].join('/')}: ${message}` : message;
}

/** Seconds a Retry-After header asks for (delta-seconds or an HTTP date), if it says. */
export function retryAfterSeconds(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text);
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, (date - now) / 1000);
}
