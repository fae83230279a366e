/**
 * The dashboard in a real browser (Debian's chromium, headless, driven by playwright-core): the
 * page renders the counts of two queues (a directory and a Redis locator), a click on "Retry
 * failed" moves the failed jobs back to pending, "Purge done" (once confirmed) deletes the done
 * jobs, and a job put by another process appears without a reload. The page raises no script
 * error and no Content-Security-Policy violation (everything it loads comes from the dashboard).
 * A screenshot is kept in .tmp/artifacts/ (gitignored).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkQueue } from '../../src/collections/work-queue.js';
import { type Dashboard, startDashboard } from '../../src/dashboard/server.js';
import { RedisWorkQueue } from '../../src/redis/index.js';
import { ROOT } from '../cli/run-cli.js';
import { exited, forkFixture, message } from '../helpers/children.js';
import { findRedisServer, RedisServer } from '../helpers/redis-server.js';
import { tempDir } from '../helpers/tmp.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = path.join(ROOT, '.tmp', 'artifacts');
const hasChromium = fs.existsSync(CHROMIUM);
// CI installs both (.ci/run); without redis-server the Redis helpers fail loudly in CI.
const runnable = hasChromium && findRedisServer() !== null;
const title = runnable
  ? 'dashboard in a browser'
  : `dashboard in a browser (skipped: ${hasChromium ? 'redis-server' : CHROMIUM} is missing: apt-get install -y chromium redis-server)`;

describe.skipIf(!runnable)(title, () => {
  let server: RedisServer;
  let browser: Browser;
  let dashboard: Dashboard;
  let page: Page;
  let directory: string;
  const problems: string[] = [];

  beforeAll(async () => {
    server = await RedisServer.start();
    directory = path.join(tempDir('dashboard-browser'), 'jobs');
    const queue = new WorkQueue<string>(directory, { maxAttempts: 1 });
    queue.putMany(['a', 'b', 'c']);
    for (let i = 0; i < 3; i++) queue.take()!.fail(new Error(`no luck ${i}`));
    queue.putMany(['d', 'e']);
    queue.take()!.ack();
    queue.close();
    const redis = new RedisWorkQueue<number>(server.locator('remote'));
    await redis.putMany([1, 2, 3, 4, 5, 6]);
    const job = await redis.take();
    await redis.ack(job!, 'result');
    await redis.close();
    dashboard = await startDashboard({
      locators: [directory, server.locator('remote')],
      intervalMs: 250,
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (entry) => {
      if (entry.type() === 'error') problems.push(`console: ${entry.text()}`);
    });
    page.on('requestfailed', (request) => problems.push(`request failed: ${request.url()}`));
    await page.goto(dashboard.url);
  });
  afterAll(async () => {
    await browser?.close();
    await dashboard?.close();
    await server?.stop();
  });

  const count = (queue: number, name: string) =>
    page.locator(`[data-queue="${queue}"] [data-count="${name}"]`);

  it('renders the counts of a directory queue and a Redis queue', async () => {
    await expect.poll(() => count(0, 'failed').textContent(), { timeout: 30_000 }).toBe('3');
    expect(await count(0, 'pending').textContent()).toBe('1');
    expect(await count(0, 'done').textContent()).toBe('1');
    await expect.poll(() => count(1, 'pending').textContent(), { timeout: 30_000 }).toBe('5');
    expect(await count(1, 'done').textContent()).toBe('1');
    const heading = await page.locator('[data-queue="1"] h2').textContent();
    expect(heading).toContain(`redis://127.0.0.1:${server.port}/0#remote`);
    // The failed jobs are listed with their attempts and errors; the chart is drawn.
    await expect
      .poll(() => page.locator('[data-queue="0"] tr[data-job]').count(), { timeout: 30_000 })
      .toBe(3);
    expect(await page.locator('[data-queue="0"] .failed-jobs').textContent()).toContain(
      'no luck 1',
    );
    expect(await page.locator('#chart canvas').count()).toBeGreaterThan(0);
  });

  it('moves the failed jobs back to pending on a click of "Retry failed"', async () => {
    await page.evaluate(() => {
      (globalThis as { notReloaded?: boolean }).notReloaded = true;
    });
    await page.locator('[data-queue="0"] button[data-action="retry-failed"]').click();
    await expect.poll(() => count(0, 'failed').textContent(), { timeout: 30_000 }).toBe('0');
    expect(await count(0, 'pending').textContent()).toBe('4');
    expect(await page.locator('[data-queue="0"] .message').textContent()).toBe(
      'moved 3 failed jobs back to pending',
    );
    const queue = new WorkQueue(directory);
    expect(queue.stats()).toEqual({ pending: 4, leased: 0, done: 1, failed: 0 });
    queue.close();
  });

  it('purges the done jobs of the Redis queue after the confirmation', async () => {
    page.once('dialog', (dialog) => void dialog.accept());
    await page.locator('[data-queue="1"] button[data-action="purge-done"]').click();
    await expect.poll(() => count(1, 'done').textContent(), { timeout: 30_000 }).toBe('0');
    expect(await page.locator('[data-queue="1"] .message').textContent()).toBe(
      'purged 1 done jobs',
    );
    const queue = new RedisWorkQueue(server.locator('remote'));
    expect(await queue.stats()).toEqual({ pending: 5, leased: 0, done: 0, failed: 0 });
    await queue.close();
  });

  it('shows a job put by another process without a reload', async () => {
    const child = forkFixture('queue-put-later.ts', [directory, '100', 'from another process']);
    await message(child, () => true);
    expect(await exited(child)).toBe(0);
    await expect.poll(() => count(0, 'pending').textContent(), { timeout: 30_000 }).toBe('5');
    expect(await page.evaluate(() => (globalThis as { notReloaded?: boolean }).notReloaded)).toBe(
      true,
    );
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-browser.png'), fullPage: true });
    expect(problems).toEqual([]);
  });
});
