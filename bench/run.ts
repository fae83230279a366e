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

async function discover(): Promise<BenchModule[]> {
  const files = fs
    .readdirSync(BENCH_DIR)
    .filter((file) => file.endsWith('.bench.ts'))
    .sort();
  const modules: BenchModule[] = [];
  for (const file of files) {
    const module = (await import(pathToFileURL(path.join(BENCH_DIR, file)).href)) as {
      default?: BenchModule;
    };
    if (!module.default || typeof module.default.run !== 'function')
      throw new Error(`bench/${file} has no default export of a BenchModule`);
    modules.push(module.default);
  }
  return modules;
}

async function main(): Promise<void> {
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
  const modules = await discover();
  if (values.list) {
    for (const module of modules) console.log(`${module.name.padEnd(16)} ${module.title}`);
    return;
  }
  const wanted = values.only
    ?.split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  const unknown = wanted?.filter((name) => !modules.some((module) => module.name === name)) ?? [];
  if (unknown.length > 0) {
    throw new RangeError(
      `--only: no benchmark named ${unknown.join(', ')}; known: ${modules.map((module) => module.name).join(', ')}`,
    );
  }
  const selected = wanted ? modules.filter((module) => wanted.includes(module.name)) : modules;
  ensureBenchDependencies();
  const context = {
    quick: values.quick ?? false,
    machine: machine(),
    log: (line = '') => console.log(line),
    progress: (text: string) => process.stderr.write(`bench: ${text}\n`),
  };
  console.log(
    `Machine: ${machineLine(context.machine)}${context.quick ? ' — QUICK run (reduced sizes)' : ''}`,
  );
  for (const module of selected) {
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
