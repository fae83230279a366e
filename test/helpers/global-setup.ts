/**
 * vitest globalSetup: builds dist/ once per run (`tsc -p tsconfig.build.json`) so that the CLI
 * tests run `node dist/cli/main.js` (about 0.5 s a call) instead of loading src/ through tsx
 * (1.5 to 4 s a call on a loaded machine). The build is skipped when every src/ file already
 * has a compiled dist/ file newer than all sources and tsconfig files. Concurrent runs in the
 * same checkout take turns through a lock directory under .tmp/, so that one never reads
 * half-written output of the other. It must not build anything but dist/.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SRC = path.join(ROOT, 'src');
const DIST = path.join(ROOT, 'dist');
const CONFIGS = ['tsconfig.json', 'tsconfig.build.json'].map((name) => path.join(ROOT, name));
const LOCK = path.join(ROOT, '.tmp', 'dist-build.lock');
/** A lock older than this is left over from a killed run (a build takes ~10 s idle). */
const STALE_LOCK_MS = 5 * 60_000;

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

export default async function setup(): Promise<void> {
  if (staleReason() === undefined) return;
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
    process.stdout.write(
      `globalSetup: built dist/ in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
    );
  });
}
