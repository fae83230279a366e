import { describe, expect, it } from 'vitest';
import { Cache } from '../../src/index.js';
import { runChildren } from '../helpers/children.js';
import { tempDir } from '../helpers/tmp.js';

describe('harness', () => {
  it('children write to the same directory the parent reads', async () => {
    const dir = tempDir('smoke');
    await runChildren('echo-child.ts', [
      [dir, 'a'],
      [dir, 'b'],
    ]);
    const cache = new Cache(dir);
    expect(typeof cache.get('a')).toBe('number');
    expect(typeof cache.get('b')).toBe('number');
    cache.close();
  });
});
