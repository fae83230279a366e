/**
 * The package a user installs. `npm run build` into a staging copy, `npm pack` it, extract the
 * tarball into a temporary app's node_modules (its dependencies symlinked from this repository's
 * node_modules: only the package's own dependency closure, plus keyv for the Keyv adapter), then
 * check it as a user's compiler and Node see it: strict tsc without skipLibCheck (node16 and
 * bundler resolution), a user file run by node, what importing the root loads, the dashboard
 * serving its assets (uPlot from the dependency) from the installed bin, require(esm),
 * publint and attw. Nothing here touches the repository's dist/. See docs/packaging.md.
 */
import { type SpawnSyncOptions, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nativeMissing } from '../helpers/native.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const repoModules = path.join(root, 'node_modules');
const bin = (name: string) => path.join(repoModules, '.bin', name);

interface PackedFile {
  readonly path: string;
  readonly size: number;
}
interface PackResult {
  readonly filename: string;
  readonly size: number;
  readonly unpackedSize: number;
  readonly entryCount: number;
  readonly files: readonly PackedFile[];
}
interface Manifest {
  readonly name: string;
  readonly type?: string;
  readonly engines?: Record<string, string>;
  readonly exports?: Record<string, string | Record<string, string>>;
  readonly bin?: Record<string, string>;
  readonly files?: readonly string[];
  readonly types?: string;
  readonly dependencies?: Record<string, string>;
  readonly optionalDependencies?: Record<string, string>;
  readonly peerDependencies?: Record<string, string>;
  readonly peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

/** Runs a command; throws with its output unless it exits with 0 (or `allowFailure`). */
function run(
  command: string,
  args: readonly string[],
  options: SpawnSyncOptions & { allowFailure?: boolean } = {},
) {
  const result = spawnSync(command, args, {
    encoding: 'utf8',
    timeout: 120_000,
    ...options,
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', ...options.env },
  });
  const stdout = String(result.stdout ?? '');
  const stderr = String(result.stderr ?? '');
  if (result.status !== 0 && !options.allowFailure) {
    throw new Error(
      `${command} ${args.join(' ')} exited with ${result.status ?? result.signal ?? result.error}\n${stdout}\n${stderr}`,
    );
  }
  return { status: result.status, stdout, stderr };
}

/** Runs a command without blocking the event loop; resolves with its exit status and output. */
function runAsync(command: string, args: readonly string[], cwd: string) {
  return new Promise<{ status: number | null; stdout: string; stderr: string }>(
    (resolve, reject) => {
      const child = spawn(command, args, { cwd, env: { ...process.env, NO_COLOR: '1' } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
      });
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      child.on('error', reject);
      child.on('close', (status) => resolve({ status, stdout, stderr }));
    },
  );
}

function readManifest(directory: string): Manifest {
  return JSON.parse(fs.readFileSync(path.join(directory, 'package.json'), 'utf8')) as Manifest;
}

/** Every file under `directory`, as paths relative to it with forward slashes. */
function listFiles(directory: string, prefix = ''): string[] {
  return fs
    .readdirSync(directory, { withFileTypes: true })
    .flatMap((entry) =>
      entry.isDirectory()
        ? listFiles(path.join(directory, entry.name), `${prefix}${entry.name}/`)
        : [`${prefix}${entry.name}`],
    );
}

/**
 * The names `start` needs at run time, transitively, as installed in the repository's (hoisted)
 * node_modules. A package's nested node_modules comes along with its symlink.
 */
function dependencyClosure(start: readonly string[]): Set<string> {
  const seen = new Set<string>();
  const pending = [...start];
  for (let name = pending.pop(); name !== undefined; name = pending.pop()) {
    if (seen.has(name)) continue;
    const directory = path.join(repoModules, name);
    if (!fs.existsSync(directory)) throw new Error(`${name} is not installed in ${repoModules}`);
    seen.add(name);
    const manifest = readManifest(directory);
    const optionalPeers = manifest.peerDependenciesMeta ?? {};
    pending.push(...Object.keys(manifest.dependencies ?? {}));
    pending.push(
      ...Object.keys(manifest.optionalDependencies ?? {}).filter((optional) =>
        fs.existsSync(path.join(repoModules, optional)),
      ),
    );
    pending.push(
      ...Object.keys(manifest.peerDependencies ?? {}).filter(
        (peer) => !optionalPeers[peer]?.optional,
      ),
    );
  }
  return seen;
}

/**
 * The lowest Node.js version an `engines.node` range admits, for the forms packages use
 * (`>=20.18.1`, `20.x || 22.x`, `^20.0.0`, `*`): the smallest version named in any alternative.
 */
function lowestVersion(range: string): number[] {
  const versions = range.split('||').map((alternative) => {
    const match = /(\d+)(?:\.(\d+|x))?(?:\.(\d+|x))?/.exec(alternative);
    if (!match) return [0, 0, 0]; // '*' or 'x': any version
    return [1, 2, 3].map((group) => Number.parseInt(match[group] ?? '0', 10) || 0);
  });
  return versions.sort(compareVersions)[0]!;
}

function compareVersions(left: readonly number[], right: readonly number[]): number {
  for (let part = 0; part < 3; part++) {
    const difference = (left[part] ?? 0) - (right[part] ?? 0);
    if (difference !== 0) return difference;
  }
  return 0;
}

/** What a user's project would write: the root, the crawler and the Keyv adapter, with types. */
const USER_FILE = `import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Keyv from 'keyv';
import {
  Cache,
  type CacheOptions,
  Deque,
  FanoutCache,
  Index,
  Lock,
  type RunSummary,
  runWorkers,
  Timeout,
  WorkQueue,
} from 'node-diskcache';
import { type CrawlOptions, type CrawlSummary, crawl, startDemoSite } from 'node-diskcache/crawler';
import { KeyvDiskcache } from 'node-diskcache/keyv';

interface Greeting {
  readonly hello: string;
}

const directory = mkdtempSync(join(tmpdir(), 'node-diskcache-user-'));
try {
  const options: CacheOptions = { sizeLimit: 2 ** 20, evictionPolicy: 'least-recently-used' };
  const cache = new Cache(join(directory, 'cache'), options);
  cache.set('greeting', { hello: 'world' }, { expire: 60, tag: 'demo' });
  const greeting = cache.get<Greeting>('greeting');
  if (greeting?.hello !== 'world') throw new Error('Cache get returned ' + String(greeting));
  cache.close();

  const jobs = new Deque<string>(join(directory, 'deque'));
  jobs.extend(['a', 'b']);
  if (jobs.popLeft() !== 'a') throw new Error('Deque popLeft');
  jobs.close();

  const keyv = new Keyv<number>({ store: new KeyvDiskcache(join(directory, 'keyv')) });
  await keyv.set('answer', 42, 60_000);
  if ((await keyv.get('answer')) !== 42) throw new Error('Keyv get');
  await keyv.disconnect();

  // The runner forks its child entry from the installed package (dist/runner/child.js).
  const queue = new WorkQueue<number>(join(directory, 'queue'));
  queue.putMany([1, 2, 3], { key: (n) => 'n' + n });
  const run: RunSummary = await runWorkers({ queue, handler: join(process.cwd(), 'double.mjs'), processes: 1, once: true });
  if (run.reason !== 'drained' || queue.results.get('n3') !== 6) throw new Error('runWorkers ' + run.reason);
  queue.close();

  // The crawler forks its workers from the installed package's bundle, whose command line says so.
  const site = await startDemoSite({ pages: 12 });
  const entries: string[] = [];
  try {
    const crawled: CrawlSummary = await crawl({
      startUrl: site.url,
      directory: join(directory, 'crawl'),
      onEvent: (event) => {
        if (event.type === 'spawn') entries.push(readFileSync('/proc/' + event.pid + '/cmdline', 'utf8'));
      },
    });
    if (crawled.reason !== 'drained' || crawled.failed !== 0 || crawled.pages < 2)
      throw new Error('crawl ' + JSON.stringify(crawled));
    if (entries.length === 0 || !entries.every((entry) => entry.includes('/dist/runner/crawl-worker.bundle.js')))
      throw new Error('crawl workers ran ' + entries.join(', '));
  } finally {
    await site.close();
  }

  const crawlOptions: Partial<CrawlOptions> = {};
  const summary: CrawlSummary | undefined = undefined;
  const exported: unknown[] = [FanoutCache, Index, Lock, Timeout, crawl, startDemoSite];
  if (exported.some((value) => typeof value !== 'function')) throw new Error('missing export');
  console.log('user file ok', Object.keys(crawlOptions).length, summary);
} finally {
  rmSync(directory, { recursive: true, force: true });
}
`;

/** Compiler options of a strict user project (no skipLibCheck: our .d.ts are checked too). */
const STRICT_OPTIONS = {
  strict: true,
  skipLibCheck: false,
  exactOptionalPropertyTypes: true,
  noUncheckedIndexedAccess: true,
  noImplicitOverride: true,
  target: 'ES2022',
  lib: ['ES2023'],
  forceConsistentCasingInFileNames: true,
};

let work: string;
let app: string;
let installed: string;
let tarball: string;
let packed: PackResult;
let manifest: Manifest;

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'node-diskcache-package-'));
  const stage = path.join(work, 'stage');
  fs.mkdirSync(stage);

  // A staging copy: package.json and every `files` entry except dist, which is built fresh.
  const repoManifest = readManifest(root);
  for (const entry of ['package.json', ...(repoManifest.files ?? [])]) {
    if (entry.startsWith('!') || entry === 'dist' || entry.startsWith('dist/')) continue;
    if (fs.existsSync(path.join(root, entry))) {
      fs.cpSync(path.join(root, entry), path.join(stage, entry), { recursive: true });
    }
  }
  run('npm', ['run', 'build', '--', '--outDir', path.join(stage, 'dist')], { cwd: root });

  const pack = run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], {
    cwd: stage,
  });
  const results = JSON.parse(pack.stdout) as PackResult[];
  packed = results[0]!;
  tarball = path.join(work, packed.filename);

  // The temporary app: the extracted tarball, and the dependencies it declares, symlinked.
  app = path.join(work, 'app');
  installed = path.join(app, 'node_modules', 'node-diskcache');
  fs.mkdirSync(installed, { recursive: true });
  run('tar', ['-xzf', tarball, '-C', installed, '--strip-components=1']);
  manifest = readManifest(installed);
  const dependencies = Object.keys(manifest.dependencies ?? {});
  for (const name of dependencyClosure([...dependencies, 'keyv'])) {
    const link = path.join(app, 'node_modules', name);
    fs.mkdirSync(path.dirname(link), { recursive: true });
    fs.symlinkSync(path.join(repoModules, name), link, 'dir');
  }
  fs.writeFileSync(
    path.join(app, 'package.json'),
    JSON.stringify({ name: 'user-app', private: true, type: 'module' }),
  );
  fs.writeFileSync(path.join(app, 'user.ts'), USER_FILE);
  fs.writeFileSync(path.join(app, 'double.mjs'), 'export default (n) => n * 2;\n');
  fs.copyFileSync(
    path.join(root, 'test', 'package', 'fixtures', 'load-probe.mjs'),
    path.join(app, 'load-probe.mjs'),
  );
}, 240_000);

afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('the tarball', () => {
  it('holds dist, the native addon sources, the license, readme and changelog, and no source maps', () => {
    const paths = packed.files.map((file) => file.path).sort();
    console.log(
      `tarball ${packed.filename}: ${packed.entryCount} files, ${packed.size} bytes packed, ${packed.unpackedSize} bytes unpacked`,
    );
    const topLevel = paths.filter((file) => !file.startsWith('dist/'));
    expect(topLevel).toEqual([
      'CHANGELOG.md',
      'LICENSE',
      'README.md',
      'binding.gyp',
      'native/install.mjs',
      'native/shm.c',
      'package.json',
    ]);
    expect(paths.some((file) => file.startsWith('build/') || file.endsWith('.node'))).toBe(false);
    expect(paths.filter((file) => file.endsWith('.map'))).toEqual([]);
    expect(paths.some((file) => file.startsWith('src/') || file.startsWith('test/'))).toBe(false);
    const withMapComment = listFiles(installed).filter(
      (file) =>
        /\.(js|d\.ts)$/.test(file) &&
        fs.readFileSync(path.join(installed, file), 'utf8').includes('sourceMappingURL'),
    );
    expect(withMapComment).toEqual([]);
    expect(fs.readFileSync(path.join(installed, 'LICENSE'), 'utf8')).toContain(
      'Apache License\n                           Version 2.0, January 2004',
    );
  });

  it('has every exports, types and bin target, and a bin that node can run', () => {
    const targets = [manifest.types ?? ''];
    for (const target of Object.values(manifest.exports ?? {})) {
      targets.push(...(typeof target === 'string' ? [target] : Object.values(target)));
    }
    targets.push(...Object.values(manifest.bin ?? {}));
    for (const target of targets) {
      expect(fs.existsSync(path.join(installed, target)), target).toBe(true);
    }
    const cli = path.join(installed, manifest.bin?.diskcache ?? 'missing');
    expect(fs.readFileSync(cli, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    const help = run(process.execPath, [cli, '--help'], { cwd: app });
    expect(help.stdout).toContain('Usage: diskcache');
  });

  it('is ESM-only: type module, engines, exports with types first and no require condition', () => {
    expect(manifest.type).toBe('module');
    expect(manifest.engines?.node).toMatch(/^>=20(\.\d+){0,2}$/);
    for (const [subpath, target] of Object.entries(manifest.exports ?? {})) {
      if (typeof target === 'string') {
        expect(subpath).toBe('./package.json');
        continue;
      }
      expect(Object.keys(target), subpath).toEqual(['types', 'default']);
      expect(target.types, subpath).toMatch(/^\.\/dist\/.*\.d\.ts$/);
      expect(target.default, subpath).toMatch(/^\.\/dist\/.*\.js$/);
    }
  });

  it('asks for a Node.js no older than any runtime dependency does', () => {
    const ours = lowestVersion(manifest.engines?.node ?? '');
    const closure = dependencyClosure(Object.keys(manifest.dependencies ?? {}));
    for (const name of closure) {
      const range = readManifest(path.join(repoModules, name)).engines?.node;
      if (!range) continue;
      const theirs = lowestVersion(range);
      expect(compareVersions(ours, theirs), `${name} needs node ${range}`).toBeGreaterThanOrEqual(
        0,
      );
    }
  });

  it('declares every package its .d.ts import, with types a user need not add', () => {
    const imported = new Set<string>();
    for (const file of listFiles(path.join(installed, 'dist')).filter((f) => f.endsWith('.d.ts'))) {
      const text = fs.readFileSync(path.join(installed, 'dist', file), 'utf8');
      for (const match of text.matchAll(/(?:from|import\()\s*'([^'.][^']*)'/g)) {
        const specifier = match[1]!;
        if (specifier.startsWith('node:')) continue;
        const parts = specifier.split('/');
        imported.add(specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!);
      }
    }
    const dependencies = manifest.dependencies ?? {};
    for (const name of imported) {
      expect(dependencies[name], `${name} is imported by a .d.ts`).toBeDefined();
      const own = readManifest(path.join(repoModules, name)) as Manifest & { typings?: string };
      if (
        !own.types &&
        !own.typings &&
        !fs.existsSync(path.join(repoModules, name, 'index.d.ts'))
      ) {
        expect(dependencies[`@types/${name}`], `@types/${name} (types of ${name})`).toBeDefined();
      }
    }
    expect(imported.has('better-sqlite3')).toBe(true);
  });
});

describe('a user project', () => {
  it('type-checks strictly (no skipLibCheck) with node16 and with bundler resolution', async () => {
    const configs = {
      'tsconfig.node16.json': { module: 'node16', moduleResolution: 'node16', outDir: 'out' },
      'tsconfig.bundler.json': { module: 'esnext', moduleResolution: 'bundler', noEmit: true },
    };
    for (const [name, options] of Object.entries(configs)) {
      const config = { compilerOptions: { ...STRICT_OPTIONS, ...options }, files: ['user.ts'] };
      fs.writeFileSync(path.join(app, name), JSON.stringify(config, null, 2));
    }
    // Both compilers at once: each is mostly lib checking, and the machine has two cores.
    const tsc = path.join(repoModules, 'typescript', 'bin', 'tsc');
    const results = await Promise.all(
      Object.keys(configs).map((name) => runAsync(process.execPath, [tsc, '-p', name], app)),
    );
    for (const [index, result] of results.entries()) {
      const name = Object.keys(configs)[index];
      expect(result.status, `tsc -p ${name}\n${result.stdout}${result.stderr}`).toBe(0);
    }
  }, 180_000);

  it('runs the compiled user file with node (Cache, Deque, runWorkers, Keyv over the adapter)', () => {
    const result = run(process.execPath, [path.join(app, 'out', 'user.js')], { cwd: app });
    expect(result.stdout).toContain('user file ok');
  });

  it('importing the root loads no undici (nor htmlparser2, robots-parser, commander, keyv)', () => {
    const loadedPackages = (...specifiers: string[]) => {
      const result = run(process.execPath, ['load-probe.mjs', ...specifiers], { cwd: app });
      const { esm, cjs } = JSON.parse(result.stdout) as { esm: string[]; cjs: string[] };
      const files = [...esm, ...cjs].map((entry) =>
        entry.startsWith('file:') ? fileURLToPath(entry) : entry,
      );
      expect(files.length).toBeGreaterThan(10);
      const names = new Set<string>();
      for (const file of files) {
        const parts = file.split(path.sep).join('/').split('/node_modules/');
        if (parts.length < 2) continue;
        const [first = '', second = ''] = parts.at(-1)!.split('/');
        names.add(first.startsWith('@') ? `${first}/${second}` : first);
      }
      return { names, files };
    };
    // The crawler's dependencies, the CLI's and keyv (the adapter's, never a runtime import).
    const notFromRoot = ['htmlparser2', 'robots-parser', 'commander', 'keyv'];

    const rootImport = loadedPackages('node-diskcache');
    expect(rootImport.names.has('better-sqlite3')).toBe(true);
    expect(notFromRoot.filter((name) => rootImport.names.has(name))).toEqual([]);
    expect(rootImport.files.filter((file) => file.includes('htmlparser2'))).toEqual([]);

    // The probe does see the parser where it is loaded: the crawler's page handler (in workers).
    const handler = pathToFileURL(path.join(installed, 'dist', 'crawler', 'crawl-handler.js'));
    expect(loadedPackages(handler.href).names.has('htmlparser2')).toBe(true);
  });

  it('serves the dashboard from the installed package, uPlot included (no CDN, no build step)', async () => {
    const cli = path.join(installed, 'dist', 'cli', 'main.js');
    const queue = path.join(work, 'dashboard-queue');
    run(process.execPath, [cli, 'queue', 'put', queue, 'one'], { cwd: app });
    const child = spawn(process.execPath, [cli, 'dashboard', queue], {
      cwd: app,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout!.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (out.includes('\n')) resolve(out);
        });
        child.once('exit', (code) => reject(new Error(`diskcache dashboard exited with ${code}`)));
      });
      const address = new URL(/^dashboard: (\S+)\n$/.exec(line)![1]!);
      const token = address.searchParams.get('token')!;
      for (const asset of ['/uplot.js', '/uplot.css', '/app.js']) {
        const response = await fetch(new URL(`${asset}?token=${token}`, address));
        expect(response.status, asset).toBe(200);
        expect((await response.text()).length, asset).toBeGreaterThan(1000);
      }
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
  });

  it('require() works where Node has require(esm) (no top-level await), else ERR_REQUIRE_ESM', () => {
    const script = `for (const name of ['node-diskcache', 'node-diskcache/crawler', 'node-diskcache/keyv']) {
  const loaded = require(name);
  if (Object.keys(loaded).length === 0) throw new Error(name + ' has no exports');
}
console.log(typeof require('node-diskcache').Cache);`;
    const features = process.features as { require_module?: boolean };
    const result = run(process.execPath, ['--input-type=commonjs', '-e', script], {
      cwd: app,
      allowFailure: true,
    });
    if (features.require_module) {
      expect(result.stderr).not.toContain('ERR_REQUIRE_ASYNC_MODULE');
      expect(result.status, result.stderr).toBe(0);
      expect(result.stdout.trim()).toBe('function');
    } else {
      expect(result.stderr).toContain('ERR_REQUIRE_ESM');
    }
  });
});

const nativeReason = nativeMissing();

describe.skipIf(nativeReason !== undefined)(
  `the native addon (the install script)${nativeReason ? ` (skipped: ${nativeReason})` : ''}`,
  () => {
    const probe = `import { Cache } from 'node-diskcache';
const cache = new Cache();
console.log(cache.readCacheValidator);
cache.close();
`;
    const validator = () => {
      fs.writeFileSync(path.join(app, 'validator.mjs'), probe);
      return run(process.execPath, ['validator.mjs'], { cwd: app }).stdout.trim();
    };
    const install = (env: NodeJS.ProcessEnv = {}) =>
      run(process.execPath, [path.join(installed, 'native', 'install.mjs')], {
        cwd: installed,
        env,
        timeout: 180_000,
      });

    it('a build that fails does not fail the install: one line says what is lost and how to fix it; reads fall back to data_version', () => {
      // A compiler that does not work: node-gyp fails, the script still exits 0.
      const failed = install({ CC: '/bin/false', CXX: '/bin/false' });
      expect(failed.status).toBe(0);
      const lines = failed.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain('the optional native addon did not build');
      expect(lines[0]).toContain('npm rebuild node-diskcache');
      expect(fs.existsSync(path.join(installed, 'build', 'Release', 'diskcache_shm.node'))).toBe(
        false,
      );
      expect(validator()).toBe('data_version');
    }, 200_000);

    it('builds offline with the headers of the running Node, and the installed package uses it', () => {
      const built = install();
      expect(built.status).toBe(0);
      expect(built.stderr).not.toContain('did not build');
      expect(fs.existsSync(path.join(installed, 'build', 'Release', 'diskcache_shm.node'))).toBe(
        true,
      );
      expect(validator()).toBe('shm');
    }, 200_000);
  },
);

describe('package linters', () => {
  it('publint finds nothing', () => {
    const result = run(bin('publint'), ['run', tarball, '--level', 'suggestion'], { cwd: work });
    console.log(result.stdout.trim());
    expect(result.stdout).toContain('All good!');
  });

  it('attw --profile esm-only passes; its only findings are node10 and CommonJS require', () => {
    const result = run(bin('attw'), ['--profile', 'esm-only', '--format', 'json', tarball], {
      cwd: work,
      allowFailure: true,
    });
    const { analysis } = JSON.parse(result.stdout) as {
      analysis: { problems: { kind: string; entrypoint: string; resolutionKind: string }[] };
    };
    console.log(
      `attw --profile esm-only: exit ${result.status}; findings the profile ignores:\n` +
        analysis.problems
          .map((problem) => `  ${problem.entrypoint} ${problem.resolutionKind}: ${problem.kind}`)
          .join('\n'),
    );
    expect(result.status, result.stdout + result.stderr).toBe(0);
    // What the esm-only profile ignores, and nothing else: CommonJS require() of an ES module
    // (node16-cjs), and subpaths under TypeScript's node10 resolution, which ignores `exports`.
    const unexpected = analysis.problems.filter(
      (problem) =>
        !(problem.kind === 'CJSResolvesToESM' && problem.resolutionKind === 'node16-cjs') &&
        !(problem.kind === 'NoResolution' && problem.resolutionKind === 'node10'),
    );
    expect(unexpected).toEqual([]);
  }, 120_000);
});
