/**
 * Smoke test of examples/resumable-hash.ts: it hashes every file of a folder into the queue's
 * results Index through the runner, and a second run queues only the files added since.
 */
import { spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Index } from '../../src/collections/index.js';
import { FIXTURES } from '../helpers/children.js';
import { tempDir } from '../helpers/tmp.js';

const ROOT = path.resolve(FIXTURES, '../..');
const EXAMPLE = path.join(ROOT, 'examples/resumable-hash.ts');

function run(args: string[]): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', EXAMPLE, ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout }));
  });
}

function write(folder: string, names: string[]): void {
  for (const name of names) {
    fs.mkdirSync(path.dirname(path.join(folder, name)), { recursive: true });
    fs.writeFileSync(path.join(folder, name), `contents of ${name}\n`.repeat(100));
  }
}

describe('examples/resumable-hash.ts', () => {
  it('hashes every file into the results Index, and a second run queues only new files', async () => {
    const folder = tempDir('hash-folder');
    const queue = path.join(tempDir('hash-queue'), 'queue');
    write(
      folder,
      Array.from({ length: 30 }, (_, i) => `dir${i % 3}/file${i}.txt`),
    );
    const first = await run([folder, '--queue', queue, '--processes', '2']);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/30 files, 30 newly queued/);
    expect(first.stdout).toMatch(/^done: 30 files hashed, 0 still queued, 0 failed$/m);
    write(folder, ['late/one.txt', 'late/two.txt']);
    const second = await run([folder, '--queue', queue, '--processes', '1']);
    expect(second.stdout).toMatch(/32 files, 2 newly queued/);
    expect(second.stdout).toMatch(/^done: 32 files hashed/m);
    const results = new Index(path.join(queue, 'results'));
    const file = path.join(folder, 'late/two.txt');
    const expected = crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
    expect(results.get(file)).toEqual({ sha256: expected, bytes: fs.statSync(file).size });
    expect(results.size).toBe(32);
    results.close();
  });
});
