/**
 * A safe pickle codec for plain data: Python's None, bool, int, float, str, bytes, bytearray, list,
 * tuple, dict, set and frozenset, in pickle protocols 0 to 5.
 *
 * The reader interprets data opcodes only. Every opcode that can name or call code (GLOBAL,
 * STACK_GLOBAL, REDUCE, BUILD, INST, OBJ, NEWOBJ, EXT*, PERSID, out-of-band buffers...) and every
 * unknown opcode is refused with `UnsupportedValueError`; the reader never resolves a name, never
 * calls anything and never recurses, checks each length against the bytes left before it
 * allocates, and bounds nesting (MARKs and the result's depth), so a hostile or truncated pickle
 * fails fast with `UnsupportedValueError`.
 * The writer of the same subset is pickle-writer.ts.
 * This file must not import anything but node built-ins and errors.ts.
 */
import { isUtf8 } from 'node:buffer';
import { UnsupportedValueError } from './errors.js';

/** How many MARKs may be open at once, and how deeply the writer nests containers. */
export const PICKLE_MAX_NESTING = 1000;
/** Digits accepted in a protocol-0 integer (Python 3.11 refuses more by default, too). */
const MAX_TEXT_DIGITS = 4300;

/** Opcodes that name, import or call code, or refer to data outside the pickle. */
const CODE_OPCODES: Record<number, string> = {
  99: 'GLOBAL',
  147: 'STACK_GLOBAL',
  82: 'REDUCE',
  98: 'BUILD',
  105: 'INST',
  111: 'OBJ',
  129: 'NEWOBJ',
  146: 'NEWOBJ_EX',
  130: 'EXT1',
  131: 'EXT2',
  132: 'EXT4',
  80: 'PERSID',
  81: 'BINPERSID',
  151: 'NEXT_BUFFER',
  152: 'READONLY_BUFFER',
};

function corrupt(message: string, pos: number): UnsupportedValueError {
  return new UnsupportedValueError(`not a readable pickle: ${message} at byte ${pos}`);
}

// ---- reader ------------------------------------------------------------------------------------

/**
 * Reads a pickle of plain data (protocols 0-5). None → null, bool → boolean, int → number (bigint
 * beyond ±2^53), float → number, str → string, bytes and bytearray → Buffer, list and tuple →
 * array, dict → plain object when every key is a str (else a Map), set and frozenset → Set.
 * Throws `UnsupportedValueError` for any opcode that could run code, and for corrupt input.
 */
export function loadPickle(input: Uint8Array): unknown {
  const data = Buffer.isBuffer(input)
    ? input
    : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  return new PickleReader(data).read();
}

/** The state of one read. Methods, not closures: nothing is allocated per call but the values. */
class PickleReader {
  readonly data: Buffer;
  readonly end: number;
  pos = 0;
  readonly stack: unknown[] = [];
  readonly marks: number[] = [];
  /** The stack index of the innermost open MARK: nothing below it may be popped. */
  floor = 0;
  readonly memo = new Map<number, unknown>();
  /** Containers built so far: when there are more than PICKLE_MAX_NESTING, STOP checks nesting. */
  containers = 0;
  /** Dicts that became Maps (a non-str key arrived), swapped everywhere at STOP. */
  replaced: Map<object, Map<unknown, unknown>> | undefined;

  constructor(data: Buffer) {
    this.data = data;
    this.end = data.length;
  }

