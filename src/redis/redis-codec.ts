/**
 * redis-codec: how RedisWorkQueue stores payloads and results as Redis strings, with the SQLite
 * queue's codec (work-queue-codec.ts): JSON text when JSON represents the value exactly (readable
 * from redis-cli and any language), else v8's structured clone as `v8:` + base64 (no JSON text
 * starts with `v`). Also the hash field of a result key. This file must not talk to Redis.
 */
import type { ResultKey } from '../collections/async-work-queue.js';
import { decodePayload, encodePayload } from '../collections/work-queue-codec.js';

const V8_PREFIX = 'v8:';

/** A payload or result as a Redis string (see the file header). */
export function encodeValue(value: unknown): string {
  const stored = encodePayload(value);
  return typeof stored === 'string' ? stored : V8_PREFIX + stored.toString('base64');
}

/** The value `encodeValue` stored (`null` for a missing one). */
export function decodeValue(stored: unknown): unknown {
  if (typeof stored !== 'string') return stored ?? null;
  if (stored.startsWith(V8_PREFIX))
    return decodePayload(Buffer.from(stored.slice(V8_PREFIX.length), 'base64'));
  return decodePayload(stored);
}

/** The hash field of a result key (string keys and numeric ids must not collide). */
export function resultField(key: ResultKey): string {
  if (typeof key === 'string') return `s:${key}`;
  if (typeof key === 'number' && Number.isSafeInteger(key)) return `n:${key}`;
  throw new TypeError(`a result key must be a string or a safe integer, got ${String(key)}`);
}

/** The result key of a hash field made by `resultField`. */
export function resultKey(field: string): ResultKey {
  return field.startsWith('n:') ? Number(field.slice(2)) : field.slice(2);
}
