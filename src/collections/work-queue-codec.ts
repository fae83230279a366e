/**
 * work-queue-codec: how a job's payload is stored. A payload that JSON represents exactly (plain
 * objects and arrays of strings, finite numbers other than -0, booleans and null) is stored as
 * JSON text: readable from any language and about ten times cheaper than v8's serializer here.
 * Anything else (Map, Date, bigint, typed arrays, undefined inside objects, cycles…) is stored as
 * v8's structured clone in a BLOB, which reads back with its type. Nothing stored can run code.
 * The column's SQLite type tells the two apart. This file must not touch the database.
 */
import * as v8 from 'node:v8';
import { retryDelay } from '../cache/waiting.js';

/** Deeper structures take the v8 path (which also handles cycles). */
const MAX_JSON_DEPTH = 32;

function isExactJson(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0);
    case 'object': {
      if (value === null) return true;
      if (depth >= MAX_JSON_DEPTH) return false;
      if (Array.isArray(value)) {
        if (Object.getPrototypeOf(value) !== Array.prototype) return false;
        for (let i = 0; i < value.length; i++) {
          if (!(i in value) || !isExactJson(value[i], depth + 1)) return false;
        }
        return true;
      }
      const prototype = Object.getPrototypeOf(value);
      if (prototype !== Object.prototype && prototype !== null) return false;
      for (const name in value) {
        if (!isExactJson((value as Record<string, unknown>)[name], depth + 1)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

/** The column value for a payload; TypeError when it is undefined or not structured-cloneable. */
export function encodePayload(payload: unknown): string | Buffer {
  if (payload === undefined)
    throw new TypeError('payload must not be undefined (use null for a job without data)');
  if (isExactJson(payload, 0)) return JSON.stringify(payload);
  try {
    return v8.serialize(payload);
  } catch (error) {
    throw new TypeError(
      `payload cannot be stored (it must be structured-cloneable): ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/** The payload stored in a column by `encodePayload`. */
export function decodePayload(stored: unknown): unknown {
  if (typeof stored === 'string') return JSON.parse(stored);
  if (Buffer.isBuffer(stored)) return v8.deserialize(stored);
  return stored ?? null;
}

const MAX_ERROR_LENGTH = 8000;

/**
 * The text stored for a failure (every backend): an Error's stack (or name and message), a string
 * as it is, anything else as JSON; at most 8,000 characters.
 */
export function errorText(error: unknown): string {
  let text: string;
  if (error instanceof Error) text = error.stack ?? `${error.name}: ${error.message}`;
  else if (typeof error === 'string') text = error;
  else {
    try {
      text = JSON.stringify(error) ?? String(error);
    } catch {
      text = String(error);
    }
  }
  return text.length > MAX_ERROR_LENGTH ? `${text.slice(0, MAX_ERROR_LENGTH)}…` : text;
}

/** The most a default backoff waits, in seconds (unless `backoffSeconds` itself is larger). */
const MAX_BACKOFF_SECONDS = 3600;

/** The default wait before a failed job's retry (every backend): `base · 2^(attempt−1)`, capped. */
export function backoffFor(baseSeconds: number, attempt: number): number {
  return retryDelay(baseSeconds, attempt, MAX_BACKOFF_SECONDS);
}
