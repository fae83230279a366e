/**
 * progress: how the runner measures and shows progress — done, failed, pending, rate and ETA —
 * as a one-line bar redrawn in place on a terminal, and as plain periodic lines otherwise (logs,
 * CI, pipes). It formats and writes to the stream it is given; it must not read the queue.
 */

/** A snapshot of a run, passed to `onProgress`. */
export interface RunProgress {
  /** Jobs done in the queue (all of them, including runs before this one). */
  readonly done: number;
  /** Jobs in the failed list. */
  readonly failed: number;
  /** Jobs waiting (delayed jobs and retries included). */
  readonly pending: number;
  /** Jobs held by workers. */
  readonly leased: number;
  /** Jobs finished (done or failed) per second, over the last few seconds. */
  readonly rate: number;
  /** Seconds until pending and leased jobs are finished at `rate`; undefined while unknown. */
  readonly etaSeconds: number | undefined;
  /** Seconds since the run started. */
  readonly elapsedSeconds: number;
  /** Worker processes alive. */
  readonly workers: number;
  /** Worker processes restarted after dying. */
  readonly restarts: number;
  /**
   * What the run waits for, when something outside it holds jobs (the crawler sets it: pages
   * leased by another run's processes that still run, or whose holder is unknown).
   */
  readonly waitingFor?: string;
}

/** Seconds of history the rate is computed over. */
const RATE_WINDOW_SECONDS = 10;

/** Finished-job counts over time → a recent rate. */
export class RateMeter {
  readonly #samples: [number, number][] = [];

  /** Records that `finished` jobs were finished at `seconds` (any monotonic clock). */
  add(seconds: number, finished: number): void {
    this.#samples.push([seconds, finished]);
    while (this.#samples.length > 2 && seconds - this.#samples[0]![0] > RATE_WINDOW_SECONDS)
      this.#samples.shift();
  }

  /** Jobs per second over the window (0 until there are two samples). */
  rate(): number {
    if (this.#samples.length < 2) return 0;
    const [t0, n0] = this.#samples[0]!;
    const [t1, n1] = this.#samples[this.#samples.length - 1]!;
    return t1 > t0 ? Math.max(0, (n1 - n0) / (t1 - t0)) : 0;
  }
}

/** `0:07`, `12:05`, `1:02:03`. */
export function formatDuration(seconds: number): string {
  const total = Math.max(0, Math.round(seconds));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}

function rateText(rate: number): string {
  return rate >= 100 ? `${count(Math.round(rate))}/s` : `${rate.toFixed(1)}/s`;
}

/** The counts part shared by both forms. */
function summary(p: RunProgress): string {
  const eta = p.etaSeconds === undefined ? 'ETA --' : `ETA ${formatDuration(p.etaSeconds)}`;
  const waiting = p.waitingFor ? ` · ${p.waitingFor}` : '';
  return `${count(p.done)} done · ${count(p.failed)} failed · ${count(p.pending)} pending · ${count(p.leased)} running · ${rateText(p.rate)} · ${eta}${waiting}`;
}

/** A plain progress line (no control characters). */
export function formatProgressLine(p: RunProgress): string {
  return `[${formatDuration(p.elapsedSeconds)}] ${summary(p)} · ${p.workers} workers${p.restarts > 0 ? ` (${p.restarts} restarted)` : ''}`;
}

/** A one-line bar for a terminal `columns` wide. */
export function formatProgressBar(p: RunProgress, columns = 80): string {
  const total = p.done + p.failed + p.pending + p.leased;
  const fraction = total === 0 ? 1 : (p.done + p.failed) / total;
  const text = ` ${String(Math.floor(fraction * 100)).padStart(3)}% ${summary(p)}`;
  const width = Math.max(10, Math.min(30, columns - text.length - 3));
  const filled = Math.round(fraction * width);
  const line = `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}]${text}`;
  return [...line].length > columns - 1 ? [...line].slice(0, columns - 2).join('') + '…' : line;
}

/** Where progress goes: a stream, a terminal when `isTTY`. */
export interface ProgressStream {
  write(chunk: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/** Writes progress to a stream; `update` often, `finish` once. */
export interface ProgressReporter {
  update(progress: RunProgress): void;
  /** Ends the bar (or prints the last line) with the final snapshot. */
  finish(progress: RunProgress): void;
}

/**
 * A reporter: on a terminal it redraws one line in place; otherwise it writes a plain line every
 * `intervalSeconds` (and the last one on `finish`).
 */
export function createProgressReporter(
  stream: ProgressStream,
  options: { intervalSeconds?: number; tty?: boolean } = {},
): ProgressReporter {
  const tty = options.tty ?? stream.isTTY === true;
  const intervalSeconds = options.intervalSeconds ?? 5;
  let lastLine = Number.NEGATIVE_INFINITY;
  let lastText = '';
  return {
    update(progress) {
      if (tty) {
        stream.write(`\r\x1b[2K${formatProgressBar(progress, stream.columns ?? 80)}`);
        return;
      }
      if (progress.elapsedSeconds - lastLine < intervalSeconds) return;
      lastLine = progress.elapsedSeconds;
      lastText = formatProgressLine(progress);
      stream.write(`${lastText}\n`);
    },
    finish(progress) {
      if (tty) {
        stream.write(`\r\x1b[2K${formatProgressBar(progress, stream.columns ?? 80)}\n`);
        return;
      }
      const text = formatProgressLine(progress);
      if (text !== lastText) stream.write(`${text}\n`);
    },
  };
}