  need(count: number, at: number): void {
    if (count > this.end - this.pos) throw corrupt(`truncated (${count} bytes needed)`, at);
  }
  pop(at: number): unknown {
    if (this.stack.length <= this.floor) throw corrupt('stack underflow', at);
    return this.stack.pop();
  }
  top(at: number): unknown {
    if (this.stack.length <= this.floor) throw corrupt('stack underflow', at);
    return this.stack[this.stack.length - 1];
  }
  popMark(at: number): unknown[] {
    const mark = this.marks.pop();
    if (mark === undefined) throw corrupt('no MARK to pop to', at);
    this.floor = this.marks.length === 0 ? 0 : this.marks[this.marks.length - 1]!;
    return this.stack.splice(mark);
  }
  line(at: number): string {
    const newline = this.data.indexOf(0x0a, this.pos);
    if (newline < 0) throw corrupt('truncated (no end of line)', at);
    const text = this.data.toString('latin1', this.pos, newline);
    this.pos = newline + 1;
    return text;
  }
  length8(at: number): number {
    this.need(8, at);
    const low = this.data.readUInt32LE(this.pos);
    const high = this.data.readUInt32LE(this.pos + 4);
    this.pos += 8;
    if (high !== 0) throw corrupt('length beyond the pickle', at);
    return low;
  }
  bytesOf(count: number, at: number): Buffer {
    this.need(count, at);
    const copy = Buffer.from(this.data.subarray(this.pos, this.pos + count));
    this.pos += count;
    return copy;
  }
  textOf(count: number, at: number): string {
    this.need(count, at);
    const text = decodeUtf8(this.data, this.pos, this.pos + count, at);
    this.pos += count;
    return text;
  }
  asciiOf(count: number, at: number): string {
    this.need(count, at);
    for (let i = this.pos; i < this.pos + count; i++) {
      if (this.data[i]! >= 0x80) throw corrupt('a Python 2 str with non-ASCII bytes', at);
    }
    const text = this.data.toString('latin1', this.pos, this.pos + count);
    this.pos += count;
    return text;
  }
  memoGet(index: number, at: number): unknown {
    if (!this.memo.has(index)) throw corrupt(`memo ${index} was never stored`, at);
    return this.memo.get(index);
  }
  resolve(target: unknown): unknown {
    return this.replaced !== undefined && typeof target === 'object' && target !== null
      ? (this.replaced.get(target) ?? target)
      : target;
  }
  setItem(target: unknown, key: unknown, value: unknown, at: number): void {
    if (target instanceof Map) {
      target.set(key, value);
      return;
    }
    if (!isDict(target)) throw corrupt('SETITEM(S) on something that is not a dict', at);
    if (typeof key === 'string') {
      if (key === '__proto__') {
        Object.defineProperty(target, key, {
          value,
          writable: true,
          enumerable: true,
          configurable: true,
        });
      } else target[key] = value;
      return;
    }
    // A non-str key: the dict becomes a Map; references to the object are swapped at the end.
    const map = new Map<unknown, unknown>(Object.entries(target));
    map.set(key, value);
    this.replaced ??= new Map();
    this.replaced.set(target, map);
  }
  appendTo(target: unknown, items: unknown[], at: number): void {
    if (!Array.isArray(target)) throw corrupt('APPEND(S) on something that is not a list', at);
    for (const item of items) target.push(item);
  }

