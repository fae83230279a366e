/**
 * protocol: what the runner's parent and its children say to each other, and where the child
 * entry file is. The child gets its configuration as one JSON argument; afterwards they talk
 * over the IPC channel. Shared by run-workers.ts and child.ts; it must not do any work itself.
 */
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { WorkerCounts } from './worker-loop.js';

/** The child's configuration (argv[2], JSON). */
export interface ChildConfig {
  /** The queue directory. */
  readonly queue: string;
  /** Absolute path of the handler module. */
  readonly handler: string;
  readonly concurrency: number;
  readonly leaseSeconds: number;
  readonly graceSeconds: number;
}

/** Parent → child. */
export type ParentMessage = { readonly type: 'stop'; readonly graceSeconds: number };

/** Child → parent. `counts` are cumulative for the child's life. */
export type ChildMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'counts'; readonly counts: WorkerCounts };

/** Exit code of a child whose handler module cannot be loaded: the parent does not restart it. */
export const EXIT_HANDLER_MODULE = 78;

const here = fileURLToPath(import.meta.url);
/** The child entry beside this file: child.ts when running from source (through tsx), child.js from dist. */
export const CHILD_ENTRY = path.join(path.dirname(here), `child${path.extname(here)}`);

const TYPESCRIPT = /\.[cm]?tsx?$/;

/**
 * Node options for a child: tsx's loader when the child entry or the handler is TypeScript (it
 * is resolved from here, so it works whatever the working directory), else none.
 * @throws Error when TypeScript must be loaded and tsx is not installed.
 */
export function childExecArgv(handlerFile: string): string[] {
  if (!TYPESCRIPT.test(CHILD_ENTRY) && !TYPESCRIPT.test(handlerFile)) return [];
  let loader: string;
  try {
    loader = createRequire(import.meta.url).resolve('tsx');
  } catch (error) {
    throw new Error(`running the TypeScript handler ${handlerFile} needs tsx: npm install tsx`, {
      cause: error,
    });
  }
  return ['--import', pathToFileURL(loader).href];
}
