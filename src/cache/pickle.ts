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
 * The writer produces the same subset in protocol 4/5 framing, and for keys exactly the bytes of
 * `pickletools.optimize(pickle.dumps(key, protocol=5))`, which is how diskcache stores a key.
 * This file must not import anything but node built-ins and errors.ts.
 */
import { isUtf8 } from 'node:buffer';
import { describeValue, UnsupportedValueError } from './errors.js';

/** How many MARKs may be open at once, and how deeply the writer nests containers. */
export const PICKLE_MAX_NESTING = 1000;
/** Digits accepted in a protocol-0 integer (Python 3.11 refuses more by default, too). */
const MAX_TEXT_DIGITS = 4300;
/** pickle's frame size target (`_FRAME_SIZE_TARGET`) and minimum (`_FRAME_SIZE_MIN`). */
const FRAME_TARGET = 64 * 1024;
const FRAME_MIN = 4;
/** Items per APPENDS / SETITEMS / ADDITEMS, as Python's pickler batches them. */
const BATCH = 1000;

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

// ---- writer ------------------------------------------------------------------------------------

/** Options of `dumpPickle`. */
export interface DumpPickleOptions {
  /**
   * Write a cache key: arrays become tuples (hashable, so Python can look the key up), object keys
   * are sorted (deep-equal keys give equal bytes), and nothing is memoized, so the bytes are those
   * of `pickletools.optimize(pickle.dumps(key, protocol))` in Python. @default false
   */
  readonly key?: boolean;
  /** The protocol number written in the header: 4 or 5 (the opcodes are the same). @default 5 */
  readonly protocol?: 4 | 5;
}

/**
 * Writes `value` as a pickle that Python's `pickle.loads` reads: null → None, boolean → bool,
 * integral safe number and bigint → int, other numbers (-0, NaN, ±Infinity included) → float,
 * string → str, Buffer/Uint8Array → bytes, array → list (tuple for keys), plain object → dict,
 * Map with scalar or bytes keys → dict, Set of scalars or bytes → set. Shared and cyclic arrays,
 * objects, Maps and Sets are written once (memo), as Python does.
 * Throws `TypeError` naming anything else (undefined, Date, class instances, functions...).
 */
export function dumpPickle(value: unknown, options: DumpPickleOptions = {}): Buffer {
  const writer = new PickleWriter(options.key === true);
  writer.value(value, 0);
  writer.byte(0x2e); // STOP
  return writer.finish(options.protocol ?? 5);
}

const HEADER = 11; // PROTO n, FRAME + 8-byte length

class PickleWriter {
  buf = Buffer.allocUnsafe(256);
  pos = HEADER;
  readonly #key: boolean;
  readonly #memo = new Map<object, number>();

  constructor(key: boolean) {
    this.#key = key;
  }

