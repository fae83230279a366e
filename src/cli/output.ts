/**
 * Output and input conventions shared by every command group of the CLI: how values look to a
 * person (strings as they are, bytes as hex, the rest through util.inspect), how they look in
 * `--json` (one JSON document; bigints as strings, buffers as {type, base64}), aligned tables,
 * and how keys, tags and values typed on the command line become JS values.
 * This file formats and parses only: it must not open caches or write to a stream.
 */
import { inspect } from 'node:util';
import { ForeignKey, Undecodable } from '../cache/disk.js';
import { CliError, EXIT } from './exit-codes.js';

/** How a key (or tag) typed on the command line is read. */
export type ScalarType = 'string' | 'int' | 'float' | 'json';
export const SCALAR_TYPES: readonly ScalarType[] = ['string', 'int', 'float', 'json'];

/** Buffers up to this many bytes are shown in full as hex; longer ones are cut. */
const HEX_SHOWN = 32;

// ---- JSON -----------------------------------------------------------------------------------

/**
 * A JSON-safe copy of any value the cache can hold. Lossy where JSON has no type (bigint and
 * non-finite numbers become strings); buffers, maps, sets and typed arrays become tagged objects.
 */
export function toJson(value: unknown): unknown {
  return convert(value, new Set());
}

function convert(value: unknown, seen: Set<object>): unknown {
  switch (typeof value) {
    case 'undefined':
      return null;
    case 'bigint':
      return value.toString();
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'string':
    case 'boolean':
      return value;
    case 'object':
      break;
    default:
      return String(value);
  }
  if (value === null) return null;
  if (Buffer.isBuffer(value)) return { type: 'Buffer', base64: value.toString('base64') };
  if (value instanceof ForeignKey) return { type: 'ForeignKey', hex: value.bytes.toString('hex') };
  if (value instanceof Undecodable)
    return {
      type: 'Undecodable',
      mode: value.mode,
      size: value.size ?? null,
      reason: value.reason,
    };
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (value instanceof RegExp) return String(value);
  if (value instanceof ArrayBuffer)
    return { type: 'ArrayBuffer', base64: Buffer.from(value).toString('base64') };
  if (ArrayBuffer.isView(value)) {
    const type = value.constructor.name;
    if (value instanceof Uint8Array || value instanceof DataView) {
      return {
        type,
        base64: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64'),
      };
    }
    return {
      type,
      values: Array.from(value as unknown as ArrayLike<number | bigint>, (n) => convert(n, seen)),
    };
  }
  if (seen.has(value)) return '[Circular]';
  seen.add(value);
  try {
    if (value instanceof Error) return { type: 'Error', name: value.name, message: value.message };
    if (value instanceof Map)
      return {
        type: 'Map',
        entries: [...value].map(([k, v]) => [convert(k, seen), convert(v, seen)]),
      };
    if (value instanceof Set)
      return { type: 'Set', values: [...value].map((v) => convert(v, seen)) };
    if (Array.isArray(value)) return value.map((item) => convert(item, seen));
    const out: Record<string, unknown> = {};
    for (const [name, item] of Object.entries(value)) out[name] = convert(item, seen);
    return out;
  } finally {
    seen.delete(value);
  }
}

/** The one JSON document a command prints with `--json` (pretty, newline-terminated). */
export function jsonDocument(value: unknown): string {
  return `${JSON.stringify(toJson(value), null, 2)}\n`;
}

// ---- human-readable ---------------------------------------------------------------------------

/** Bytes as a person reads them: `<5 bytes> 68656c6c6f`, cut after 32 bytes. */
export function formatBytes(bytes: Uint8Array): string {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hex = buffer.subarray(0, HEX_SHOWN).toString('hex');
  const unit = buffer.length === 1 ? 'byte' : 'bytes';
  return `<${buffer.length} ${unit}>${buffer.length === 0 ? '' : ` ${hex}${buffer.length > HEX_SHOWN ? '…' : ''}`}`;
}

/**
 * A value as a person reads it: strings as they are, buffers as `<N bytes> hex`, everything else
 * through util.inspect (so a bigint shows as `5n`, a Map as `Map(1) { 'a' => 1 }`).
 * `inline` keeps it on one line (for table cells and key lists).
 */
