import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CrawlSummary } from '../../src/crawler/crawl.js';
import { startDemoSite } from '../../src/crawler/demo-site.js';
import { runCli } from '../cli/run-cli.js';
import { startTrapSite } from '../fixtures/crawl-site.js';
import { tempDir } from '../helpers/tmp.js';

type Report = CrawlSummary & { readonly site: string; readonly directory: string };

const HANDLER = path.resolve(import.meta.dirname, '../../examples/crawl-extract-handler.ts');

describe('diskcache crawl', () => {
  it('crawls the demo site into --dir, keeps its port so that a rerun resumes, and exports the records', async () => {
    const directory = tempDir('crawl-cli');
    const args = ['crawl', '-d', directory, '--site-pages', '40', '-p', '2', '--json'];
    const first = await runCli([...args, '--max-depth', '1', '--handler', HANDLER]);
    expect(first.code, first.stderr).toBe(0);
    const one = JSON.parse(first.stdout) as Report;
    expect(one).toMatchObject({ reason: 'drained', resumed: false, startErrors: [] });
    expect(one.deferred['max-depth']).toBeGreaterThan(0);
    expect(JSON.parse(fs.readFileSync(path.join(directory, 'demo-site.json'), 'utf8')).port).toBe(
      Number(new URL(one.site).port),
    );

    const second = await runCli(args);
    expect(second.code, second.stderr).toBe(0);
    const two = JSON.parse(second.stdout) as Report;
    expect(two).toMatchObject({ reason: 'drained', resumed: true, site: one.site, failed: 0 });
    expect(two.requeued).toBeGreaterThan(0);
    expect(two.deferred).toEqual({ 'max-depth': 0, 'max-pages': 0 });
    // The text summary says where the records are and how to see the crawl in a browser.
    const third = await runCli(args.filter((arg) => arg !== '--json'));
    expect(third.code, third.stderr).toBe(0);
    expect(third.stdout).toContain(`see it in a browser: npx diskcache dashboard ${directory}`);

    const jsonl = await runCli(['crawl', 'export', directory, '--format', 'jsonl']);
    expect(jsonl.code, jsonl.stderr).toBe(0);
    const records = jsonl.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(records).toHaveLength(two.pages);
    const home = records.find((record) => record.url === one.site)!;
    expect(home).toMatchObject({ status: 200, title: 'Page 0', h1: 'Page 0', depth: 0 });
    expect(home.description).toMatch(/^Page 0 of the demo site/); // from the page handler
    for (const field of [
      'finalUrl',
      'redirects',
      'contentType',
      'bytes',
      'outlinks',
      'fetchedAt',
      'elapsed',
    ])
      expect(home).toHaveProperty(field);

    const csv = await runCli(['crawl', 'export', directory, '--format', 'csv']);
    expect(csv.code).toBe(0);
    const lines = csv.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^url,finalUrl,status,contentType,title,bytes,depth,/);
    expect(lines[0]).toContain(',h1,');
    expect(lines).toHaveLength(two.pages + 1);
  }, 120_000);

  it('runs its workers from the built bundle, whose quarantine still isolates a page handler that kills its process', async () => {
    const directory = tempDir('crawl-cli-bundle');
    const killer = path.resolve(import.meta.dirname, '../fixtures/crawl-killer-handler.mjs');
    const args = ['crawl', '-d', directory, '--site-pages', '40', '-p', '2', '-c', '4'];
    const run = await runCli([...args, '--handler', killer, '--json']);
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout) as Report;
    // The page that kills every process it runs in fails alone, after its attempts, with how it
    // died; its neighbours, suspects too, each ran alone once and were recorded.
    expect(summary.failed).toBe(1);
    expect(summary.failures).toHaveLength(1);
    expect(summary.failures[0]!.url).toBe(new URL('/page/3', summary.site).href);
    expect(summary.failures[0]!.error).toMatch(/died: it was killed by signal SIGKILL/);
    const exported = await runCli(['crawl', 'export', directory, '--format', 'jsonl']);
    // Every page fetched went through the page handler (the one robots.txt disallows did not).
    const fetched = exported.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { status: number; entry?: string })
      .filter((record) => record.status > 0);
    expect(fetched.length).toBeGreaterThan(30);
    const entries = new Set(fetched.map((record) => record.entry));
    expect(entries).toEqual(new Set(['crawl-worker.bundle.js', 'quarantine-child.js']));
    // The text summary names the page that failed (a death's error does not).
    const again = await runCli(args);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain(
      `failed after 4 attempts: ${summary.failures[0]!.url}: Error: the process running job`,
    );
  }, 120_000);

  it('exits 6 with the reason when the start page cannot be fetched or redirects to another origin, 2 on bad flags', async () => {
    const site = await startDemoSite({ pages: 5 });
    try {
      const missing = await runCli(['crawl', `${site.url}page/99999`, '-p', '1', '--timeout', '2']);
      expect(missing.code).toBe(6);
      expect(missing.stderr).toContain(
        `the start page could not be fetched: ${site.url}page/99999: HTTP 404`,
      );
    } finally {
      await site.close();
    }
    // A start page that redirects to another origin: not followed under --same-origin, and said.
    const traps = await startTrapSite();
    try {
      const start = `${traps.url}to-other`;
      const other = await runCli(['crawl', start, '-p', '1', '--json']);
      expect(other.code).toBe(6);
      const target = (JSON.parse(other.stdout) as Report).startErrors[0];
      expect(target).toMatch(
        /to-other: redirects to (http:\/\/127\.0\.0\.1:\d+\/target), another origin, which --same-origin does not follow: start from \1, or give --no-same-origin$/,
      );
      expect(other.stderr).toContain('the start page could not be fetched');
      expect(traps.otherHits()).toBe(0);
      const followed = await runCli(['crawl', start, '-p', '1', '--no-same-origin', '--json']);
      expect(followed.code, followed.stderr).toBe(0);
      expect((JSON.parse(followed.stdout) as Report).byStatus).toEqual({ '200': 1, '302': 1 });
      expect(traps.otherHits()).toBe(2); // its robots.txt, then /target
    } finally {
      await traps.close();
    }
    const bad = await runCli(['crawl', '--include', '(', '--rate', '0']);
    expect(bad.code).toBe(2);
  }, 120_000);
});
