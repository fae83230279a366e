/**
 * Keeps the docs honest: every fenced code block of README.md and docs/*.md is run or checked.
 *
 * - ```ts / ```js blocks run, one process each (a js block without import or export statements
 *   as CommonJS), in a scratch directory per document
 *   (under .tmp/, so that `keyv` or `cache-manager` resolve from the repository's node_modules),
 *   with `'node-diskcache'` (and its subpaths) rewritten to this repository's build (dist/, which
 *   the suite's global setup compiles from the sources): a ts block is transpiled here by
 *   TypeScript and run by plain node, which costs a third of the CPU of tsx loading src/. A block
 *   that imports a relative module (another block's `file=` module) runs with tsx, on src/.
 *   Blocks of one document share the directory, in order, as a reader following the page would.
 *   A block whose info string says `file=NAME` (```ts file=hash-file.ts) is written to NAME
 *   instead of being run: the module another block or command uses. A block marked `continued`
 *   (```ts continued) continues the page's last unmarked, run ts block, as the page reads: it runs
 *   after that block's code (its imports and setup). Directories in blocks are relative (the
 *   scratch directory is the working directory): an absolute /tmp or /var path fails the test.
 * - ```sh blocks: every `diskcache …` command line is checked against the real program
 *   (commands, options and argument counts; see cli-lines.ts), every `npm run X` names a script
 *   of package.json and every `npx tsx FILE` an existing file. Blocks that run `diskcache` are
 *   then run by bash in the document's scratch directory, `diskcache` being the compiled CLI.
 * - Every ts block that runs (and every `file=` module) is also type-checked by tsc with the
 *   repository's compiler options, each in a folder of its own.
 * - A block right after an HTML comment `<!-- not run: REASON -->` is not run (its command
 *   lines are still checked). Other languages (python, sql, json, text) are not run.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { diskcacheArgs, resolveCommandLine } from './cli-lines.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SCRATCH = path.join(ROOT, '.tmp');
const PACKAGE = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
};
/** The package's entry points, as the docs import them, and the sources they are built from. */
const ENTRY_POINTS: Record<string, string> = {
  'node-diskcache': 'src/index.ts',
  'node-diskcache/keyv': 'src/adapters/keyv.ts',
  'node-diskcache/crawler': 'src/crawler/index.ts',
  'node-diskcache/redis': 'src/redis/index.ts',
};
/** The same entry points in the build (dist/), for blocks run by plain node. */
const COMPILED_ENTRY_POINTS: Record<string, string> = Object.fromEntries(
  Object.entries(ENTRY_POINTS).map(([name, source]) => [
    name,
    source.replace(/^src\//, 'dist/').replace(/\.ts$/, '.js'),
  ]),
);
/** An import of a relative module: another block's `file=` module, which may be TypeScript. */
const RELATIVE_IMPORT = /(\bfrom\s*|\bimport\s*\(\s*)['"]\.\.?\//;
const TS = new Set(['ts', 'typescript', 'js', 'javascript']);
const SH = new Set(['sh', 'bash', 'shell']);

interface Block {
  readonly doc: string;
  readonly line: number;
  readonly lang: string;
  readonly file?: string;
  readonly continued: boolean;
  readonly notRun?: string;
  readonly code: string;
}

/** The fenced blocks of a Markdown file (fences may be indented, as in list items). */
function codeBlocks(doc: string): Block[] {
  const lines = fs.readFileSync(path.join(ROOT, doc), 'utf8').split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,})(.*)$/.exec(lines[i]!);
    if (!open) continue;
    const [, indent, fence, info] = open as unknown as [string, string, string, string];
    const [lang = '', ...attributes] = info.trim().split(/\s+/);
    const file = attributes.find((a) => a.startsWith('file='))?.slice(5);
    let previous = i - 1;
    while (previous >= 0 && lines[previous]!.trim() === '') previous--;
    const notRun = /<!--\s*not run:\s*(.*?)\s*-->/.exec(lines[previous] ?? '')?.[1];
    const start = i + 1;
    const body: string[] = [];
    for (i++; i < lines.length && lines[i]!.trim() !== fence; i++)
      body.push(lines[i]!.startsWith(indent) ? lines[i]!.slice(indent.length) : lines[i]!);
    const continued = attributes.includes('continued');
    blocks.push({ doc, line: start, lang, file, continued, notRun, code: `${body.join('\n')}\n` });
  }
  return blocks;
}