export function formatValue(value: unknown, options: { inline?: boolean } = {}): string {
  if (typeof value === 'string')
    return options.inline
      ? value.replace(/[\r\n\t]/g, (ch) => JSON.stringify(ch).slice(1, -1))
      : value;
  if (Buffer.isBuffer(value)) return formatBytes(value);
  if (value instanceof ForeignKey) return `<pickled key ${formatBytes(value.bytes)}>`;
  if (value instanceof Undecodable) return value.toString();
  return inspect(value, {
    depth: 8,
    breakLength: options.inline ? Number.POSITIVE_INFINITY : 100,
    maxArrayLength: 100,
    maxStringLength: 1000,
  });
}

/** A size in bytes as `1.5 MiB (1572864 bytes)`. */
export function formatSize(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let amount = bytes;
  let unit = 0;
  while (amount >= 1024 && unit < units.length - 1) {
    amount /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} bytes` : `${amount.toFixed(1)} ${units[unit]} (${bytes} bytes)`;
}

/** An absolute epoch time (seconds) as an ISO date and how far from `now` it is. */
export function formatTime(epochSeconds: number | null, now = Date.now() / 1000): string {
  if (epochSeconds === null) return 'never';
  const delta = epochSeconds - now;
  const iso = new Date(epochSeconds * 1000).toISOString();
  return delta >= 0 ? `${iso} (in ${delta.toFixed(0)} s)` : `${iso} (${(-delta).toFixed(0)} s ago)`;
}

/**
 * Rows as aligned columns (two spaces apart, the last column unpadded). `right` lists the
 * columns aligned right (numbers). Cells must be single-line (use `formatValue(v, {inline})`).
 */
export function formatTable(
  rows: readonly (readonly string[])[],
  options: { header?: readonly string[]; right?: readonly number[] } = {},
): string {
  const all = options.header ? [options.header, ...rows] : rows;
  if (all.length === 0) return '';
  const columns = Math.max(...all.map((row) => row.length));
  const widths = Array.from({ length: columns }, (_, i) =>
    Math.max(...all.map((row) => [...(row[i] ?? '')].length)),
  );
  const right = new Set(options.right ?? []);
  const line = (row: readonly string[]) =>
    row
      .map((cell, i) => {
        const pad = ' '.repeat(widths[i]! - [...cell].length);
        if (right.has(i)) return pad + cell;
        return i === row.length - 1 ? cell : cell + pad;
      })
      .join('  ');
  return `${all.map(line).join('\n')}\n`;
}

// ---- parsing what the user typed --------------------------------------------------------------

function usage(message: string): CliError {
  return new CliError(EXIT.USAGE, message);
}

/**
 * A key or tag typed on the command line, read as `type`: `string` as is, `int` as an exact
 * integer (a bigint beyond 2**53), `float` as a finite number, `json` as any JSON document
 * (numbers, strings, arrays and objects: a structured key).
 * @throws CliError (usage) naming `what` and the text received.
 */
export function parseScalar(text: string, type: ScalarType, what: string): unknown {
  switch (type) {
    case 'string':
      return text;
    case 'int': {
      if (!/^[-+]?\d+$/.test(text.trim()))
        throw usage(
          `${what} must be an integer with --${what}-type int, got ${JSON.stringify(text)}`,
        );
      const big = BigInt(text.trim());
      return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER)
        ? Number(big)
        : big;
    }
    case 'float': {
      const number = text.trim() === '' ? Number.NaN : Number(text);
      if (!Number.isFinite(number))
        throw usage(
          `${what} must be a finite number with --${what}-type float, got ${JSON.stringify(text)}`,
        );
      return number;
    }
    case 'json':
      return parseJson(text, `${what} (--${what}-type json)`);
  }
}

/** Parses JSON typed by the user; a usage error names `what` and JSON's complaint. */
export function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw usage(`${what} is not valid JSON: ${(error as Error).message}`);
  }
}

/** A number of seconds typed by the user (an option value): finite, not negative. */
export function parseSeconds(text: string, option: string): number {
  const seconds = text.trim() === '' ? Number.NaN : Number(text);
  if (!Number.isFinite(seconds) || seconds < 0)
    throw usage(`${option} must be a number of seconds (0 or more), got ${JSON.stringify(text)}`);
  return seconds;
}

/** A count typed by the user: a whole number, 0 or more. */
export function parseCount(text: string, option: string): number {
  if (!/^\d+$/.test(text.trim()))
    throw usage(`${option} must be a whole number (0 or more), got ${JSON.stringify(text)}`);
  return Number(text.trim());
}

/**
 * The "Examples:" section that ends a command's `--help` (commander `addHelpText('after', …)`):
 * one command line per entry, shown as typed in a shell.
 */
export function helpExamples(...lines: readonly string[]): string {
  return `\nExamples:\n${lines.map((line) => `  ${line}`).join('\n')}\n`;
}
