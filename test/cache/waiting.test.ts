import { describe, expect, it } from 'vitest';
import { Backoff, sleep, waitFor, wakeOne as wake } from '../../src/cache/waiting.js';
import { AbortError, Timeout } from '../../src/index.js';

describe('cache/waiting', () => {
  it('backs off from about 1 ms, doubling, to about 50 ms, with jitter', () => {
    const backoff = new Backoff();
    const delays = Array.from({ length: 12 }, () => backoff.next());
    expect(delays[0]).toBeGreaterThanOrEqual(0.5);
    expect(delays[0]).toBeLessThan(1.5);
    for (const delay of delays) expect(delay).toBeLessThan(75);
    expect(delays.at(-1)).toBeGreaterThanOrEqual(25); // reached the cap
  });

  it('waitFor retries until the attempt gives a value', async () => {
    let tries = 0;
    const value = await waitFor(() => (++tries === 5 ? 'done' : undefined), {}, 'test');
    expect(value).toBe('done');
    expect(tries).toBe(5);
  });

  it('waitFor rejects with Timeout after at least one try, and with AbortError on abort', async () => {
    let tries = 0;
    await expect(waitFor(() => void tries++, { timeout: 0 }, 'nothing')).rejects.toBeInstanceOf(
      Timeout,
    );
    expect(tries).toBe(1);
    await expect(waitFor(() => undefined, { timeout: 0.01 }, 'nothing')).rejects.toThrow(
      'nothing: timed out after 0.01 s',
    );
    tries = 0;
    await expect(
      waitFor(() => void tries++, { signal: AbortSignal.abort('why') }, 'nothing'),
    ).rejects.toBeInstanceOf(AbortError);
    expect(tries).toBe(0);
    const error = await waitFor(
      () => undefined,
      { signal: AbortSignal.timeout(10) },
      'nothing',
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AbortError);
    expect((error as AbortError).cause).toBeInstanceOf(DOMException); // the signal's reason
  });

  it('wake ends the oldest sleeper on a channel early, one per call', async () => {
    const woken: string[] = [];
    const first = sleep(60_000, { channel: 'c' }).then(() => woken.push('first'));
    const second = sleep(60_000, { channel: 'c' }).then(() => woken.push('second'));
    wake('c');
    await first;
    expect(woken).toEqual(['first']);
    wake('other'); // no sleeper: nothing happens
    wake('c');
    await second;
    expect(woken).toEqual(['first', 'second']);
  });
});