/** `from 'node-diskcache'` (and subpaths, and `import('…')`) pointed at the sources. */
function rewriteImports(code: string, entryPoints = ENTRY_POINTS): string {
  return code.replace(/(['"])(node-diskcache(?:\/[a-z-]+)?)\1/g, (whole, _quote, name: string) =>
    entryPoints[name] ? JSON.stringify(path.join(ROOT, entryPoints[name])) : whole,
  );
}

/** The commands of a shell block, one per logical line (continuations joined, comments kept). */
function shellLines(code: string): string[] {
  return code
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/** Checks what a shell line runs without running it; returns whether bash may run it here. */
function checkShellLine(line: string): 'run' | 'checked' {
  for (const command of line.split(/&&|\|\||;/).map((part) => part.trim())) {
    const npm = /^npm (?:run ([\w:-]+)|(start|test))\b/.exec(command);
    if (npm) {
      const script = npm[1] ?? npm[2]!;
      expect(PACKAGE.scripts, `npm script "${script}" in: ${line}`).toHaveProperty(script);
      continue;
    }
    const tsx = /^npx tsx (\S+)/.exec(command);
    if (tsx) {
      expect(fs.existsSync(path.join(ROOT, tsx[1]!)), `file ${tsx[1]} in: ${line}`).toBe(true);
      continue;
    }
    if (/^npm (ci|install)\b/.test(command)) continue;
  }
  const args = diskcacheArgs(line);
  if (args === undefined) return /^(npm|npx tsx) /.test(line) ? 'checked' : 'run';
  resolveCommandLine(args); // throws when the program would refuse the line
  return 'run';
}

function run(command: string, args: string[], cwd: string, input?: string) {
  const result = spawnSync(command, args, {
    cwd,
    input,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, DISKCACHE_DIR: '', CI: 'true' },
  });
  return `exit ${result.status ?? result.signal}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
}

const SHELL_PRELUDE = `set -eo pipefail
diskcache() { node ${JSON.stringify(path.join(ROOT, 'dist/cli/main.js'))} "$@"; }
npx() { "$@"; }
`;

const docs = [
  'README.md',
  ...fs
    .readdirSync(path.join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`),
];
const scratchDirs: string[] = [];
afterAll(() => {
  for (const dir of scratchDirs) fs.rmSync(dir, { recursive: true, force: true });
});

describe("the README's memoize example", () => {
  it('recurses through the memoized wrapper: fib(80) prints in seconds, not years', () => {
    const block = codeBlocks('README.md').find(
      (b) => b.lang === 'ts' && b.code.includes('fib(80)'),
    );
    expect(block, 'a README ts block computing fib(80)').toBeDefined();
    fs.mkdirSync(SCRATCH, { recursive: true });
    const dir = fs.mkdtempSync(path.join(SCRATCH, 'fib-'));
    scratchDirs.push(dir);
    fs.writeFileSync(path.join(dir, 'fib.ts'), rewriteImports(block!.code));
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'fib.ts'], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 30_000, // a naive recursive fib(80) would take years
    });
    expect(result.stdout + result.stderr).toContain('23416728348467685n');
    expect(result.status).toBe(0);
  }, 60_000);
});

describe('ts blocks of the docs', () => {
  it('type-check', () => {
    fs.mkdirSync(SCRATCH, { recursive: true });
    const dir = fs.mkdtempSync(path.join(SCRATCH, 'docs-typecheck-'));
    scratchDirs.push(dir);
    let count = 0;
    for (const doc of docs) {
      let setup = '';
      for (const block of codeBlocks(doc)) {
        if (block.lang !== 'ts' || block.notRun !== undefined) continue;
        if (!block.file && !block.continued) setup = block.code;
        const code = block.continued ? `${setup}\n${block.code}` : block.code;
        const name = block.file ?? `${path.basename(doc, '.md')}-${block.line}.ts`;
        const folder = path.join(dir, `block-${count++}`);
        fs.mkdirSync(folder);
        // `export {}` makes every block a module (top-level await, no shared globals).
        fs.writeFileSync(path.join(folder, name), `${rewriteImports(code)}\nexport {};\n`);
      }
    }
    fs.writeFileSync(
      path.join(dir, 'tsconfig.json'),
      JSON.stringify({
        extends: path.join(ROOT, 'tsconfig.json'),
        compilerOptions: { noEmit: true, rootDir: ROOT, allowImportingTsExtensions: true },
        include: ['block-*/*.ts'],
      }),
    );
    const tsc = path.join(ROOT, 'node_modules/typescript/bin/tsc');
    const result = spawnSync(process.execPath, [tsc, '-p', dir], { encoding: 'utf8' });
    expect(count).toBeGreaterThan(20);
    expect(`${result.stdout}${result.stderr}`.replaceAll(dir, '')).toBe('');
    expect(result.status).toBe(0);
  }, 180_000);
});

