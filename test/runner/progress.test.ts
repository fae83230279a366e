/**
 * Progress display: the rate over a window, durations, the one-line bar redrawn in place on a
 * terminal, and plain periodic lines elsewhere.
 */
import { describe, expect, it } from 'vitest';
import {
  createProgressReporter,
  formatDuration,
  formatProgressBar,
  formatProgressLine,
  RateMeter,
  type RunProgress,
} from '../../src/runner/progress.js';

const snapshot: RunProgress = {
  done: 4500,
  failed: 2,
  pending: 5400,
  leased: 98,
  rate: 1234.4,
  etaSeconds: 4.4,
  elapsedSeconds: 65,
  workers: 4,
  restarts: 1,
};

function capture(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, stream: { isTTY, columns: 100, write: (chunk: string) => writes.push(chunk) } };
}

describe('progress', () => {
  it('measures the rate over the last ten seconds', () => {
    const meter = new RateMeter();
    expect(meter.rate()).toBe(0);
    meter.add(0, 0);
    meter.add(2, 100);
    expect(meter.rate()).toBe(50);
    for (let t = 3; t <= 30; t++) meter.add(t, 100 + (t - 2) * 10);
    expect(meter.rate()).toBeCloseTo(10);
  });

  it('formats durations as m:ss or h:mm:ss', () => {
    expect([0, 7, 65, 3599.6, 3723].map(formatDuration)).toEqual([
      '0:00',
      '0:07',
      '1:05',
      '1:00:00',
      '1:02:03',
    ]);
  });

  it('writes a plain line with done, failed, pending, running, rate and ETA', () => {
    expect(formatProgressLine(snapshot)).toBe(
      '[1:05] 4,500 done · 2 failed · 5,400 pending · 98 running · 1,234/s · ETA 0:04 · 4 workers (1 restarted)',
    );
    expect(
      formatProgressLine({ ...snapshot, rate: 0.5, etaSeconds: undefined, restarts: 0 }),
    ).toMatch(/0\.5\/s · ETA -- · 4 workers$/);
  });

  it('draws a bar that fits the terminal', () => {
    const bar = formatProgressBar(snapshot, 120);
    expect(bar).toMatch(/^\[█+░+\] {2}45% 4,500 done/);
    expect([...formatProgressBar(snapshot, 60)].length).toBeLessThanOrEqual(59);
    expect(
      formatProgressBar({ ...snapshot, done: 0, failed: 0, pending: 0, leased: 0 }, 120),
    ).toMatch(/^\[█+\] 100%/);
  });

  it('redraws one line in place on a terminal and ends it with a newline', () => {
    const { writes, stream } = capture(true);
    const reporter = createProgressReporter(stream);
    reporter.update(snapshot);
    reporter.update({ ...snapshot, elapsedSeconds: 66 });
    reporter.finish(snapshot);
    expect(writes).toHaveLength(3);
    expect(writes.every((chunk) => chunk.startsWith('\r\x1b[2K['))).toBe(true);
    expect(writes[2]!.endsWith('\n')).toBe(true);
    expect(writes.slice(0, 2).some((chunk) => chunk.includes('\n'))).toBe(false);
  });

  it('writes plain lines at most every intervalSeconds off a terminal, and always the last one', () => {
    const { writes, stream } = capture(false);
    const reporter = createProgressReporter(stream, { intervalSeconds: 5 });
    for (const elapsedSeconds of [1, 2, 6, 7, 12]) reporter.update({ ...snapshot, elapsedSeconds });
    reporter.finish({ ...snapshot, elapsedSeconds: 13 });
    expect(writes.map((line) => line.slice(0, 6))).toEqual([
      '[0:01]',
      '[0:06]',
      '[0:12]',
      '[0:13]',
    ]);
    expect(writes.every((line) => line.endsWith('\n') && !line.includes('\x1b'))).toBe(true);
  });
});
