/**
 * checks: the argument checks of every public API, in one place and one shape. Each takes the
 * option's name first, then the value received, and throws `TypeError` (wrong type) or
 * `RangeError` (right type, value out of range) with a message that names the option, states
 * the expected unit and shows the value (`describeValue`). `where` (e.g. `"lock.acquire()"`)
 * prefixes the message when the option's name alone would be ambiguous.
 * This file must not import anything but errors.ts: every layer uses it.
 */
import { describeValue } from './errors.js';
import type { Tag } from './types.js';

/** A duration or a time in seconds (epoch seconds for absolute times), as everywhere in the core API. */
export type Seconds = number;

/** Where a check is made, for the message prefix. */
interface Where {
  /** Prefix of the message, e.g. `"throttle()"`. */
  readonly where?: string;
}

function prefix(where: string | undefined): string {
  return where ? `${where}: ` : '';
}

/**
 * A number of seconds: finite, > 0 (or >= 0 with `allowZero`; `Infinity` with `allowInfinity`).
 * @throws TypeError when not a number (or NaN); RangeError when out of range.
 */
export function checkSeconds(
  name: string,
  value: unknown,
  options: Where & { readonly allowZero?: boolean; readonly allowInfinity?: boolean } = {},
): Seconds {
  const { allowZero = false, allowInfinity = false, where } = options;
  if (typeof value !== 'number' || Number.isNaN(value))
    throw new TypeError(
      `${prefix(where)}${name} must be a number of seconds, got ${describeValue(value)}`,
    );
  if ((!allowInfinity && !Number.isFinite(value)) || value < 0 || (value === 0 && !allowZero)) {
    throw new RangeError(
      `${prefix(where)}${name} must be a ${allowInfinity ? '' : 'finite '}number of seconds ${allowZero ? '>= 0' : '> 0'}, got ${describeValue(value)}`,
    );
  }
  return value;
}

/** `checkSeconds` for an optional value: `undefined` and `null` give `null`. */
export function checkOptionalSeconds(
  name: string,
  value: unknown,
  options: Where & { readonly allowZero?: boolean; readonly allowInfinity?: boolean } = {},
): Seconds | null {
  return value === undefined || value === null ? null : checkSeconds(name, value, options);
}

/**
 * An integer (a safe one) >= `min` (default 0) and <= `max` (default unbounded).
 * @throws TypeError when not a number; RangeError when not an integer or out of range.
 */
export function checkInteger(
  name: string,
  value: unknown,
  options: Where & { readonly min?: number; readonly max?: number } = {},
): number {
  const { min = 0, max = Number.MAX_SAFE_INTEGER, where } = options;
  if (typeof value !== 'number' || Number.isNaN(value))
    throw new TypeError(`${prefix(where)}${name} must be an integer, got ${describeValue(value)}`);
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
    throw new RangeError(
      `${prefix(where)}${name} must be an integer ${range}, got ${describeValue(value)}`,
    );
  }
  return value;
}

/**
 * A number >= `min` (default 0; finite unless `allowInfinity`). `unit` names what it counts in
 * the message (`"bytes"`).
 */
export function checkNumber(
  name: string,
  value: unknown,
  options: Where & {
    readonly min?: number;
    readonly unit?: string;
    readonly allowInfinity?: boolean;
  } = {},
): number {
  const { min = 0, unit, allowInfinity = false, where } = options;
  const what = unit ? `a number of ${unit}` : 'a number';
  if (typeof value !== 'number' || Number.isNaN(value))
    throw new TypeError(`${prefix(where)}${name} must be ${what}, got ${describeValue(value)}`);
  if (value < min || (!allowInfinity && !Number.isFinite(value)))
    throw new RangeError(
      `${prefix(where)}${name} must be ${what} >= ${min}${allowInfinity ? '' : ' (finite)'}, got ${describeValue(value)}`,
    );
  return value;
}

/** A boolean. @throws TypeError */
export function checkBoolean(name: string, value: unknown, options: Where = {}): boolean {
  if (typeof value !== 'boolean')
    throw new TypeError(
      `${prefix(options.where)}${name} must be a boolean, got ${describeValue(value)}`,
    );
  return value;
}

/** A string (non-empty unless `allowEmpty`). @throws TypeError */
export function checkString(
  name: string,
  value: unknown,
  options: Where & { readonly allowEmpty?: boolean } = {},
): string {
  if (typeof value !== 'string' || (value === '' && !options.allowEmpty))
    throw new TypeError(
      `${prefix(options.where)}${name} must be a ${options.allowEmpty ? '' : 'non-empty '}string, got ${describeValue(value)}`,
    );
  return value;
}

/**
 * A tag (types.ts `Tag`): a string, a number other than NaN, a bigint, a Buffer, or null.
 * @throws TypeError
 */
export function checkTag(name: string, value: unknown, options: Where = {}): Tag {
  if (
    value === null ||
    typeof value === 'string' ||
    typeof value === 'bigint' ||
    (typeof value === 'number' && !Number.isNaN(value)) ||
    Buffer.isBuffer(value)
  )
    return value as Tag;
  throw new TypeError(
    `${prefix(options.where)}${name} must be a string, a number (not NaN), a bigint, a Buffer or null, got ${describeValue(value)}`,
  );
}

/** A function. @throws TypeError */
export function checkFunction<F extends (...args: never[]) => unknown>(
  name: string,
  value: unknown,
  options: Where = {},
): F {
  if (typeof value !== 'function')
    throw new TypeError(
      `${prefix(options.where)}${name} must be a function, got ${describeValue(value)}`,
    );
  return value as F;
}

/** An optional `AbortSignal`. @throws TypeError */
export function checkSignal(
  name: string,
  value: unknown,
  options: Where = {},
): AbortSignal | undefined {
  if (value !== undefined && !(value instanceof AbortSignal))
    throw new TypeError(
      `${prefix(options.where)}${name} must be an AbortSignal, got ${describeValue(value)}`,
    );
  return value;
}

/**
 * An options object (or `undefined`, which gives `{}`) whose own keys are all in `known`.
 * @throws TypeError for a non-object or an unknown option (the message lists the known ones).
 */
export function checkOptions<T extends object>(
  value: T | undefined,
  known: Iterable<string>,
  options: Where = {},
): T {
  if (value === undefined) return {} as T;
  if (value === null || typeof value !== 'object')
    throw new TypeError(
      `${prefix(options.where)}options must be an object, got ${describeValue(value)}`,
    );
  const names = new Set(known);
  for (const name of Object.keys(value)) {
    if (!names.has(name))
      throw new TypeError(
        `${prefix(options.where)}unknown option ${JSON.stringify(name)}; known options: ${[...names].join(', ')}`,
      );
  }
  return value;
}
