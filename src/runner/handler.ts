/**
 * handler: what a job handler is, and how a handler module is found and checked. The parent
 * checks the module before forking (so a typo fails at once with a clear message instead of N
 * crashing children); each child loads it the same way. It must not touch the queue.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { HandlerModuleError } from '../cache/errors.js';
import type { Tag } from '../cache/types.js';

/** What a handler receives besides the payload. */
export interface JobContext {
  /** The job's id in the queue. */
  readonly id: number;
  /** The job's idempotency key, if it was put with one. */
  readonly key: string | undefined;
  /** 1 on the first run; more when the job is retried or its previous worker died. */
  readonly attempt: number;
  /**
   * Aborted when the job's lease was lost (another worker may be running it: stop, the result
   * would be discarded) or when the runner is stopping and the grace period ran out.
   */
  readonly signal: AbortSignal;
}

/**
 * A job handler: the default export (or the export named `handler`) of a handler module. What it
 * returns (unless `undefined`) is stored in the queue's results; what it throws fails the job
 * (retried with backoff, then the failed list). It may run more than once for the same job.
 */
export type JobHandler<T = unknown, R = unknown> = (payload: T, job: JobContext) => R | Promise<R>;

/** Where a handler module is: a path (relative to the working directory) or a file URL. */
export type HandlerModule = string | URL;

/** The absolute path of a handler module as given. */
export function handlerPath(module: HandlerModule): string {
  if (module instanceof URL) return fileURLToPath(module);
  if (typeof module !== 'string' || module === '')
    throw new TypeError(`handler must be a module path or a file URL, got ${String(module)}`);
  return module.startsWith('file:') ? fileURLToPath(module) : path.resolve(module);
}

const TYPESCRIPT = /\.[cm]?tsx?$/;
let tsxRegistered = false;

/**
 * Imports a module; a TypeScript file that plain Node cannot load is retried once tsx's loader is
 * registered in this process (when tsx is installed), so `diskcache work handler.ts` works from
 * the compiled CLI too.
 */
async function importModule(file: string): Promise<Record<string, unknown>> {
  const url = pathToFileURL(file).href;
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (error) {
    if (
      (error as { code?: unknown })?.code !== 'ERR_UNKNOWN_FILE_EXTENSION' ||
      !TYPESCRIPT.test(file) ||
      tsxRegistered
    )
      throw error;
    const api = 'tsx/esm/api'; // a runtime name: tsx is optional for users of the package
    let register: () => unknown;
    try {
      ({ register } = (await import(api)) as { register: () => unknown });
    } catch {
      throw new Error(
        `${(error as Error).message}; install tsx to run a TypeScript handler, or compile it to JavaScript`,
        { cause: error },
      );
    }
    register();
    tsxRegistered = true;
    // A new URL: Node caches the failed load of the first one.
    return (await import(`${url}?tsx`)) as Record<string, unknown>;
  }
}

/** Handler modules whose code is already in this process, by absolute path (registerHandlerModule). */
const registered = new Map<string, Record<string, unknown>>();

/**
 * Makes `loadHandler(file)` use `exports` instead of importing `file`: for a process whose entry
 * carries its handler in the same file (the crawl's bundled worker, src/crawler/crawl-worker.ts).
 * Not exported from the package.
 */
export function registerHandlerModule(file: string, exports: Record<string, unknown>): void {
  registered.set(path.resolve(file), exports);
}

/**
 * A handler module's optional `resultTag` export: the tag each result is stored with in a
 * directory queue (the results entry's tag; `undefined`: none), so that `tagCounts()` of the
 * results' cache counts results by it without reading them (the crawl counts its pages by status
 * so). A queue on Redis keeps no tags.
 */
export type ResultTagger = (result: unknown) => Tag | undefined;

/** What a handler module gives the runner. */
export interface HandlerModuleExports {
  readonly handler: JobHandler;
  readonly resultTag: ResultTagger | undefined;
}

/**
 * Imports a handler module and returns its handler function.
 * @throws HandlerModuleError when the file does not exist, fails to load, or exports no function.
 */
export async function loadHandler(module: HandlerModule): Promise<JobHandler> {
  return (await loadHandlerModule(module)).handler;
}

/**
 * Imports a handler module and returns its handler function and its `resultTag` export.
 * @throws HandlerModuleError when the file does not exist, fails to load, exports no function,
 * or exports a `resultTag` that is not a function.
 */
export async function loadHandlerModule(module: HandlerModule): Promise<HandlerModuleExports> {
  const file = handlerPath(module);
  if (!fs.existsSync(file)) throw new HandlerModuleError(`handler module not found: ${file}`);
  if (!fs.statSync(file).isFile())
    throw new HandlerModuleError(`handler module is not a file: ${file}`);
  let exports: Record<string, unknown>;
  try {
    exports = registered.get(file) ?? (await importModule(file));
  } catch (error) {
    throw new HandlerModuleError(
      `handler module ${file} failed to load: ${(error as Error)?.message ?? String(error)}`,
      { cause: error },
    );
  }
  const candidate = typeof exports.default === 'function' ? exports.default : exports.handler;
  if (typeof candidate !== 'function') {
    const names = Object.keys(exports);
    throw new HandlerModuleError(
      `handler module ${file} exports no function: export a default function (payload, job) => result,` +
        ` or a function named "handler" (its exports: ${names.length === 0 ? 'none' : names.join(', ')})`,
    );
  }
  const { resultTag } = exports;
  if (resultTag !== undefined && typeof resultTag !== 'function')
    throw new HandlerModuleError(
      `handler module ${file} exports a resultTag that is not a function: export resultTag(result) => tag, or nothing by that name`,
    );
  return { handler: candidate as JobHandler, resultTag: resultTag as ResultTagger | undefined };
}
