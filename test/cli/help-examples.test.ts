/**
 * Every leaf command's `--help` ends with an "Examples:" section, and every example in it is a
 * command line the program accepts (the commands and options exist, the arguments fit). The
 * program runs in-process through runCli with a captured CliIo.
 */
import { describe, expect, it } from 'vitest';
import type { CliIo } from '../../src/cli/context.js';
import { runCli } from '../../src/cli/program.js';
import { diskcacheArgs, leafCommands, resolveCommandLine } from '../docs/cli-lines.js';

async function helpOf(commandPath: readonly string[]): Promise<string> {
  let out = '';
  const io: CliIo = {
    stdout: { write: (chunk) => (out += String(chunk)) },
    stderr: { write: (chunk) => (out += chunk) },
    env: {},
  };
  const code = await runCli([...commandPath, '--help'], io);
  expect(code).toBe(0);
  return out;
}

/** The example lines at the end of a help text (empty when it does not end with "Examples:"). */
function trailingExamples(help: string): string[] {
  const lines = help.trimEnd().split('\n');
  const header = lines.lastIndexOf('Examples:');
  if (header < 0) return [];
  const examples = lines.slice(header + 1);
  return examples.every((line) => line.startsWith('  ')) ? examples.map((l) => l.trim()) : [];
}

describe('--help examples', () => {
  const leaves = leafCommands();

  it('finds the leaf commands', () => {
    expect(leaves.map((p) => p.join(' '))).toEqual(
      expect.arrayContaining([
        'get',
        'set',
        'deque append',
        'index items',
        'queue put',
        'work',
        'crawl',
      ]),
    );
  });

  for (const commandPath of leaves) {
    const name = commandPath.join(' ');
    it(`diskcache ${name} --help ends with examples of itself that parse`, async () => {
      const examples = trailingExamples(await helpOf(commandPath));
      expect(
        examples.length,
        `no trailing "Examples:" section in diskcache ${name} --help`,
      ).toBeGreaterThan(0);
      expect(examples.length).toBeLessThanOrEqual(3);
      for (const example of examples) {
        const args = diskcacheArgs(example);
        expect(args, example).toBeDefined();
        expect(resolveCommandLine(args!).path.join(' '), example).toBe(name);
      }
    });
  }

  it('the root help ends with examples too', async () => {
    for (const example of trailingExamples(await helpOf([]))) {
      expect(() => resolveCommandLine(diskcacheArgs(example)!), example).not.toThrow();
    }
    expect(trailingExamples(await helpOf([])).length).toBeGreaterThan(0);
  });
});