describe('code blocks of the docs', () => {
  for (const doc of docs) {
    describe(doc, () => {
      let scratch: string | undefined;
      const scratchDir = () => {
        if (scratch === undefined) {
          fs.mkdirSync(SCRATCH, { recursive: true });
          scratch = fs.mkdtempSync(path.join(SCRATCH, `docs-${path.basename(doc, '.md')}-`));
          scratchDirs.push(scratch);
        }
        return scratch;
      };
      const blocks = codeBlocks(doc);
      let setup = ''; // the code of the page's last ts block not marked `continued`
      blocks.forEach((block, index) => {
        const where = `${doc}:${block.line}`;
        if (TS.has(block.lang) && !block.file && !block.continued && !block.notRun)
          setup = block.code;
        const code = block.continued ? `${setup}\n${block.code}` : block.code;
        if (TS.has(block.lang) && block.file !== undefined) {
          it(`${where} is the module ${block.file}`, () => {
            const target = path.join(scratchDir(), block.file!);
            fs.mkdirSync(path.dirname(target), { recursive: true });
            fs.writeFileSync(target, rewriteImports(block.code));
          });
        } else if (TS.has(block.lang) && block.notRun === undefined) {
          it(`${where} (${block.lang}) runs`, () => {
            expect(code, `${where}: use relative directories`).not.toMatch(/['"]\/(tmp|var)\//);
            // A js block without import/export statements is a script: it runs as CommonJS.
            const typescript = !block.lang.startsWith('j');
            const plain = !RELATIVE_IMPORT.test(code);
            let source = rewriteImports(code, plain ? COMPILED_ENTRY_POINTS : ENTRY_POINTS);
            if (typescript && plain)
              source = ts.transpileModule(source, {
                compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
              }).outputText;
            const extension =
              typescript && !plain
                ? 'ts'
                : typescript || /^(import|export)\s/m.test(code)
                  ? 'mjs'
                  : 'cjs';
            const file = path.join(scratchDir(), `block-${index}.${extension}`);
            fs.writeFileSync(file, source);
            const loader = plain ? [] : ['--import', 'tsx'];
            const result = spawnSync(process.execPath, [...loader, file], {
              cwd: scratchDir(),
              encoding: 'utf8',
              timeout: 120_000,
              env: { ...process.env, CI: 'true' },
            });
            expect(
              result.status,
              `${where} failed:\n${block.code}\n${result.stdout}\n${result.stderr}`,
            ).toBe(0);
          }, 150_000);
        } else if (SH.has(block.lang)) {
          it(`${where} (sh) ${block.notRun ? 'is checked' : 'runs'}`, () => {
            const kinds = shellLines(block.code).map(checkShellLine);
            if (block.notRun !== undefined || !kinds.includes('run')) return;
            const output = run('bash', ['-s'], scratchDir(), SHELL_PRELUDE + block.code);
            expect(output, `${where}:\n${block.code}`).toMatch(/^exit 0\n/);
          }, 300_000);
        }
      });
      it('links only to files that exist', () => {
        const text = fs.readFileSync(path.join(ROOT, doc), 'utf8');
        for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
          if (/^[a-z]+:|^#/.test(target!)) continue; // a URL or an anchor of the page
          const file = path.resolve(ROOT, path.dirname(doc), target!.replace(/#.*$/, ''));
          expect(fs.existsSync(file), `${doc} links to ${target}`).toBe(true);
        }
      });
      it('has every not-run block justified', () => {
        for (const block of blocks.filter((b) => b.notRun !== undefined))
          expect(block.notRun!.length, `${doc}:${block.line}`).toBeGreaterThan(8);
      });
    });
  }
});