  read(): unknown {
    while (this.pos < this.end) {
      const at = this.pos;
      const op = this.data[this.pos++]!;
      switch (op) {
        case 0x80: {
          // PROTO
          this.need(1, at);
          const protocol = this.data[this.pos++]!;
          if (protocol > 5) throw corrupt(`unsupported pickle protocol ${protocol}`, at);
          break;
        }
        case 0x95: {
          // FRAME: a length prefix only; the frame must lie within the pickle.
          const size = this.length8(at);
          this.need(size, at);
          break;
        }
        case 0x2e: {
          // STOP
          let value = this.pop(at);
          if (this.replaced !== undefined) value = swapReplaced(value, this.replaced);
          // The memo can nest containers without MARKs: bound the result's depth too, so code
          // that recurses over it (a printer, a serializer) cannot overflow the stack.
          if (this.containers > PICKLE_MAX_NESTING && nestingExceeds(value, PICKLE_MAX_NESTING)) {
            throw corrupt(`containers nested more than ${PICKLE_MAX_NESTING} levels`, at);
          }
          return value;
        }
        case 0x28: // MARK
          if (this.marks.length >= PICKLE_MAX_NESTING) {
            throw corrupt(`more than ${PICKLE_MAX_NESTING} nested MARKs`, at);
          }
          this.marks.push(this.stack.length);
          this.floor = this.stack.length;
          break;
        case 0x30: // POP
          if (this.stack.length > this.floor) this.stack.pop();
          else this.popMark(at); // as Python does: POP with an empty frame discards the MARK
          break;
        case 0x31: // POP_MARK
          this.popMark(at);
          break;
        case 0x32: // DUP
          this.stack.push(this.top(at));
          break;
        case 0x4e: // NONE
          this.stack.push(null);
          break;
        case 0x88: // NEWTRUE
          this.stack.push(true);
          break;
        case 0x89: // NEWFALSE
          this.stack.push(false);
          break;
        case 0x4b: // BININT1
          this.need(1, at);
          this.stack.push(this.data[this.pos++]!);
          break;
        case 0x4d: // BININT2
          this.need(2, at);
          this.stack.push(this.data.readUInt16LE(this.pos));
          this.pos += 2;
          break;
        case 0x4a: // BININT
          this.need(4, at);
          this.stack.push(this.data.readInt32LE(this.pos));
          this.pos += 4;
          break;
        case 0x8a: {
          // LONG1
          this.need(1, at);
          const size = this.data[this.pos++]!;
          this.need(size, at);
          this.stack.push(decodeLong(this.data, this.pos, size));
          this.pos += size;
          break;
        }
        case 0x8b: {
          // LONG4
          this.need(4, at);
          const size = this.data.readInt32LE(this.pos);
          this.pos += 4;
          if (size < 0) throw corrupt('negative LONG4 length', at);
          this.need(size, at);
          this.stack.push(decodeLong(this.data, this.pos, size));
          this.pos += size;
          break;
        }
        case 0x49: {
          // INT (protocol 0), which also spells True and False
          const text = this.line(at);
          if (text === '01') this.stack.push(true);
          else if (text === '00') this.stack.push(false);
          else this.stack.push(parseDecimal(text, at));
          break;
        }
        case 0x4c: {
          // LONG (protocol 0): decimal digits with an optional trailing L
          const text = this.line(at);
          this.stack.push(parseDecimal(text.endsWith('L') ? text.slice(0, -1) : text, at));
          break;
        }
        case 0x47: // BINFLOAT
          this.need(8, at);
          this.stack.push(this.data.readDoubleBE(this.pos));
          this.pos += 8;
          break;
        case 0x46: // FLOAT (protocol 0)
          this.stack.push(parseFloatText(this.line(at), at));
          break;
        case 0x8c: // SHORT_BINUNICODE
          this.need(1, at);
          this.stack.push(this.textOf(this.data[this.pos++]!, at));
          break;
        case 0x58: // BINUNICODE
          this.need(4, at);
          this.pos += 4;
          this.stack.push(this.textOf(this.data.readUInt32LE(this.pos - 4), at));
          break;
        case 0x8d: // BINUNICODE8
          this.stack.push(this.textOf(this.length8(at), at));
          break;
        case 0x56: // UNICODE (protocol 0): raw-unicode-escape
          this.stack.push(decodeRawUnicodeEscape(this.line(at), at));
          break;
        case 0x55: // SHORT_BINSTRING (a Python 2 str, read as ASCII as Python 3 does)
          this.need(1, at);
          this.stack.push(this.asciiOf(this.data[this.pos++]!, at));
          break;
        case 0x54: {
          // BINSTRING
          this.need(4, at);
          const size = this.data.readInt32LE(this.pos);
          this.pos += 4;
          if (size < 0) throw corrupt('negative BINSTRING length', at);
          this.stack.push(this.asciiOf(size, at));
          break;
        }
        case 0x53: // STRING (protocol 0): a quoted, escaped Python 2 str
          this.stack.push(decodeQuotedString(this.line(at), at));
          break;
        case 0x43: // SHORT_BINBYTES
          this.need(1, at);
          this.stack.push(this.bytesOf(this.data[this.pos++]!, at));
          break;
        case 0x42: // BINBYTES
          this.need(4, at);
          this.pos += 4;
          this.stack.push(this.bytesOf(this.data.readUInt32LE(this.pos - 4), at));
          break;
        case 0x8e: // BINBYTES8
        case 0x96: // BYTEARRAY8
          this.stack.push(this.bytesOf(this.length8(at), at));
          break;
        case 0x5d: // EMPTY_LIST
          this.containers++;
          this.stack.push([]);
          break;
        case 0x6c: // LIST
          this.containers++;
          this.stack.push(this.popMark(at));
          break;
        case 0x61: {
          // APPEND
          const item = this.pop(at);
          this.appendTo(this.top(at), [item], at);
          break;
        }
        case 0x65: {
          // APPENDS
          const items = this.popMark(at);
          this.appendTo(this.top(at), items, at);
          break;
        }
        case 0x29: // EMPTY_TUPLE
          this.containers++;
          this.stack.push([]);
          break;
        case 0x74: // TUPLE
          this.containers++;
          this.stack.push(this.popMark(at));
          break;
        case 0x85: // TUPLE1
          this.containers++;
          this.stack.push([this.pop(at)]);
          break;
        case 0x86: {
          // TUPLE2
          this.containers++;
          const second = this.pop(at);
          this.stack.push([this.pop(at), second]);
          break;
        }
        case 0x87: {
          // TUPLE3
          this.containers++;
          const third = this.pop(at);
          const second = this.pop(at);
          this.stack.push([this.pop(at), second, third]);
          break;
        }
        case 0x7d: // EMPTY_DICT
          this.containers++;
          this.stack.push({});
          break;
        case 0x64: {
          // DICT
          this.containers++;
          const items = this.popMark(at);
          if (items.length % 2 !== 0) throw corrupt('odd number of items for DICT', at);
          const dict = {};
          for (let i = 0; i < items.length; i += 2) {
            this.setItem(this.resolve(dict), items[i], items[i + 1], at);
          }
          this.stack.push(this.resolve(dict));
          break;
        }
        case 0x73: {
          // SETITEM
          const value = this.pop(at);
          const key = this.pop(at);
          this.setItem(this.resolve(this.top(at)), key, value, at);
          break;
        }
        case 0x75: {
          // SETITEMS
          const items = this.popMark(at);
          if (items.length % 2 !== 0) throw corrupt('odd number of items for SETITEMS', at);
          const target = this.top(at);
          for (let i = 0; i < items.length; i += 2) {
            this.setItem(this.resolve(target), items[i], items[i + 1], at);
          }
          break;
        }
        case 0x8f: // EMPTY_SET
          this.containers++;
          this.stack.push(new Set());
          break;
        case 0x90: {
          // ADDITEMS
          const items = this.popMark(at);
          const target = this.top(at);
          if (!(target instanceof Set))
            throw corrupt('ADDITEMS on something that is not a set', at);
          for (const item of items) target.add(item);
          break;
        }
        case 0x91: // FROZENSET
          this.containers++;
          this.stack.push(new Set(this.popMark(at)));
          break;
        case 0x94: // MEMOIZE
          this.memo.set(this.memo.size, this.top(at));
          break;
        case 0x71: // BINPUT
          this.need(1, at);
          this.memo.set(this.data[this.pos++]!, this.top(at));
          break;
        case 0x72: // LONG_BINPUT
          this.need(4, at);
          this.memo.set(this.data.readUInt32LE(this.pos), this.top(at));
          this.pos += 4;
          break;
        case 0x70: // PUT (protocol 0)
          this.memo.set(parseIndex(this.line(at), at), this.top(at));
          break;
        case 0x68: // BINGET
          this.need(1, at);
          this.stack.push(this.memoGet(this.data[this.pos++]!, at));
          break;
        case 0x6a: // LONG_BINGET
          this.need(4, at);
          this.stack.push(this.memoGet(this.data.readUInt32LE(this.pos), at));
          this.pos += 4;
          break;
        case 0x67: // GET (protocol 0)
          this.stack.push(this.memoGet(parseIndex(this.line(at), at), at));
          break;
        default: {
          const name = CODE_OPCODES[op];
          if (name !== undefined) {
            throw new UnsupportedValueError(
              `pickle opcode ${name} (0x${hex2(op)}) at byte ${at} can name or call code: ` +
                'refused (node-diskcache reads only plain data from pickles and never runs code)',
            );
          }
          throw corrupt(`unknown opcode 0x${hex2(op)}`, at);
        }
      }
    }
    throw corrupt('truncated (no STOP)', this.pos);
  }
}

