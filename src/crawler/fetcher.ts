/**
 * fetcher: one HTTP GET with Node's own http/https client (keep-alive agents, one per process),
 * bounded in time and size, redirects not followed (the crawler follows them hop by hop, so that
 * each hop is deduplicated and checked like a link). Network errors and timeouts are thrown; HTTP
 * statuses are data. It knows nothing of queues.
 *
 * Why not undici: loading it costs a worker process about 20 MB and a quarter of a second of CPU
 * at start-up (the crawl bench's figures, docs/crawler.md), more than all the requests of a small
 * crawl; node:http is already in the process and keeps connections alive just as well.
 */
import * as http from 'node:http';

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

/** Bytes of a redirect's body read (and dropped) so that its connection can be reused. */
const REDIRECT_BODY_LIMIT = 64 * 1024;

const httpClient = {
  get: http.get,
  agent: new http.Agent({ keepAlive: true, scheduling: 'lifo' }),
};
let httpsClient: typeof httpClient | undefined;

/**
 * node:https and its agent, loaded with the first https URL: loading it (TLS) costs a process
 * about 1 MiB and up to a tenth of a second, for nothing in a crawl of an http site.
 */
function secureClient(): typeof httpClient {
  if (httpsClient === undefined) {
    const https = process.getBuiltinModule('node:https');
    httpsClient = {
      get: https.get,
      agent: new https.Agent({ keepAlive: true, scheduling: 'lifo' }),
    };
  }
  return httpsClient;
}

/** A network error with a code, as describeFetchError shows it. */
function fetchError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/** Fetches `url` with GET; a redirect is returned as it is (see `headers.location`). */
export function fetchPage(url: string, options: FetchOptions = {}): Promise<FetchResult> {
  const timeoutSeconds = options.timeoutSeconds ?? 10;
  const maxBytes = options.maxBytes ?? 2_000_000;
  const target = new URL(url);
  const client =
    target.protocol === 'https:'
      ? secureClient()
      : target.protocol === 'http:'
        ? httpClient
        : undefined;
  if (client === undefined)
    return Promise.reject(new TypeError(`fetchPage: not an http(s) URL: ${url}`));
  return new Promise<FetchResult>((resolve, reject) => {
    const request = client.get(
      target,
      {
        agent: client.agent,
        headers: {
          'user-agent': options.userAgent ?? 'node-diskcache-crawler/0.1',
          accept: 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.5',
        },
        signal: options.signal,
      },
      (response) => {
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(response.headers)) {
          if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
        }
        const status = response.statusCode ?? 0;
        const redirect = status >= 300 && status < 400 && headers.location !== undefined;
        const limit = redirect ? REDIRECT_BODY_LIMIT : maxBytes;
        const chunks: Buffer[] = [];
        let bytes = 0;
        let truncated = false;
        const finish = () =>
          resolve({
            status,
            contentType: headers['content-type'] ?? '',
            headers,
            body: redirect ? Buffer.alloc(0) : Buffer.concat(chunks, bytes),
            bytes: redirect ? 0 : bytes,
            truncated,
          });
        response.on('data', (chunk: Buffer) => {
          if (truncated) return;
          if (bytes + chunk.length > limit) {
            chunks.push(chunk.subarray(0, limit - bytes));
            bytes = limit;
            truncated = !redirect;
            // Enough of it: the connection is not reused (the rest of the body is not read).
            request.destroy();
            finish();
            return;
          }
          if (!redirect) chunks.push(chunk);
          bytes += chunk.length;
        });
        response.on('end', finish);
        response.on('error', (error) => {
          if (!truncated) reject(error);
        });
        response.on('close', () => {
          if (!response.complete && !truncated)
            reject(fetchError('ECONNRESET', 'the connection closed before the body ended'));
        });
      },
    );
    // Idle time on the socket: waiting for the headers, then between body chunks.
    request.setTimeout(timeoutSeconds * 1000, () =>
      request.destroy(fetchError('ETIMEDOUT', `no answer for ${timeoutSeconds} s (timeout)`)),
    );
    request.on('error', reject);
  });
}

/** A short, stable description of a fetch error (its code, its cause's code and its message). */
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
