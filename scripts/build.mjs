/**
 * `npm run build`: compiles src/ into dist/ (`tsc -p tsconfig.build.json`, with any further tsc
 * options given, such as `--outDir DIR`), then bundles the crawl's worker into that directory:
 * dist/crawler/crawl-worker.js and everything it imports in one file,
 * dist/runner/crawl-worker.bundle.js, which crawl() forks for its workers (src/crawler/
 * crawl-worker.ts says why). `--bundle-only` skips tsc (the tests' globalSetup compiles first).
 *
 * Beside the bundle, crawl-worker.bundle.json lists the compiled files bundled: crawl() uses the
 * bundle only while it is newer than all of them, so that a dist/ compiled again without this
 * step (tsc alone) never runs stale worker code.
 *
 * The bundle sits in dist/runner/ because the child finds its siblings (the quarantine process's
 * entry) beside its own module. Left out of it: better-sqlite3 (native), htmlparser2 (loaded
 * with require, as from dist/crawler/links.js), and the optional ioredis and tsx.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const bundleOnly = args.includes('--bundle-only');
const tscArgs = args.filter((arg) => arg !== '--bundle-only');
const outDirAt = tscArgs.indexOf('--outDir');
const outDir = path.resolve(root, outDirAt >= 0 ? (tscArgs[outDirAt + 1] ?? '') : 'dist');

if (!bundleOnly) {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', ...tscArgs], {
      cwd: root,
      stdio: 'inherit',
    });
  } catch {
    process.exit(1); // tsc printed why
  }
}

const entry = path.join(outDir, 'crawler', 'crawl-worker.js');
const outfile = path.join(outDir, 'runner', 'crawl-worker.bundle.js');
const manifest = outfile.replace(/\.js$/, '.json');
if (!fs.existsSync(entry)) {
  process.stderr.write(`build: ${entry} is missing: compile first (tsc -p tsconfig.build.json)\n`);
  process.exit(1);
}
// A failed bundle must not leave a previous one that looks current.
fs.rmSync(manifest, { force: true });
const result = await build({
  entryPoints: [entry],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['better-sqlite3', 'htmlparser2', 'ioredis', 'tsx', 'tsx/*'],
  metafile: true,
  logLevel: 'warning',
  legalComments: 'inline',
  absWorkingDir: root,
  // The packages from this checkout, wherever the output goes (the package test builds into a
  // staging directory elsewhere).
  nodePaths: [path.join(root, 'node_modules')],
});
const inputs = Object.keys(result.metafile.inputs)
  .map((input) => path.resolve(root, input))
  .filter((input) => input.startsWith(outDir + path.sep))
  .map((input) => path.relative(path.dirname(outfile), input));
fs.writeFileSync(manifest, `${JSON.stringify({ inputs }, null, 1)}\n`);
