/**
 * crawl-worker: the entry of a crawl's worker process in the built package. It is the runner's
 * child (runner/child.ts) with the crawl handler in the same file: `npm run build` bundles this
 * module and everything it imports into dist/runner/crawl-worker.bundle.js
 * (scripts/build.mjs), which crawl() forks instead of the child and its handler
 * module. Loading one file instead of about 65 modules saves each worker about a tenth of its
 * start-up and some CPU per page (docs/crawler.md#speed-and-memory). From source (tsx) or without
 * the bundle, workers run the child and import the handler as usual.
 *
 * The handler is registered under the path the child is given (dist/crawler/crawl-handler.js),
 * then the child is imported: dynamically, so that it starts after the registration (and without
 * a top-level await, which `require()` of an ES module refuses).
 */
import { fileURLToPath } from 'node:url';
import { registerHandlerModule } from '../runner/handler.js';
import * as crawlHandler from './crawl-handler.js';

// The bundle lives in dist/runner/, this module in dist/crawler/: both resolve to the same file.
registerHandlerModule(
  fileURLToPath(new URL('../crawler/crawl-handler.js', import.meta.url)),
  crawlHandler,
);
import('../runner/child.js').catch((error: unknown) => {
  process.stderr.write(
    `diskcache crawl worker ${process.pid}: ${(error as Error)?.stack ?? String(error)}\n`,
  );
  process.exit(1);
});
