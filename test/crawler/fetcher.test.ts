/**
 * fetchPage against a local node:http server that misbehaves on purpose: an answer that never
 * comes (the timeout), a connection reset in the middle of a body, a redirect (returned, not
 * followed, its connection kept for the next request), repeated headers, a body over maxBytes and
 * an aborted signal. Network trouble is thrown with a code that describeFetchError shows. And an
 * https server with a self-signed certificate (test/fixtures/localhost-*.pem, valid 2020-2120).
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeFetchError, fetchPage } from '../../src/crawler/fetcher.js';

let server: http.Server;
let base: string;
const sockets = new Set<number>();

beforeAll(async () => {
  server = http.createServer((request, response) => {
    sockets.add(request.socket.remotePort ?? 0);
    switch (request.url) {
      case '/silent':
        return; // never answers
      case '/reset':
        response.writeHead(200, { 'content-type': 'text/html', 'content-length': '100000' });
        response.write('<p>the start of a body');
        setTimeout(() => request.socket.destroy(), 20);
        return;
      case '/redirect':
        response.writeHead(301, { location: '/target', 'content-type': 'text/html' });
        return response.end('<a href="/target">moved</a>');
      case '/headers':
        response.setHeader('x-many', ['one', 'two']);
        response.setHeader('set-cookie', ['a=1', 'b=2']);
        response.setHeader('content-type', 'TEXT/HTML; Charset=ISO-8859-1');
        return response.end('ok');
      case '/big':
        response.writeHead(200, { 'content-type': 'text/plain' });
        return response.end('x'.repeat(200_000));
      case '/slow':
        setTimeout(() => response.end('late'), 2000);
        return;
      default:
        response.writeHead(404);
        return response.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});

describe('fetchPage', () => {
  it('gives up on a server that never answers after timeoutSeconds, with a code', async () => {
    const began = performance.now();
    const error = await fetchPage(`${base}/silent`, { timeoutSeconds: 0.5 }).catch((e) => e);
    expect(error).toBeInstanceOf(Error);
    expect(describeFetchError(error)).toMatch(/^ETIMEDOUT: no answer for 0.5 s/);
    const seconds = (performance.now() - began) / 1000;
    expect(seconds).toBeGreaterThanOrEqual(0.45);
    expect(seconds).toBeLessThan(10);
  });

  it('throws on a connection reset in the middle of a body', async () => {
    const error = await fetchPage(`${base}/reset`).catch((e) => e);
    expect(describeFetchError(error)).toMatch(/ECONNRESET/);
  });

  it('returns a redirect as it is, without its body, and reuses the connection', async () => {
    sockets.clear();
    const moved = await fetchPage(`${base}/redirect`);
    expect(moved.status).toBe(301);
    expect(moved.headers.location).toBe('/target');
    expect(moved.body.length).toBe(0);
    const next = await fetchPage(`${base}/headers`);
    expect(next.status).toBe(200);
    expect(sockets.size).toBe(1); // one keep-alive connection for both
  });

  it('joins repeated headers, lower-cases names and keeps the content type as sent', async () => {
    const page = await fetchPage(`${base}/headers`);
    expect(page.headers['x-many']).toBe('one, two');
    expect(page.headers['set-cookie']).toBe('a=1, b=2');
    expect(page.contentType).toBe('TEXT/HTML; Charset=ISO-8859-1');
    expect(page.body.toString()).toBe('ok');
    expect(page.truncated).toBe(false);
  });

  it('cuts a body at maxBytes, and the next request still works', async () => {
    const page = await fetchPage(`${base}/big`, { maxBytes: 1000 });
    expect(page.bytes).toBe(1000);
    expect(page.body.length).toBe(1000);
    expect(page.truncated).toBe(true);
    const whole = await fetchPage(`${base}/big`);
    expect(whole.bytes).toBe(200_000);
    expect(whole.truncated).toBe(false);
  });

  it('rejects at once when its signal aborts, with the abort reason', async () => {
    const controller = new AbortController();
    const pending = fetchPage(`${base}/slow`, { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    const began = performance.now();
    const error = await pending.catch((e) => e);
    expect(error?.name).toBe('AbortError');
    expect(performance.now() - began).toBeLessThan(1500);
  });

  it("does not let a finished request's timeout cut the next request on its connection", async () => {
    sockets.clear();
    await fetchPage(`${base}/headers`, { timeoutSeconds: 0.3 });
    const late = await fetchPage(`${base}/slow`, { timeoutSeconds: 5 });
    expect(late.body.toString()).toBe('late');
    expect(sockets.size).toBe(1);
  });

  it('refuses a URL that is not http(s)', async () => {
    await expect(fetchPage('ftp://127.0.0.1/file')).rejects.toThrow(TypeError);
  });
});

describe('fetchPage over https', () => {
  const fixtures = path.resolve(fileURLToPath(import.meta.url), '../../fixtures');
  const certificate = path.join(fixtures, 'localhost-cert.pem');
  let secure: https.Server;
  let secureBase: string;
  beforeAll(async () => {
    secure = https.createServer(
      {
        key: fs.readFileSync(path.join(fixtures, 'localhost-key.pem')),
        cert: fs.readFileSync(certificate),
      },
      (_request, response) => {
        response.writeHead(200, { 'content-type': 'text/html' });
        response.end('<title>over TLS</title>');
      },
    );
    await new Promise<void>((resolve) => secure.listen(0, '127.0.0.1', resolve));
    secureBase = `https://127.0.0.1:${(secure.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    secure.closeAllConnections();
    secure.close();
  });

  it('refuses a certificate it cannot verify, saying why', async () => {
    const error = await fetchPage(`${secureBase}/`).catch((e) => e);
    expect(describeFetchError(error)).toMatch(/^DEPTH_ZERO_SELF_SIGNED_CERT/);
  });

  it('loads node:https with the first https URL only, then fetches over TLS', async () => {
    // In a process of its own that trusts the certificate: node:https is not loaded by the
    // fetcher (nor by an http fetch), only by the first https one.
    const fetcher = path.resolve(fixtures, '../../dist/crawler/fetcher.js');
    const script = `const { fetchPage } = await import(${JSON.stringify(fetcher)});
      const loaded = () => process.moduleLoadList.includes('NativeModule https');
      const before = loaded();
      const plain = await fetchPage(${JSON.stringify(`${base}/headers`)});
      const afterHttp = loaded();
      const page = await fetchPage(${JSON.stringify(`${secureBase}/`)});
      console.log(JSON.stringify({ before, afterHttp, plain: plain.status, status: page.status, body: page.body.toString(), after: loaded() }));
      process.exit(0);`;
    const output = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        ['--input-type=module', '-e', script],
        { env: { ...process.env, NODE_EXTRA_CA_CERTS: certificate } },
        (error, stdout, stderr) =>
          error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout),
      ),
    );
    expect(JSON.parse(output)).toEqual({
      before: false,
      afterHttp: false,
      plain: 200,
      status: 200,
      body: '<title>over TLS</title>',
      after: true,
    });
  });
});
