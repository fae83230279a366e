/**
 * Custom serialization: a Disk subclass that brotli-compresses every value (python-diskcache's
 * "CompressedDisk" pattern; JSONDisk in src/cache/disk.ts does the same with JSON and zlib).
 * `store` turns a value into what the Cache writes, `fetch` turns it back; keys are left alone
 * (`put`/`get`), so they stay readable and sortable. Pass the class as the `disk` option.
 * Run: npx tsx examples/compressing-disk.ts
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import * as v8 from 'node:v8';
import * as zlib from 'node:zlib';
import { Cache, type DbValue, Disk, type StoredValue } from '../src/index.js';

class BrotliDisk extends Disk {
  override store(value: unknown, key?: unknown): StoredValue {
    // undefined is refused by Disk ("absent"): let it say so.
    if (value === undefined) return super.store(value, key);
    const packed = zlib.brotliCompressSync(v8.serialize(value), {
      params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 5 },
    });
    return super.store(packed, key); // a Buffer: stored as a BLOB, or in a file when large
  }

  override fetch(mode: number, filename: string | null, dbValue: DbValue): unknown {
    const packed = super.fetch(mode, filename, dbValue) as Buffer;
    return v8.deserialize(zlib.brotliDecompressSync(packed));
  }
}

// 2,000 log records: repetitive, as cached API responses and HTML pages tend to be.
const records = Array.from({ length: 2000 }, (_, i) => ({
  id: i,
  level: i % 10 === 0 ? 'warn' : 'info',
  message: `request ${i} served from the cache in ${i % 7} ms`,
  at: new Date(1_700_000_000_000 + i * 1000),
}));

const plain = new Cache();
const compressed = new Cache(undefined, { disk: BrotliDisk });
for (const cache of [plain, compressed]) cache.set('logs', records);

const back = compressed.get<typeof records>('logs');
assert.deepEqual(back, records); // types survive: the Dates are Dates
assert.ok(back?.[5]?.at instanceof Date);
console.log(
  `plain Disk: ${plain.volume()} bytes on disk; BrotliDisk: ${compressed.volume()} bytes`,
);
assert.ok(compressed.volume() * 2 < plain.volume(), 'compression should at least halve the volume');

// The setting is not persisted (it is code): every opener passes the same disk class.
const reopened = new Cache(compressed.directory, { disk: BrotliDisk });
assert.equal(reopened.get<typeof records>('logs')?.length, 2000);
console.log('reopened with { disk: BrotliDisk }: 2000 records read back');

for (const cache of [plain, compressed, reopened]) cache.close();
for (const cache of [plain, compressed]) rmSync(cache.directory, { recursive: true, force: true });