  #ensure(count: number): void {
    if (this.pos + count <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + count) size *= 2;
    const grown = Buffer.allocUnsafe(size);
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }

  byte(op: number): void {
    this.#ensure(1);
    this.buf[this.pos++] = op;
  }

  value(value: unknown, depth: number): void {
    switch (typeof value) {
      case 'string':
        this.#string(value);
        return;
      case 'number':
        if (Number.isSafeInteger(value) && !Object.is(value, -0)) this.#int(value);
        else {
          this.#ensure(9);
          this.buf[this.pos] = 0x47; // BINFLOAT
          this.buf.writeDoubleBE(value, this.pos + 1);
          this.pos += 9;
        }
        return;
      case 'bigint':
        if (value >= -2147483648n && value <= 2147483647n) this.#int(Number(value));
        else this.#long(value);
        return;
      case 'boolean':
        this.byte(value ? 0x88 : 0x89);
        return;
      case 'object':
        if (value === null) {
          this.byte(0x4e);
          return;
        }
        if (value instanceof Uint8Array) {
          this.#bytes(value);
          return;
        }
        this.#container(value, depth);
        return;
      default:
        throw unpicklable(value);
    }
  }

  #container(value: object, depth: number): void {
    if (depth >= PICKLE_MAX_NESTING) {
      throw new TypeError(
        `invalid value: nested more than ${PICKLE_MAX_NESTING} levels${this.#key ? ' (or cyclic)' : ''}; pickle cannot carry it`,
      );
    }
    if (!this.#key) {
      const seen = this.#memo.get(value);
      if (seen !== undefined) {
        this.#get(seen);
        return;
      }
    }
    if (Array.isArray(value)) {
      if (this.#key) this.#tuple(value, depth);
      else this.#list(value, depth);
      return;
    }
    if (value instanceof Map) {
      this.#dictStart(value);
      this.#items(
        value.size,
        value.entries(),
        (entry) => {
          const [key, item] = entry as [unknown, unknown];
          if (!isScalar(key)) {
            throw new TypeError(
              `invalid value: a Map key ${describeValue(key)} cannot be a Python dict key in a pickle (use strings, numbers, bigints, booleans, null or bytes)`,
            );
          }
          this.value(key, depth + 1);
          this.value(item, depth + 1);
        },
        0x73,
        0x75,
      );
      return;
    }
    if (value instanceof Set) {
      for (const item of value) {
        if (!isScalar(item)) {
          throw new TypeError(
            `invalid value: a Set of ${describeValue(item)} cannot be pickled as a Python set (elements must be strings, numbers, bigints, booleans, null or bytes)`,
          );
        }
      }
      if (this.#key) {
        this.byte(0x28); // MARK
        for (const item of value) this.value(item, depth + 1);
        this.byte(0x91); // FROZENSET
        return;
      }
      this.byte(0x8f); // EMPTY_SET
      this.#memoize(value);
      let batch = 0;
      for (const item of value) {
        if (batch === 0) this.byte(0x28);
        this.value(item, depth + 1);
        if (++batch === BATCH) {
          this.byte(0x90); // ADDITEMS
          batch = 0;
        }
      }
      if (batch > 0) this.byte(0x90);
      return;
    }
    const proto = Object.getPrototypeOf(value);
    if (proto === Object.prototype || proto === null) {
      const record = value as Record<string, unknown>;
      const names = Object.keys(record);
      if (this.#key) names.sort();
      this.#dictStart(value);
      this.#items(
        names.length,
        names.values(),
        (name) => {
          this.#string(name as string);
          this.value(record[name as string], depth + 1);
        },
        0x73,
        0x75,
      );
      return;
    }
    throw unpicklable(value);
  }

  #dictStart(value: object): void {
    this.byte(0x7d); // EMPTY_DICT
    if (!this.#key) this.#memoize(value);
  }

  /** Python's batching: one item → item + single op; else MARK items BATCH_OP, 1000 at a time. */
  #items(
    count: number,
    items: Iterator<unknown>,
    write: (item: unknown) => void,
    single: number,
    batchOp: number,
  ): void {
    if (count === 0) return;
    if (count === 1) {
      write(items.next().value);
      this.byte(single);
      return;
    }
    let batch = 0;
    for (let next = items.next(); !next.done; next = items.next()) {
      if (batch === 0) this.byte(0x28); // MARK
      write(next.value);
      if (++batch === BATCH) {
        this.byte(batchOp);
        batch = 0;
      }
    }
    if (batch > 0) this.byte(batchOp);
  }

  #list(value: unknown[], depth: number): void {
    this.byte(0x5d); // EMPTY_LIST
    this.#memoize(value);
    const length = value.length;
    if (length === 0) return;
    if (length === 1) {
      this.#item(value, 0, depth);
      this.byte(0x61); // APPEND
      return;
    }
    for (let start = 0; start < length; start += BATCH) {
      this.byte(0x28);
      const stop = Math.min(length, start + BATCH);
      for (let i = start; i < stop; i++) this.#item(value, i, depth);
      this.byte(0x65); // APPENDS
    }
  }

  #tuple(value: unknown[], depth: number): void {
    const length = value.length;
    if (length === 0) {
      this.byte(0x29); // EMPTY_TUPLE
      return;
    }
    if (length > 3) this.byte(0x28);
    for (let i = 0; i < length; i++) this.#item(value, i, depth);
    this.byte(length > 3 ? 0x74 : 0x84 + length); // TUPLE, or TUPLE1..3
  }

  #item(array: unknown[], index: number, depth: number): void {
    const item = array[index];
    if (item === undefined) {
      throw new TypeError(
        `invalid value: array item ${index} is undefined (or a hole); pickle cannot carry undefined, use null`,
      );
    }
    this.value(item, depth + 1);
  }

  #memoize(value: object): void {
    this.#memo.set(value, this.#memo.size);
    this.byte(0x94); // MEMOIZE
  }

  #get(index: number): void {
    if (index < 256) {
      this.#ensure(2);
      this.buf[this.pos] = 0x68; // BINGET
      this.buf[this.pos + 1] = index;
      this.pos += 2;
    } else {
      this.#ensure(5);
      this.buf[this.pos] = 0x6a; // LONG_BINGET
      this.buf.writeUInt32LE(index, this.pos + 1);
      this.pos += 5;
    }
  }

  /** An integer within int32, as Python writes it. */
  #int(value: number): void {
    if (value < -2147483648 || value > 2147483647) {
      this.#long(BigInt(value));
      return;
    }
    this.#ensure(5);
    const buf = this.buf;
    if (value >= 0 && value <= 0xff) {
      buf[this.pos] = 0x4b; // BININT1
      buf[this.pos + 1] = value;
      this.pos += 2;
    } else if (value >= 0 && value <= 0xffff) {
      buf[this.pos] = 0x4d; // BININT2
      buf.writeUInt16LE(value, this.pos + 1);
      this.pos += 3;
    } else {
      buf[this.pos] = 0x4a; // BININT
      buf.writeInt32LE(value, this.pos + 1);
      this.pos += 5;
    }
  }

  /** LONG1 / LONG4: the shortest little-endian two's complement, as Python's encode_long. */
  #long(value: bigint): void {
    // The shortest n with -2^(8n-1) <= value < 2^(8n-1).
    const magnitude = value < 0n ? -value - 1n : value;
    const size = Math.floor(bitLength(magnitude) / 8) + 1;
    const unsigned = value < 0n ? (1n << BigInt(8 * size)) + value : value;
    const bytes = Buffer.from(unsigned.toString(16).padStart(size * 2, '0'), 'hex').reverse();
    if (size < 256) {
      this.#ensure(2 + size);
      this.buf[this.pos] = 0x8a;
      this.buf[this.pos + 1] = size;
      this.pos += 2;
    } else {
      this.#ensure(5 + size);
      this.buf[this.pos] = 0x8b;
      this.buf.writeInt32LE(size, this.pos + 1);
      this.pos += 5;
    }
    bytes.copy(this.buf, this.pos);
    this.pos += size;
  }

  #string(value: string): void {
    const length = value.length;
    // Short ASCII strings (most dict keys) are copied byte by byte: no encoder call.
    if (length < 64) {
      this.#ensure(2 + length);
      const buf = this.buf;
      const start = this.pos;
      let i = 0;
      for (; i < length; i++) {
        const code = value.charCodeAt(i);
        if (code >= 0x80) break;
        buf[start + 2 + i] = code;
      }
      if (i === length) {
        buf[start] = 0x8c; // SHORT_BINUNICODE
        buf[start + 1] = length;
        this.pos = start + 2 + length;
        return;
      }
    }
    const bytes = isWellFormed(value) ? Buffer.from(value, 'utf8') : encodeSurrogatePass(value);
    this.#sized(bytes, 0x8c, 0x58, 0x8d);
  }

  #bytes(value: Uint8Array): void {
    this.#sized(value, 0x43, 0x42, 0x8e); // SHORT_BINBYTES, BINBYTES, BINBYTES8
  }

  #sized(bytes: Uint8Array, short: number, long: number, huge: number): void {
    const size = bytes.length;
    this.#ensure(9 + size);
    const buf = this.buf;
    if (size < 256) {
      buf[this.pos] = short;
      buf[this.pos + 1] = size;
      this.pos += 2;
    } else if (size <= 0xffffffff) {
      buf[this.pos] = long;
      buf.writeUInt32LE(size, this.pos + 1);
      this.pos += 5;
    } else {
      buf[this.pos] = huge;
      buf.writeUInt32LE(size % 2 ** 32, this.pos + 1);
      buf.writeUInt32LE(Math.floor(size / 2 ** 32), this.pos + 5);
      this.pos += 9;
    }
    buf.set(bytes, this.pos);
    this.pos += size;
  }

  /**
   * The finished pickle: PROTO, then the body in frames as `pickletools.optimize` frames it
   * (a frame is closed before an opcode once it holds 64 KiB; an opcode above 64 KiB is written
   * outside any frame; a frame under 4 bytes gets no FRAME header).
   */
  finish(protocol: number): Buffer {
    const body = this.pos - HEADER;
    const buf = this.buf;
    if (body <= FRAME_TARGET) {
      if (body < FRAME_MIN) {
        buf[HEADER - 2] = 0x80;
        buf[HEADER - 1] = protocol;
        return Buffer.from(buf.subarray(HEADER - 2, this.pos));
      }
      buf[0] = 0x80;
      buf[1] = protocol;
      buf[2] = 0x95;
      buf.writeUInt32LE(body, 3);
      buf.writeUInt32LE(0, 7);
      return Buffer.from(buf.subarray(0, this.pos));
    }
    const parts: Buffer[] = [Buffer.from([0x80, protocol])];
    let frameStart = HEADER;
    const closeFrame = (stop: number): void => {
      const size = stop - frameStart;
      if (size >= FRAME_MIN) {
        const header = Buffer.alloc(9);
        header[0] = 0x95;
        header.writeUInt32LE(size % 2 ** 32, 1);
        header.writeUInt32LE(Math.floor(size / 2 ** 32), 5);
        parts.push(header);
      }
      if (size > 0) parts.push(buf.subarray(frameStart, stop));
      frameStart = stop;
    };
    for (let op = HEADER; op < this.pos; ) {
      const size = opcodeSize(buf, op);
      if (size > FRAME_TARGET) {
        closeFrame(op);
        parts.push(buf.subarray(op, op + size));
        frameStart = op + size;
      } else if (op - frameStart >= FRAME_TARGET) {
        closeFrame(op);
      }
      op += size;
    }
    closeFrame(this.pos);
    return Buffer.concat(parts);
  }
}