function hex2(byte: number): string {
  return byte.toString(16).padStart(2, '0');
}

/** Whether `value` is a dict under construction: only dicts become plain objects here. */
function isDict(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype
  );
}

/**
 * After a dict turned into a Map (a non-str key arrived), every reference to the old object is
 * swapped for the Map. Iterative (never recursive): the graph may be deep or cyclic.
 */
function swapReplaced(root: unknown, replaced: Map<object, Map<unknown, unknown>>): unknown {
  const swap = (value: unknown): unknown =>
    typeof value === 'object' && value !== null ? (replaced.get(value) ?? value) : value;
  const result = swap(root);
  const seen = new Set<object>();
  const todo: unknown[] = [result];
  while (todo.length > 0) {
    const value = todo.pop();
    if (typeof value !== 'object' || value === null || Buffer.isBuffer(value) || seen.has(value)) {
      continue;
    }
    seen.add(value);
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        value[i] = swap(value[i]);
        todo.push(value[i]);
      }
    } else if (value instanceof Map) {
      const entries = [...value].map(([key, item]) => [swap(key), swap(item)] as const);
      value.clear();
      for (const [key, item] of entries) {
        value.set(key, item);
        todo.push(key, item);
      }
    } else if (value instanceof Set) {
      const items = [...value].map(swap);
      value.clear();
      for (const item of items) {
        value.add(item);
        todo.push(item);
      }
    } else {
      const record = value as Record<string, unknown>;
      for (const name of Object.keys(record)) {
        Object.defineProperty(record, name, { value: swap(record[name]) });
        todo.push(record[name]);
      }
    }
  }
  return result;
}

