/**
 * `npm run bench [-- --quick] [-- --only NAME[,NAME]] [-- --list]`: runs every `bench/*.bench.ts`
 * in name order (or those named), after installing bench's own dependencies on first use. Each
 * benchmark prints its tables to stdout; progress goes to stderr. A new benchmark is one new
 * `<name>.bench.ts` file whose default export is a `BenchModule` (see lib.ts); nothing to register.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { BENCH_DIR, type BenchModule, machine, machineLine } from './lib.js';

const USAGE = `usage: npm run bench -- [--quick] [--only NAME[,NAME...]] [--list]
  --quick   fewer keys and operations (a smoke run, under 30 s)
  --only    run only these benchmarks (file bench/NAME.bench.ts)
  --list    list the benchmarks and exit`;

/** Installs bench/node_modules from bench/package-lock.json when missing; never fatal. */
function ensureBenchDependencies(): void {
  if (fs.existsSync(path.join(BENCH_DIR, 'node_modules'))) return;
  process.stderr.write(
    'bench: installing benchmark-only dependencies (npm ci --prefix bench)...\n',
  );
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const result = spawnSync(npm, ['ci', '--prefix', BENCH_DIR, '--no-audit', '--no-fund'], {
    stdio: ['ignore', 2, 2],
  });
  if (result.status !== 0) {
    process.stderr.write(
      'bench: npm ci --prefix bench failed; benchmarks that need its packages will skip them with a note.\n',
    );
  }
}

const SUFFIX = '.bench.ts';

/** The benchmark names: the stems of bench/*.bench.ts, in name order. */
function benchmarkNames(): string[] {
  return fs
    .readdirSync(BENCH_DIR)
    .filter((file) => file.endsWith(SUFFIX))
    .map((file) => file.slice(0, -SUFFIX.length))
    .sort();
}

/** Imports bench/<name>.bench.ts; its default export must be a BenchModule called `name`. */
async function load(name: string): Promise<BenchModule> {
  const file = path.join(BENCH_DIR, `${name}${SUFFIX}`);
  const module = (await import(pathToFileURL(file).href)) as { default?: BenchModule };
  const bench = module.default;
  if (!bench || typeof bench.run !== 'function' || bench.name !== name) {
    throw new Error(`bench/${name}${SUFFIX} must export default a BenchModule with name '${name}'`);
  }
  return bench;
}

async function main(): Promise<void> {
  const startedAt = Date.now();
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      list: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const names = benchmarkNames();
  if (values.list) {
    for (const name of names) console.log(`${name.padEnd(16)} ${(await load(name)).title}`);
    return;
  }
  const wanted = values.only
    ?.split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  const unknown = wanted?.filter((name) => !names.includes(name)) ?? [];
  if (unknown.length > 0) {
    throw new RangeError(
      `--only: no benchmark named ${unknown.join(', ')}; known: ${names.join(', ')}`,
    );
  }
  // Only the selected files are imported, so one broken benchmark does not stop the others.
  const selected = wanted ? names.filter((name) => wanted.includes(name)) : names;
  ensureBenchDependencies();
  const context = {
    quick: values.quick ?? false,
    machine: machine(),
    log: (line = '') => console.log(line),
    progress: (text: string) =>
      process.stderr.write(`bench [${((Date.now() - startedAt) / 1000).toFixed(1)} s]: ${text}\n`),
  };
  console.log(
    `Machine: ${machineLine(context.machine)}${context.quick ? ' — QUICK run (reduced sizes)' : ''}`,
  );
  for (const name of selected) {
    const module = await load(name);
    const started = Date.now();
    console.log(`\n## ${module.name}: ${module.title}\n`);
    await module.run(context);
    process.stderr.write(
      `bench: ${module.name} took ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exitCode = 1;
});