/** The size of one opcode the writer emits, with its argument. */
function opcodeSize(buf: Buffer, pos: number): number {
  switch (buf[pos]) {
    case 0x4b: // BININT1
    case 0x68: // BINGET
      return 2;
    case 0x4d: // BININT2
      return 3;
    case 0x4a: // BININT
    case 0x6a: // LONG_BINGET
      return 5;
    case 0x47: // BINFLOAT
      return 9;
    case 0x8a: // LONG1
    case 0x8c: // SHORT_BINUNICODE
    case 0x43: // SHORT_BINBYTES
      return 2 + buf[pos + 1]!;
    case 0x8b: // LONG4
    case 0x58: // BINUNICODE
    case 0x42: // BINBYTES
      return 5 + buf.readUInt32LE(pos + 1);
    case 0x8d: // BINUNICODE8
    case 0x8e: // BINBYTES8
      return 9 + buf.readUInt32LE(pos + 1) + buf.readUInt32LE(pos + 5) * 2 ** 32;
    default:
      return 1;
  }
}

function bitLength(value: bigint): number {
  if (value === 0n) return 0;
  const hex = value.toString(16);
  return (hex.length - 1) * 4 + Number.parseInt(hex[0]!, 16).toString(2).length;
}

function isScalar(value: unknown): boolean {
  const kind = typeof value;
  return (
    value === null ||
    kind === 'string' ||
    kind === 'number' ||
    kind === 'bigint' ||
    kind === 'boolean' ||
    value instanceof Uint8Array
  );
}

