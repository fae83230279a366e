/**
 * Bundles the crawl's worker (dist/crawler/crawl-worker.js, compiled by tsc) with everything it
 * imports into one file, dist/runner/crawl-worker.bundle.js, which crawl() forks for its workers
 * (src/crawler/crawl-worker.ts says why). Run by `npm run build` after tsc, and by the tests'
 * globalSetup whenever it compiles dist/.
 *
 * Beside it, crawl-worker.bundle.json lists the dist/ files bundled: crawl() uses the bundle only
 * while it is newer than all of them, so that a dist/ compiled again without this step (tsc alone)
 * never runs stale worker code.
 *
 * The bundle sits in dist/runner/ because the child finds its siblings (the quarantine process's
 * entry) beside its own module. Left out of it: better-sqlite3 (native), htmlparser2 (loaded
 * with require, as from dist/crawler/links.js), and the optional ioredis and tsx.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const entry = path.join(root, 'dist', 'crawler', 'crawl-worker.js');
const outfile = path.join(root, 'dist', 'runner', 'crawl-worker.bundle.js');
const manifest = outfile.replace(/\.js$/, '.json');

if (!fs.existsSync(entry)) {
  process.stderr.write(
    `bundle-crawl-worker: ${entry} is missing: compile first (tsc -p tsconfig.build.json)\n`,
  );
  process.exit(1);
}
// A failed build must not leave a previous bundle that looks current.
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
});
const dist = path.join(root, 'dist');
const inputs = Object.keys(result.metafile.inputs)
  .map((input) => path.resolve(root, input))
  .filter((input) => input.startsWith(dist + path.sep))
  .map((input) => path.relative(path.dirname(outfile), input));
fs.writeFileSync(manifest, `${JSON.stringify({ inputs }, null, 1)}\n`);
