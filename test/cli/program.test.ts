/**
 * The program run in-process through injected streams (`runCli(args, io, groups)`): the yes/no
 * prompt of `clear`, which needs a terminal when run as a process, and a new command group
 * plugged in as one function, nested commands included.
 */
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { Cache } from '../../src/cache/cache.js';
import { action, addKeyOptions, type CliIo } from '../../src/cli/context.js';
import { CliError, EXIT } from '../../src/cli/exit-codes.js';
import { COMMAND_GROUPS, type CommandGroup, runCli } from '../../src/cli/program.js';
import { tempDir } from '../helpers/tmp.js';

function memoryIo(
  confirmAnswer?: boolean,
): CliIo & { out: string[]; err: string[]; asked: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  const asked: string[] = [];
  return {
    out,
    err,
    asked,
    stdout: { write: (chunk: string | Uint8Array) => out.push(String(chunk)) },
    stderr: { write: (chunk: string) => err.push(chunk) },
    env: {},
    ...(confirmAnswer === undefined
      ? {}
      : {
          confirm: async (question: string) => {
            asked.push(question);
            return confirmAnswer;
          },
        }),
  };
}

function cacheOfTwo(): string {
  const dir = tempDir('cli-program');
  const cache = new Cache(dir);
  cache.set('a', 1);
  cache.set('b', 2);
  cache.close();
  return dir;
}

describe('clear asks on a terminal', () => {
  it('"no" keeps everything (exit 2)', async () => {
    const dir = cacheOfTwo();
    const io = memoryIo(false);
    expect(await runCli(['-d', dir, 'clear'], io)).toBe(2);
    expect(io.asked).toEqual([`Remove all 2 entries from ${dir}? [y/N] `]);
    expect(io.err.join('')).toContain('cancelled');
    const cache = new Cache(dir);
    expect(cache.size).toBe(2);
    cache.close();
  });

  it('"yes" clears', async () => {
    const dir = cacheOfTwo();
    const io = memoryIo(true);
    expect(await runCli(['-d', dir, 'clear'], io)).toBe(0);
    expect(io.out.join('')).toBe('removed 2 entries\n');
    const cache = new Cache(dir);
    expect(cache.size).toBe(0);
    cache.close();
  });

  it('--yes does not ask', async () => {
    const dir = cacheOfTwo();
    const io = memoryIo(false);
    expect(await runCli(['-d', dir, 'clear', '--yes'], io)).toBe(0);
    expect(io.asked).toEqual([]);
  });
});

/** A group as a later helper would write one: a parent command with subcommands. */
const sizeGroup: CommandGroup = (program: Command, io: CliIo) => {
  const parent = program.command('size').description('a test group');
  parent
    .command('of')
    .argument('<key>')
    .action(
      action(io, (context, keyText) =>
        context.withCache({ create: false }, (cache) => {
          const key = context.parseKey(keyText!);
          const value = cache.get(key);
          if (value === undefined) throw new CliError(EXIT.NOT_FOUND, 'no such key');
          context.print({ key, length: String(value).length }, () => `${String(value).length}`);
        }),
      ),
    );
  addKeyOptions(parent.commands[0]!);
};

describe('a command group plugged in as one function', () => {
  const groups = [...COMMAND_GROUPS, sizeGroup];

  it('gets the global options, prints text or JSON, and maps its errors to exit codes', async () => {
    const dir = cacheOfTwo();
    const cache = new Cache(dir);
    cache.set(5, 'five');
    cache.close();
    const text = memoryIo();
    expect(await runCli(['size', 'of', '--int-key', '5', '-d', dir], text, groups)).toBe(0);
    expect(text.out.join('')).toBe('4\n');
    const json = memoryIo();
    expect(
      await runCli(['--json', '-d', dir, 'size', 'of', '5', '--key-type', 'int'], json, groups),
    ).toBe(0);
    expect(JSON.parse(json.out.join(''))).toEqual({ key: 5, length: 4 });
    const missing = memoryIo();
    expect(await runCli(['-d', dir, 'size', 'of', 'nope'], missing, groups)).toBe(1);
    expect(missing.err.join('')).toBe('diskcache: no such key\n');
  });

  it('has the same usage errors (2), missing directory (5) and help', async () => {
    const usage = memoryIo();
    expect(await runCli(['size', 'of'], usage, groups)).toBe(2);
    expect(usage.err.join('')).toContain("missing required argument 'key'");
    expect(await runCli(['size', 'of', 'k', '--bogus'], memoryIo(), groups)).toBe(2);
    expect(
      await runCli(
        ['-d', `${tempDir('cli-program')}/absent`, 'size', 'of', 'k'],
        memoryIo(),
        groups,
      ),
    ).toBe(5);
    const help = memoryIo();
    expect(await runCli(['--help'], help, groups)).toBe(0);
    expect(help.out.join('')).toMatch(/^ {2}size\s+a test group$/m);
    // Without the group the command does not exist.
    expect(await runCli(['size', 'of', 'k'], memoryIo())).toBe(2);
  });
});
