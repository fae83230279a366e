/**
 * vitest globalSetup, two builds once per run:
 * - dist/ (`tsc -p tsconfig.build.json`, then the crawl workers' bundle as `npm run build` makes
 *   it), so that the CLI tests run `node dist/cli/main.js`
 *   (about 0.5 s a call) instead of loading src/ through tsx (1.5 to 4 s a call on a loaded
 *   machine). Skipped when every src/ file already has a compiled dist/ file newer than all
 *   sources and tsconfig files. Concurrent runs in the same checkout take turns through a lock
 *   directory under .tmp/, so that one never reads half-written output of the other.
 * - the child fixtures: src/, test/fixtures/, examples/ and stress/ transpiled file by file (no
 *   type-check, as tsx does) into a fresh directory under .tmp/ for this run only, handed to the
 *   tests as `inject('fixtureBuild')`; forkFixture (and the examples' and stress tests) runs them
 *   with plain node, which saves the half second of CPU that loading tsx costs each of the suite's
 *   hundred-odd child processes.
 * And the native addon (build/Release/diskcache_shm.node), when it is missing: `npm ci` builds it
 * (the package's install script), a checkout whose node_modules came from elsewhere may not have.
 * Its build never fails; CI sets REQUIRE_NATIVE_ADDON=1 so that a missing addon fails a test.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The directory of this run's transpiled src/ and test/fixtures/ (see forkFixture). */
    fixtureBuild: string;
  }
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SRC = path.join(ROOT, 'src');
const DIST = path.join(ROOT, 'dist');
const CONFIGS = ['tsconfig.json', 'tsconfig.build.json'].map((name) => path.join(ROOT, name));
const LOCK = path.join(ROOT, '.tmp', 'dist-build.lock');
/** A lock older than this is left over from a killed run (a build takes ~10 s idle). */
const STALE_LOCK_MS = 5 * 60_000;
/** A fixture build older than this belongs to no running test run. */
const STALE_BUILD_MS = 6 * 3600_000;

/** The compiled CLI the tests run. */
const DIST_CLI = path.join(DIST, 'cli', 'main.js');

function sourceFiles(directory: string): string[] {
  const found: string[] = [];
  for (const entry of fs.readdirSync(directory, { withFileTypes: true })) {
    const full = path.join(directory, entry.name);
    if (entry.isDirectory()) found.push(...sourceFiles(full));
    else if (/\.[cm]?ts$/.test(entry.name) && !entry.name.endsWith('.d.ts')) found.push(full);
  }
  return found;
}

function mtimeMs(file: string): number | undefined {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
}

/** Why dist/ must be (re)built, or undefined when it is up to date. */
function staleReason(): string | undefined {
  const sources = sourceFiles(SRC);
  const newestInput = Math.max(...[...sources, ...CONFIGS].map((file) => mtimeMs(file) ?? 0));
  for (const source of sources) {
    const output = path
      .join(DIST, path.relative(SRC, source))
      .replace(/\.([cm]?)ts$/, (_, kind: string) => `.${kind}js`);
    const built = mtimeMs(output);
    if (built === undefined) return `${path.relative(ROOT, output)} is missing`;
    if (built < newestInput) return `${path.relative(ROOT, output)} is older than the sources`;
  }
  return undefined;
}

async function withLock<T>(fn: () => T): Promise<T> {
  fs.mkdirSync(path.dirname(LOCK), { recursive: true });
  for (;;) {
    try {
      fs.mkdirSync(LOCK);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const age = Date.now() - (mtimeMs(LOCK) ?? Date.now());
      if (age > STALE_LOCK_MS) fs.rmSync(LOCK, { recursive: true, force: true });
      else await sleep(200);
    }
  }
  try {
    return fn();
  } finally {
    fs.rmSync(LOCK, { recursive: true, force: true });
  }
}