function isContainer(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Buffer.isBuffer(value);
}

function childrenOf(container: object): unknown[] {
  if (Array.isArray(container)) return container;
  if (container instanceof Map) return [...container.keys(), ...container.values()];
  if (container instanceof Set) return [...container];
  return Object.values(container);
}

/**
 * Whether the longest chain of containers inside `root` (root included) is longer than `limit`.
 * Iterative, with each container's height computed once (shared sub-structures are not walked
 * twice); a reference back to a container on the current path (a cycle) adds nothing.
 */
function nestingExceeds(root: unknown, limit: number): boolean {
  if (!isContainer(root)) return false;
  const heights = new Map<object, number>();
  const onPath = new Set<object>([root]);
  const path: { node: object; children: unknown[]; next: number; best: number }[] = [
    { node: root, children: childrenOf(root), next: 0, best: 0 },
  ];
  while (path.length > 0) {
    const frame = path[path.length - 1]!;
    if (frame.next < frame.children.length) {
      const child = frame.children[frame.next++];
      if (!isContainer(child) || onPath.has(child)) continue;
      const known = heights.get(child);
      if (known !== undefined) {
        frame.best = Math.max(frame.best, known);
        continue;
      }
      if (path.length >= limit) return true;
      onPath.add(child);
      path.push({ node: child, children: childrenOf(child), next: 0, best: 0 });
      continue;
    }
    path.pop();
    onPath.delete(frame.node);
    const height = frame.best + 1;
    if (height > limit) return true;
    heights.set(frame.node, height);
    const parent = path[path.length - 1];
    if (parent !== undefined) parent.best = Math.max(parent.best, height);
  }
  return false;
}

/** A little-endian two's-complement integer of `size` bytes (LONG1 / LONG4). */
function decodeLong(data: Buffer, start: number, size: number): number | bigint {
  if (size === 0) return 0;
  if (size <= 6) {
    return data.readIntLE(start, size);
  }
  const big = BigInt(
    `0x${Buffer.from(data.subarray(start, start + size))
      .reverse()
      .toString('hex')}`,
  );
  const value = data[start + size - 1]! & 0x80 ? big - (1n << BigInt(size * 8)) : big;
  return toJsInt(value);
}

function toJsInt(value: bigint): number | bigint {
  return value >= -9007199254740991n && value <= 9007199254740991n ? Number(value) : value;
}

const DECIMAL = /^[+-]?\d+$/;

function parseDecimal(text: string, at: number): number | bigint {
  const trimmed = text.trim();
  if (!DECIMAL.test(trimmed) || trimmed.length > MAX_TEXT_DIGITS + 1) {
    throw corrupt(`bad integer ${JSON.stringify(text.slice(0, 40))}`, at);
  }
  return trimmed.length <= 15 ? Number(trimmed) : toJsInt(BigInt(trimmed));
}

function parseIndex(text: string, at: number): number {
  if (!/^\d{1,10}$/.test(text))
    throw corrupt(`bad memo index ${JSON.stringify(text.slice(0, 40))}`, at);
  return Number(text);
}

const FLOAT_TEXT = /^[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)$/;

function parseFloatText(text: string, at: number): number {
  const trimmed = text.trim();
  if (FLOAT_TEXT.test(trimmed)) return Number(trimmed);
  const lower = trimmed.toLowerCase();
  const sign = lower.startsWith('-') ? -1 : 1;
  const word = lower.replace(/^[+-]/, '');
  if (word === 'inf' || word === 'infinity') return sign * Infinity;
  if (word === 'nan') return Number.NaN;
  throw corrupt(`bad float ${JSON.stringify(text.slice(0, 40))}`, at);
}

