/**
 * Checks a `diskcache …` command line as written in the docs or in a `--help` example against the
 * real commander program, without running it: the (sub)commands exist, every option is declared
 * on the command or on one of its parents, and the number of positional arguments fits. Used by
 * test/docs/code-blocks.test.ts and test/cli/help-examples.test.ts; not a test file itself.
 */
import type { Command, Option } from 'commander';
import { buildProgram } from '../../src/cli/program.js';

/** The words of the first command of a shell line (up to a pipe, `&&`, `||`, `;`, a redirection or a comment). */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'" || c === '"') {
      const end = line.indexOf(c, i + 1);
      if (end < 0) throw new Error(`unbalanced quote in: ${line}`);
      word = (word ?? '') + line.slice(i + 1, end);
      i = end;
    } else if (c === '\\' && i + 1 < line.length) {
      word = (word ?? '') + line[++i];
    } else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (word === undefined && /[|;&>#]/.test(c)) {
      break; // the end of the first command
    } else if (word === '2' && c === '>') {
      word = undefined;
      break;
    } else {
      word = (word ?? '') + c;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}

/** A shell line without its trailing `# comment` (a `#` inside quotes or a word is kept). */
export function withoutComment(line: string): string {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') {
      quote = c;
    } else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]!))) {
      return line.slice(0, i).trimEnd();
    }
  }
  return line;
}

/**
 * The arguments of the first `diskcache` command in a shell line (also `npx diskcache`, after a
 * pipe, inside `$(…)`), or undefined when the line runs no `diskcache`.
 */
export function diskcacheArgs(line: string): string[] | undefined {
  line = withoutComment(line);
  const match = /(?:^|[\s|;&(])diskcache(?=\s|$)/.exec(line);
  if (!match) return undefined;
  return shellWords(line.slice(match.index + match[0].length)).map((word) =>
    word.endsWith(')') && !word.includes('(') ? word.slice(0, -1) : word,
  );
}

function findOption(command: Command, flag: string): Option | undefined {
  const name = flag.includes('=') ? flag.slice(0, flag.indexOf('=')) : flag;
  for (let current: Command | null = command; current; current = current.parent) {
    const option = current.options.find(
      (o) => o.long === name || o.short === name || (o.negate && o.long === name),
    );
    if (option) return option;
  }
  return undefined;
}

/** What a command line resolves to: the command path (`['queue', 'put']`) and its positionals. */
export interface ResolvedLine {
  readonly path: readonly string[];
  readonly command: Command;
  readonly positionals: readonly string[];
}

/** Resolves `args` (after `diskcache`) on the real program; throws an Error saying what is wrong. */
export function resolveCommandLine(args: readonly string[]): ResolvedLine {
  const sink = { write: () => true };
  let command: Command = buildProgram({ stdout: sink, stderr: sink, env: {} });
  const commandPath: string[] = [];
  const positionals: string[] = [];
  let optionsEnded = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!optionsEnded && arg === '--') {
      optionsEnded = true;
    } else if (!optionsEnded && arg.startsWith('-') && arg !== '-') {
      if (arg === '-h' || arg === '--help') continue;
      const option = findOption(command, arg);
      if (!option)
        throw new Error(`unknown option ${arg} for "diskcache ${commandPath.join(' ')}"`);
      if ((option.required || option.optional) && !arg.includes('=')) i++;
    } else if (positionals.length === 0 && command.commands.some((c) => c.name() === arg)) {
      command = command.commands.find((c) => c.name() === arg)!;
      commandPath.push(arg);
    } else {
      positionals.push(arg);
    }
  }
  if (command.commands.length > 0 && command.registeredArguments.length === 0)
    throw new Error(`"diskcache ${commandPath.join(' ')}" needs a subcommand`);
  const declared = command.registeredArguments;
  const min = declared.filter((a) => a.required).length;
  const max = declared.some((a) => a.variadic) ? Number.POSITIVE_INFINITY : declared.length;
  if (positionals.length < min || positionals.length > max) {
    throw new Error(
      `"diskcache ${commandPath.join(' ')}" takes ${min}..${max} arguments, got ${positionals.length}: ${positionals.join(' ')}`,
    );
  }
  return { path: commandPath, command, positionals };
}

/** Every leaf command of the program, as its path (`['deque', 'append']`). */
export function leafCommands(): string[][] {
  const sink = { write: () => true };
  const leaves: string[][] = [];
  const walk = (command: Command, prefix: string[]) => {
    for (const sub of command.commands) {
      const subPath = [...prefix, sub.name()];
      // A command with subcommands that also runs by itself (takes arguments: `crawl [url...]`)
      // is a leaf too.
      if (sub.commands.length === 0 || sub.registeredArguments.length > 0) leaves.push(subPath);
      if (sub.commands.length > 0) walk(sub, subPath);
    }
  };
  walk(buildProgram({ stdout: sink, stderr: sink, env: {} }), []);
  return leaves;
}