/** Transpiles src/, test/fixtures/, examples/ and stress/ into a new directory under .tmp/. */
function buildFixtures(): string {
  const ts = createRequire(import.meta.url)('typescript') as typeof import('typescript');
  const { options } = ts.parseJsonConfigFileContent(
    ts.readConfigFile(path.join(ROOT, 'tsconfig.json'), ts.sys.readFile).config,
    ts.sys,
    ROOT,
  );
  // ES modules whatever transpileModule guesses without package.json at hand (it picks CommonJS).
  const compilerOptions = {
    ...options,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    declaration: false,
    sourceMap: false,
    inlineSourceMap: true,
  };
  const parent = path.join(ROOT, '.tmp');
  fs.mkdirSync(parent, { recursive: true });
  // Builds left by runs that were killed before their teardown.
  for (const name of fs.readdirSync(parent)) {
    const full = path.join(parent, name);
    if (name.startsWith('fixtures-build-') && Date.now() - (mtimeMs(full) ?? 0) > STALE_BUILD_MS)
      fs.rmSync(full, { recursive: true, force: true });
  }
  const out = fs.mkdtempSync(path.join(parent, 'fixtures-build-'));
  const fixtures = path.join(ROOT, 'test', 'fixtures');
  const others = ['examples', 'stress'].flatMap((name) => sourceFiles(path.join(ROOT, name)));
  for (const source of [...sourceFiles(SRC), ...sourceFiles(fixtures), ...others]) {
    const { outputText } = ts.transpileModule(fs.readFileSync(source, 'utf8'), {
      compilerOptions,
      fileName: source,
    });
    const target = path
      .join(out, path.relative(ROOT, source))
      .replace(/\.([cm]?)ts$/, (_, kind: string) => `.${kind}js`);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, outputText);
  }
  return out;
}

export default async function setup(project: TestProject): Promise<() => void> {
  // Node 20 reads NODE_EXTRA_CA_CERTS's file at the start of every process, whether it uses TLS
  // or not: about 70 ms of CPU each where it is set (this machine sets it to the system's CA
  // list), and the suite starts several hundred node processes. None of them needs a CA from it:
  // the https tests give their own certificate (test/crawler/fetcher.test.ts). The test workers
  // and every process they start inherit the environment without it.
  delete process.env.NODE_EXTRA_CA_CERTS;
  const fixtureBuild = buildFixtures();
  project.provide('fixtureBuild', fixtureBuild);
  await buildDist();
  await buildAddon();
  return () => fs.rmSync(fixtureBuild, { recursive: true, force: true });
}

async function buildDist(): Promise<void> {
  if (staleReason() === undefined) {
    await withLock(bundleCrawlWorker);
    return;
  }
  await withLock(() => {
    const reason = staleReason(); // another run may have built it while we waited
    if (reason === undefined) return;
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    const started = Date.now();
    process.stdout.write(`globalSetup: building dist/ for the CLI tests (${reason})\n`);
    try {
      execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
        encoding: 'utf8',
      });
    } catch (error) {
      // tsc still emits on type errors: the type-check (`tsc --noEmit`, run by `npm test`)
      // reports them; the tests can run on what was emitted. Without output there is no CLI.
      const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
      if (!fs.existsSync(DIST_CLI)) throw new Error(`building dist/ failed:\n${stdout}${stderr}`);
      process.stdout.write(
        `globalSetup: tsc reported errors; testing what it emitted:\n${stdout}${stderr}`,
      );
    }
    bundleCrawlWorker();
    process.stdout.write(
      `globalSetup: built dist/ in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
    );
  });
}

/**
 * The crawl workers' bundle, as `npm run build` makes it after tsc: made again on every run (a
 * tenth of a second), so that the CLI's crawls test what dist/ holds now.
 */
function bundleCrawlWorker(): void {
  execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build.mjs'), '--bundle-only'], {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}

/** Runs the install script (native/install.mjs) when the addon is not built. */
async function buildAddon(): Promise<void> {
  const addon = path.join(ROOT, 'build', 'Release', 'diskcache_shm.node');
  if (fs.existsSync(addon)) return;
  await withLock(() => {
    if (fs.existsSync(addon)) return;
    process.stdout.write('globalSetup: building the native addon (native/install.mjs)\n');
    execFileSync(process.execPath, [path.join(ROOT, 'native', 'install.mjs')], {
      cwd: ROOT,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
  });
}
