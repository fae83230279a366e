/**
 * A long-lived Python process (bench/python_cache.py) that runs the engine workload on Python's
 * diskcache, one JSON command per line. Keeping one process lets the driver interleave Python
 * with the in-process systems. It only relays commands; statistics are computed by the caller.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import * as path from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { BENCH_DIR } from './lib.js';

type Answer = Record<string, unknown>;

export class PythonWorker {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #lines: Interface;
  readonly #waiting: ((answer: Answer) => void)[] = [];
  #stderr = '';
  #exited: string | null = null;

  /** `script`: a file in bench/ that speaks the same one-JSON-line protocol. */
  constructor(python: string, script = 'python_cache.py') {
    this.#child = spawn(python, [path.join(BENCH_DIR, script)], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.#child.stderr.on('data', (chunk: Buffer) => {
      this.#stderr += chunk.toString();
    });
    this.#child.on('exit', (code, signal) => {
      this.#exited = `${script} exited (${signal ?? code}): ${this.#stderr.trim().slice(-2000)}`;
      for (const resolve of this.#waiting.splice(0)) resolve({ error: this.#exited });
    });
    this.#lines = createInterface({ input: this.#child.stdout });
    this.#lines.on('line', (line) => this.#waiting.shift()?.(JSON.parse(line) as Answer));
  }

  /** Sends one command and waits for its answer; throws what Python reported. */
  async send(command: Answer): Promise<Answer> {
    if (this.#exited !== null) throw new Error(this.#exited);
    const answer = new Promise<Answer>((resolve) => this.#waiting.push(resolve));
    this.#child.stdin.write(`${JSON.stringify(command)}\n`);
    const result = await answer;
    if (typeof result.error === 'string') throw new Error(`Python diskcache: ${result.error}`);
    return result;
  }

  async close(): Promise<void> {
    if (this.#exited === null) {
      const exited = new Promise((resolve) => this.#child.once('exit', resolve));
      this.#child.stdin.end();
      await exited;
    }
    this.#lines.close();
  }
}
