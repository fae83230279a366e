/**
 * The dashboard's HTTP server (node:http, no framework): the page and its assets, the JSON API and
 * a server-sent event stream of the samples. Safe by default: it binds to 127.0.0.1; a random
 * token is required on every request (401 otherwise, and nothing changes); actions are POSTs whose
 * token must be in the Authorization header (a link or a form from another site cannot set it,
 * so it cannot act); every response carries a strict Content-Security-Policy; Redis locators are
 * shown without their credentials.
 *
 * Routes (all need the token, as `?token=` or `authorization: Bearer`):
 *   GET  /                                 the page
 *   GET  /app.js /app.css /uplot.js /uplot.css
 *   GET  /api/queues                       [{locator, pending, leased, done, failed}]
 *   GET  /api/queues/:n/failed?limit=N     the failed jobs of queue n
 *   GET  /api/queues/:n/crawl              a crawl's pages by status, hosts, recent pages
 *   POST /api/queues/:n/retry-failed       → {retried}   (token in the header only)
 *   POST /api/queues/:n/purge-done         → {purged}    (token in the header only)
 *   GET  /api/caches                       [{locator, size, volume, hits, misses, statistics}]
 *   GET  /api/state                        {sample, history, historyLength}
 *   GET  /api/events                       text/event-stream: `state`, then a `sample` a second
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { toJson } from '../cli/output.js';
import { Monitor, type MonitorOptions } from './monitor.js';
import { CONTENT_SECURITY_POLICY, PAGE_CSS, PAGE_SCRIPT, pageHtml, uplotFiles } from './page.js';
import { CacheSource, openSource, QueueSource } from './sources.js';

/** Options of `startDashboard`. */
export interface DashboardOptions extends MonitorOptions {
  /** Queue directories, `redis://…#name` locators, crawl directories, Cache directories. */
  readonly locators: readonly string[];
  /** The interface to listen on. @default '127.0.0.1' */
  readonly host?: string;
  /** The port; 0 picks a free one. @default 0 */
  readonly port?: number;
  /** The access token. @default 24 random bytes, base64url */
  readonly token?: string;
}

/** A running dashboard. */
export interface Dashboard {
  /** `http://HOST:PORT/?token=TOKEN`: the address to open. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly token: string;
  readonly monitor: Monitor;
  /** Stops sampling, ends the event streams, closes the server and the queues. */
  close(): Promise<void>;
}

/** Failed jobs listed when the request names no limit. */
const DEFAULT_FAILED_LIMIT = 100;
const MAX_FAILED_LIMIT = 10_000;

class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

