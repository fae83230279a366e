/**
 * The shared output and parsing helpers of the CLI (src/cli/output.ts), called directly.
 */
import { describe, expect, it } from 'vitest';
import { ForeignKey } from '../../src/cache/disk.js';
import { CliError } from '../../src/cli/exit-codes.js';
import {
  formatBytes,
  formatSize,
  formatTable,
  formatValue,
  jsonDocument,
  parseCount,
  parseScalar,
  parseSeconds,
  toJson,
} from '../../src/cli/output.js';

describe('toJson', () => {
  it('keeps JSON types and tags the others', () => {
    expect(toJson({ s: 'x', n: 1.5, b: true, z: null, a: [1, 'two'] })).toEqual({
      s: 'x',
      n: 1.5,
      b: true,
      z: null,
      a: [1, 'two'],
    });
    expect(toJson(2n ** 64n)).toBe('18446744073709551616');
    expect(toJson([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY])).toEqual([
      'NaN',
      'Infinity',
      '-Infinity',
    ]);
    expect(toJson(Buffer.from('hi'))).toEqual({ type: 'Buffer', base64: 'aGk=' });
    expect(toJson(new Uint8Array([1, 2, 3]))).toEqual({ type: 'Uint8Array', base64: 'AQID' });
    expect(toJson(new Float64Array([0.5, -1]))).toEqual({
      type: 'Float64Array',
      values: [0.5, -1],
    });
    expect(toJson(new BigInt64Array([5n]))).toEqual({ type: 'BigInt64Array', values: ['5'] });
    expect(toJson(new Map<unknown, unknown>([[1n, new Set(['a'])]]))).toEqual({
      type: 'Map',
      entries: [['1', { type: 'Set', values: ['a'] }]],
    });
    expect(toJson(new Date('2024-05-06T07:08:09.000Z'))).toBe('2024-05-06T07:08:09.000Z');
    expect(toJson(new Date(Number.NaN))).toBeNull();
    expect(toJson(/a+b/gi)).toBe('/a+b/gi');
    expect(toJson(new RangeError('too big'))).toEqual({
      type: 'Error',
      name: 'RangeError',
      message: 'too big',
    });
    expect(toJson(new ForeignKey(Buffer.from([0x80, 0x04])))).toEqual({
      type: 'ForeignKey',
      hex: '8004',
    });
    expect(toJson(undefined)).toBeNull();
  });

  it('survives cycles (structured clone keeps them) and shared references', () => {
    const node: Record<string, unknown> = { name: 'root' };
    node.self = node;
    const shared = { v: 1 };
    expect(toJson(node)).toEqual({ name: 'root', self: '[Circular]' });
    expect(toJson([shared, shared])).toEqual([{ v: 1 }, { v: 1 }]);
  });

  it('jsonDocument is one parseable document ending with a newline', () => {
    const text = jsonDocument({ big: 1n, buf: Buffer.alloc(2) });
    expect(text.endsWith('}\n')).toBe(true);
    expect(JSON.parse(text)).toEqual({ big: '1', buf: { type: 'Buffer', base64: 'AAA=' } });
  });
});

describe('formatting for people', () => {
  it('shows strings as they are, bytes as hex, the rest inspected', () => {
    expect(formatValue('a\nb')).toBe('a\nb');
    expect(formatValue('a\nb', { inline: true })).toBe('a\\nb');
    expect(formatValue(Buffer.from('hello'))).toBe('<5 bytes> 68656c6c6f');
    expect(formatBytes(Buffer.alloc(0))).toBe('<0 bytes>');
    expect(formatBytes(Buffer.alloc(1))).toBe('<1 byte> 00');
    expect(formatBytes(Buffer.alloc(33, 0xab))).toBe(`<33 bytes> ${'ab'.repeat(32)}…`);
    expect(formatValue(3n)).toBe('3n');
    expect(formatValue({ a: [1, { b: 'c' }] }, { inline: true })).toBe("{ a: [ 1, { b: 'c' } ] }");
    expect(formatValue(new ForeignKey(Buffer.from([0x80])))).toBe('<pickled key <1 byte> 80>');
  });

  it('formatSize uses binary units and keeps the exact count', () => {
    expect(formatSize(512)).toBe('512 bytes');
    expect(formatSize(1536)).toBe('1.5 KiB (1536 bytes)');
    expect(formatSize(2 ** 30)).toBe('1.0 GiB (1073741824 bytes)');
  });

  it('formatTable aligns columns, pads all but the last, right-aligns on request', () => {
    const text = formatTable(
      [
        ['a', '1', 'x'],
        ['long name', '200', 'y'],
      ],
      { header: ['name', 'n', 'note'], right: [1] },
    );
    expect(text).toBe('name         n  note\na            1  x\nlong name  200  y\n');
    expect(formatTable([])).toBe('');
    // Width counts characters, not UTF-16 units.
    expect(
      formatTable([
        ['😀', 'x'],
        ['ab', 'y'],
      ]),
    ).toBe('😀   x\nab  y\n');
  });
});

describe('parsing what the user typed', () => {
  it('reads keys and tags by type', () => {
    expect(parseScalar('42', 'string', 'key')).toBe('42');
    expect(parseScalar('42', 'int', 'key')).toBe(42);
    expect(parseScalar('-7', 'int', 'key')).toBe(-7);
    expect(parseScalar('9007199254740993', 'int', 'key')).toBe(9007199254740993n);
    expect(parseScalar('1e3', 'float', 'key')).toBe(1000);
    expect(parseScalar('{"b": [1]}', 'json', 'key')).toEqual({ b: [1] });
  });

  it('refuses malformed input with a usage error naming the option', () => {
    const usage = (run: () => unknown, message: RegExp) => {
      try {
        run();
      } catch (error) {
        expect(error).toBeInstanceOf(CliError);
        expect((error as CliError).exitCode).toBe(2);
        expect((error as CliError).message).toMatch(message);
        return;
      }
      throw new Error('expected a usage error');
    };
    usage(() => parseScalar('1.5', 'int', 'key'), /--key-type int/);
    usage(() => parseScalar('', 'float', 'tag'), /--tag-type float/);
    usage(() => parseScalar('Infinity', 'float', 'key'), /finite/);
    usage(() => parseScalar('{', 'json', 'key'), /not valid JSON/);
    usage(() => parseSeconds('-1', '--expire'), /--expire .*"-1"/);
    usage(() => parseSeconds('', '--timeout'), /--timeout/);
    usage(() => parseCount('2.5', '--limit'), /whole number/);
    expect(parseSeconds('0.25', '--timeout')).toBe(0.25);
    expect(parseCount('0', '--limit')).toBe(0);
  });
});