function unpicklable(value: unknown): TypeError {
  const what =
    value === undefined
      ? 'undefined'
      : typeof value === 'symbol'
        ? 'a symbol'
        : typeof value === 'function'
          ? 'a function'
          : `a ${describeValue(value)}`;
  return new TypeError(
    `invalid value: ${what} cannot be pickled for Python (pickle carries null, booleans, numbers, ` +
      'bigints, strings, bytes, arrays, plain objects, Maps and Sets); use the default Disk for it',
  );
}

/** `String.prototype.isWellFormed` (Node 20, not in the ES2023 lib types). */
function isWellFormed(text: string): boolean {
  return (text as unknown as { isWellFormed(): boolean }).isWellFormed();
}

/** UTF-8 with lone surrogates encoded as 3 bytes, as Python's 'surrogatepass' (WTF-8). */
function encodeSurrogatePass(text: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    let code = text.charCodeAt(i);
    if (code >= 0xd800 && code < 0xdc00 && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next < 0xe000) {
        code = 0x10000 + ((code - 0xd800) << 10) + (next - 0xdc00);
        i++;
      }
    }
    if (code < 0x80) out.push(code);
    else if (code < 0x800) out.push(0xc0 | (code >> 6), 0x80 | (code & 0x3f));
    else if (code < 0x10000) {
      out.push(0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f));
    } else {
      out.push(
        0xf0 | (code >> 18),
        0x80 | ((code >> 12) & 0x3f),
        0x80 | ((code >> 6) & 0x3f),
        0x80 | (code & 0x3f),
      );
    }
  }
  return Buffer.from(out);
}
