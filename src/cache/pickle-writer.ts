/**
 * The pickle writer of the plain-data subset that pickle.ts reads: null, booleans, numbers,
 * bigints, strings, bytes, arrays, plain objects, Maps and Sets, in protocol 4/5 framing. For keys
 * it writes exactly the bytes of `pickletools.optimize(pickle.dumps(key, protocol=5))`, which is
 * how diskcache stores a key, so lookups from Python and Node find the same row.
 * It never writes an opcode that names or calls code. It imports only errors.ts and pickle.ts.
 */
import { describeValue } from './errors.js';
import { PICKLE_MAX_NESTING } from './pickle.js';

/** pickle's frame size target (`_FRAME_SIZE_TARGET`) and minimum (`_FRAME_SIZE_MIN`). */
const FRAME_TARGET = 64 * 1024;
const FRAME_MIN = 4;
/** Items per APPENDS / SETITEMS / ADDITEMS, as Python's pickler batches them. */
const BATCH = 1000;

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