/** UTF-8 as Python decodes pickled str: strict, except that encoded surrogates pass. */
function decodeUtf8(data: Buffer, start: number, stop: number, at: number): string {
  if (stop - start < 24) {
    let text = '';
    let i = start;
    for (; i < stop; i++) {
      const byte = data[i]!;
      if (byte >= 0x80) break;
      text += String.fromCharCode(byte);
    }
    if (i === stop) return text;
  }
  if (isUtf8(data.subarray(start, stop))) return data.toString('utf8', start, stop);
  return decodeSurrogatePass(data, start, stop, at);
}

function decodeSurrogatePass(data: Buffer, start: number, stop: number, at: number): string {
  const units: number[] = [];
  let i = start;
  const cont = (k: number): number => {
    const byte = data[i + k];
    if (i + k >= stop || byte === undefined || (byte & 0xc0) !== 0x80) {
      throw corrupt('invalid UTF-8 in a str', at);
    }
    return byte & 0x3f;
  };
  while (i < stop) {
    const byte = data[i]!;
    if (byte < 0x80) {
      units.push(byte);
      i += 1;
    } else if (byte >= 0xc2 && byte < 0xe0) {
      units.push(((byte & 0x1f) << 6) | cont(1));
      i += 2;
    } else if (byte >= 0xe0 && byte < 0xf0) {
      const code = ((byte & 0x0f) << 12) | (cont(1) << 6) | cont(2);
      if (code < 0x800) throw corrupt('overlong UTF-8 in a str', at);
      units.push(code); // surrogates (U+D800-DFFF) pass, as Python's 'surrogatepass'
      i += 3;
    } else if (byte >= 0xf0 && byte < 0xf5) {
      const code = ((byte & 0x07) << 18) | (cont(1) << 12) | (cont(2) << 6) | cont(3);
      if (code < 0x10000 || code > 0x10ffff) throw corrupt('invalid UTF-8 in a str', at);
      units.push(0xd800 + ((code - 0x10000) >> 10), 0xdc00 + ((code - 0x10000) & 0x3ff));
      i += 4;
    } else {
      throw corrupt('invalid UTF-8 in a str', at);
    }
  }
  let text = '';
  for (let k = 0; k < units.length; k += 4096) {
    text += String.fromCharCode(...units.slice(k, k + 4096));
  }
  return text;
}

/** Python's `raw-unicode-escape` decoding of a UNICODE line (given as latin-1 text). */
function decodeRawUnicodeEscape(line: string, at: number): string {
  if (!line.includes('\\')) return line;
  return line.replace(/\\(u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[uU])/g, (_match, sequence: string) => {
    if (sequence.length === 1) throw corrupt('truncated \\u escape in a UNICODE str', at);
    const code = Number.parseInt(sequence.slice(1), 16);
    if (code > 0x10ffff) throw corrupt('\\U escape beyond U+10FFFF', at);
    return String.fromCodePoint(code);
  });
}

const SIMPLE_ESCAPES: Record<string, string> = {
  '\\': '\\',
  "'": "'",
  '"': '"',
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '\n': '',
};

/** A protocol-0 STRING: a quoted Python 2 str literal, decoded as ASCII as Python 3 does. */
function decodeQuotedString(line: string, at: number): string {
  const quote = line[0];
  if (line.length < 2 || (quote !== "'" && quote !== '"') || line[line.length - 1] !== quote) {
    throw corrupt('the STRING opcode argument must be quoted', at);
  }
  const body = line.slice(1, -1);
  const text = body.replace(
    /\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|x|[\s\S])?/g,
    (match, sequence: string | undefined) => {
      if (sequence === undefined) throw corrupt('trailing backslash in a STRING', at);
      if (sequence === 'x') throw corrupt('bad \\x escape in a STRING', at);
      if (sequence[0] === 'x') return String.fromCharCode(Number.parseInt(sequence.slice(1), 16));
      if (/^[0-7]/.test(sequence)) return String.fromCharCode(Number.parseInt(sequence, 8) & 0xff);
      return SIMPLE_ESCAPES[sequence] ?? match;
    },
  );
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the ASCII range is the point
  if (!/^[\x00-\x7f]*$/.test(text)) throw corrupt('a Python 2 str with non-ASCII bytes', at);
  return text;
}