function same(given: string, token: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function baseHeaders(): Record<string, string> {
  return {
    'content-security-policy': CONTENT_SECURITY_POLICY,
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'cross-origin-resource-policy': 'same-origin',
  };
}

function send(
  response: http.ServerResponse,
  status: number,
  type: string,
  body: string,
  extra: Record<string, string> = {},
): void {
  response.writeHead(status, {
    ...baseHeaders(),
    'content-type': type,
    'content-length': String(Buffer.byteLength(body)),
    'cache-control': 'no-store',
    ...extra,
  });
  response.end(response.req.method === 'HEAD' ? undefined : body);
}

function sendJson(response: http.ServerResponse, status: number, value: unknown): void {
  send(response, status, 'application/json; charset=utf-8', `${JSON.stringify(toJson(value))}\n`);
}

function checkLocators(locators: unknown): readonly string[] {
  if (!Array.isArray(locators) || locators.length === 0)
    throw new TypeError(
      `locators must be a non-empty array of directories or redis:// locators, got ${JSON.stringify(locators)}`,
    );
  for (const locator of locators)
    if (typeof locator !== 'string' || locator === '')
      throw new TypeError(
        `each locator must be a non-empty string, got ${JSON.stringify(locator)}`,
      );
  return locators;
}

/** Opens the sources, starts sampling and listens; resolves once the server accepts requests. */
export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const locators = checkLocators(options.locators);
  const { host = '127.0.0.1', port = 0 } = options;
  if (typeof host !== 'string' || host === '')
    throw new TypeError(`host must be a non-empty string, got ${JSON.stringify(host)}`);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new RangeError(`port must be an integer from 0 to 65535, got ${port}`);
  const token = options.token ?? randomBytes(24).toString('base64url');
  if (typeof token !== 'string' || token.length < 16)
    throw new RangeError('token must be a string of at least 16 characters');

  const sources: (QueueSource | CacheSource)[] = [];
  const closeSources = () =>
    Promise.allSettled(sources.map((source) => source.close())).then(() => undefined);
  try {
    for (const locator of locators) sources.push(await openSource(locator));
  } catch (error) {
    await closeSources();
    throw error;
  }
  const queues = sources.filter((source): source is QueueSource => source instanceof QueueSource);
  const caches = sources.filter((source): source is CacheSource => source instanceof CacheSource);
  const monitor = new Monitor(queues, caches, options);
  const streams = new Set<http.ServerResponse>();
  const historyLength = options.historyLength ?? 600;

  function queueAt(text: string): QueueSource {
    const queue = queues[Number(text)];
    if (queue === undefined)
      throw new HttpError(404, `no queue ${text} (there are ${queues.length})`);
    return queue;
  }

  function state() {
    return { sample: monitor.latest, history: monitor.history(), historyLength };
  }

  function openStream(response: http.ServerResponse): void {
    response.writeHead(200, {
      ...baseHeaders(),
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    });
    const write = (event: string, value: unknown) =>
      response.write(`event: ${event}\ndata: ${JSON.stringify(toJson(value))}\n\n`);
    response.write('retry: 2000\n\n');
    write('state', state());
    const stop = monitor.subscribe((sample) => write('sample', sample));
    streams.add(response);
    response.once('close', () => {
      stop();
      streams.delete(response);
    });
  }

  async function getRoute(path: string, url: URL, response: http.ServerResponse): Promise<void> {
    const [, queueIndex, queuePage] = /^\/api\/queues\/(\d+)\/(failed|crawl)$/.exec(path) ?? [];
    if (path === '/') return send(response, 200, 'text/html; charset=utf-8', pageHtml(token));
    const cached = { 'cache-control': 'private, max-age=300' };
    if (path === '/app.js')
      return send(response, 200, 'text/javascript; charset=utf-8', PAGE_SCRIPT, cached);
    if (path === '/app.css')
      return send(response, 200, 'text/css; charset=utf-8', PAGE_CSS, cached);
    if (path === '/uplot.js')
      return send(response, 200, 'text/javascript; charset=utf-8', uplotFiles().script, cached);
    if (path === '/uplot.css')
      return send(response, 200, 'text/css; charset=utf-8', uplotFiles().css, cached);
    if (path === '/api/queues') {
      const counts = await Promise.all(
        queues.map(async (queue) => {
          // Exactly the contract's fields, whatever else a backend's stats may hold.
          const { pending, leased, done, failed } = await queue.stats();
          return { locator: queue.locator, pending, leased, done, failed };
        }),
      );
      return sendJson(response, 200, counts);
    }
    if (queuePage === 'failed') {
      const queue = queueAt(queueIndex!);
      const text = url.searchParams.get('limit');
      const limit = text === null ? DEFAULT_FAILED_LIMIT : Number(text);
      if (!Number.isInteger(limit) || limit < 0 || limit > MAX_FAILED_LIMIT)
        throw new HttpError(
          400,
          `limit must be an integer from 0 to ${MAX_FAILED_LIMIT}, got ${text}`,
        );
      const failed = await queue.queue.failed({ limit });
      const jobs = failed.map((job) => ({ ...job, key: job.key ?? null }));
      return sendJson(response, 200, jobs);
    }
    if (queuePage === 'crawl') {
      const queue = queueAt(queueIndex!);
      await queue.refreshCrawl((await queue.stats()).done, Date.now() / 1000);
      if (queue.crawl === undefined) throw new HttpError(404, `${queue.locator} is not a crawl`);
      return sendJson(response, 200, queue.crawl);
    }
    if (path === '/api/caches')
      return sendJson(
        response,
        200,
        caches.map((cache) => cache.view()),
      );
    if (path === '/api/state') return sendJson(response, 200, state());
    if (path === '/api/events') return openStream(response);
    throw new HttpError(404, `no such page: ${path}`);
  }

  async function postRoute(path: string, response: http.ServerResponse): Promise<void> {
    const match = path.match(/^\/api\/queues\/(\d+)\/(retry-failed|purge-done)$/);
    if (!match) throw new HttpError(404, `no such action: ${path}`);
    const index = Number(match[1]);
    const queue = queueAt(match[1]!);
    if (match[2] === 'retry-failed') {
      const retried = await queue.queue.retryFailed();
      sendJson(response, 200, { retried });
    } else {
      const purged = await queue.queue.purgeDone();
      monitor.purged(index, purged);
      sendJson(response, 200, { purged });
    }
    // The open pages see the change now rather than at the next tick.
    void monitor.sample().catch(() => undefined);
  }

  async function handle(request: http.IncomingMessage, response: http.ServerResponse) {
    request.resume(); // no route reads a body
    const url = new URL(request.url ?? '/', 'http://dashboard.invalid');
    const method = request.method ?? 'GET';
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '')?.[1];
    const byHeader = bearer !== undefined && same(bearer, token);
    const byQuery = same(url.searchParams.get('token') ?? '', token);
    try {
      if (method === 'POST') {
        if (!byHeader)
          throw new HttpError(
            401,
            byQuery
              ? 'actions need the token in the Authorization header (Bearer), not in the URL'
              : 'a valid token is required (authorization: Bearer TOKEN)',
          );
        return await postRoute(url.pathname, response);
      }
      if (!byHeader && !byQuery)
        throw new HttpError(
          401,
          'a valid token is required (?token=TOKEN or authorization: Bearer TOKEN)',
        );
      if (method !== 'GET' && method !== 'HEAD')
        throw new HttpError(405, `method ${method} is not allowed`);
      if (/^\/api\/queues\/\d+\/(retry-failed|purge-done)$/.test(url.pathname))
        throw new HttpError(405, 'actions are POST requests');
      return await getRoute(url.pathname, url, response);
    } catch (error) {
      if (response.headersSent) {
        response.destroy();
        return;
      }
      const status = error instanceof HttpError ? error.status : 500;
      const message = error instanceof Error ? error.message : String(error);
      const extra: Record<string, string> = {};
      if (status === 401) extra['www-authenticate'] = 'Bearer';
      if (status === 405)
        extra.allow = /retry-failed|purge-done/.test(url.pathname) ? 'POST' : 'GET, HEAD';
      response.writeHead(status, {
        ...baseHeaders(),
        'content-type': 'application/json; charset=utf-8',
        'cache-control': 'no-store',
        ...extra,
      });
      response.end(`${JSON.stringify({ error: scrubAll(message) })}\n`);
    }
  }

  /** Removes every queue's secrets from a message. */
  function scrubAll(message: string): string {
    return queues.reduce((text, queue) => queue.describe(text), message);
  }

  const server = http.createServer((request, response) => {
    void handle(request, response);
  });
  try {
    await monitor.start();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    monitor.close();
    await closeSources();
    throw error;
  }
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${shownHost}:${address.port}/?token=${encodeURIComponent(token)}`,
    host: address.address,
    port: address.port,
    token,
    monitor,
    close() {
      closing ??= (async () => {
        monitor.close();
        for (const stream of streams) stream.end();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await closeSources();
      })();
      return closing;
    },
  };
}
