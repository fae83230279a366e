/**
 * The deque and index command groups of the CLI: `diskcache deque …` and `diskcache index …` on a
 * directory holding a Deque or an Index (node-diskcache's or python-diskcache's: the layout is
 * the same). Each command is the one Cache call that the Deque or Index method makes, made
 * without the collections' wait-forever `retry`, so that `--timeout` holds (exit 4); listing a
 * deque goes through `Deque` itself, which knows the order of its keys.
 * It must not hold collection logic of its own; what Deque or Index lacks belongs there.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Command, Option } from 'commander';
import type { Cache } from '../cache/cache.js';
import { Timeout } from '../cache/errors.js';
import { DBNAME } from '../cache/schema.js';
import { Deque } from '../collections/deque.js';
import { action, addKeyOptions, type CliIo, type CommandContext, optionParser } from './context.js';
import { CliError, EXIT } from './exit-codes.js';
import { formatTable, formatValue, helpExamples, parseCount, parseJson } from './output.js';

/** Lines of list output written at once (and the rows aligned together by `index items`). */
const LINES_PER_WRITE = 1000;
/** The database file of a cache directory (as in context.ts). */

type Side = 'back' | 'front';

/** What a group calls the things it holds, for messages: `3 items`, `1 entry`. */
interface Noun {
  readonly collection: 'deque' | 'index';
  readonly one: string;
  readonly many: string;
}

const DEQUE: Noun = { collection: 'deque', one: 'item', many: 'items' };
const INDEX: Noun = { collection: 'index', one: 'entry', many: 'entries' };

/** The start of a help example of a group: `diskcache -d ./jobs deque`. */
function example(noun: Noun): string {
  return `diskcache -d ${noun.collection === 'deque' ? './jobs' : './results'} ${noun.collection}`;
}

function inline(value: unknown): string {
  return formatValue(value, { inline: true });
}

function counted(count: number, noun: Noun): string {
  return `${count} ${count === 1 ? noun.one : noun.many}`;
}

function sideOf(context: CommandContext): Side {
  return context.opts<{ left?: boolean }>().left ? 'front' : 'back';
}

function notFound(key: unknown): CliError {
  return new CliError(EXIT.NOT_FOUND, `key not found: ${inline(key)}`, { details: { key } });
}

/** VALUE arguments as stored: strings, or JSON documents with `--json-value`. */
function parseValues(context: CommandContext, texts: readonly string[]): unknown[] {
  const json = context.opts<{ jsonValue?: boolean }>().jsonValue === true;
  return texts.map((text) =>
    json ? parseJson(text, `VALUE ${JSON.stringify(text)} (--json-value)`) : text,
  );
}

/**
 * Runs `body` on the directory's cache. Only a command that adds (`adds`) may create the
 * directory; one that does gives the new cache the eviction policy `none`, as `new Deque(dir)`,
 * `new Index(dir)` and python-diskcache's constructors do, so that nothing added is ever culled.
 * An existing directory's settings are left as they are: the CLI never retunes someone's cache.
 */
function withCollection<T>(
  context: CommandContext,
  adds: boolean,
  body: (cache: Cache) => T | Promise<T>,
): Promise<T> {
  const creating = adds && !fs.existsSync(path.join(context.directory(), DBNAME));
  return context.withCache({ create: adds }, (cache) => {
    // Two processes creating the same directory both land here; setting 'none' twice is harmless.
    if (creating && cache.settings.eviction_policy !== 'none') {
      cache.transact(() => cache.reset('eviction_policy', 'none'));
    }
    return body(cache);
  });
}

/** How one listing command reads and shows its collection. */
interface ListSpec<T> {
  readonly name: string;
  readonly description: string;
  readonly noun: Noun;
  /** The JSON document's field holding the list. */
  readonly field: string;
  /** Help of `--reverse`; none: the command has no --reverse. */
  readonly reverse?: string;
  readonly read: (cache: Cache, reverse: boolean) => Iterable<T>;
  /** The text of a chunk of items (`first`: the first chunk, for a header). */
  readonly text: (chunk: readonly T[], first: boolean) => string;
  readonly json: (item: T) => unknown;
  /** The `--help` examples (command lines). */
  readonly examples: readonly string[];
}

/** One line per item, values shown inline. */
function lines(chunk: readonly unknown[]): string {
  return chunk.map((item) => `${inline(item)}\n`).join('');
}

/**
 * A listing command with `--limit N` (and `--reverse` if the spec has it). Text goes out in
 * chunks as it is read (a collection may hold millions); `--json` prints one document
 * `{count, truncated, [field]: [...]}`. A cut list and an empty one get a note on stderr.
 */
function listCommand<T>(group: Command, io: CliIo, spec: ListSpec<T>): void {
  const command = group
    .command(spec.name)
    .description(spec.description)
    .addHelpText('after', helpExamples(...spec.examples))
    .addOption(
      new Option('--limit <n>', `list at most N ${spec.noun.many}`).argParser(
        optionParser((text) => parseCount(text, '--limit')),
      ),
    );
  if (spec.reverse !== undefined) command.option('--reverse', spec.reverse);
  command.action(
    action(io, (context) =>
      withCollection(context, false, (cache) => {
        const { limit, reverse } = context.opts<{ limit?: number; reverse?: boolean }>();
        const documents: unknown[] = [];
        let chunk: T[] = [];
        let first = true;
        const flush = () => {
          if (chunk.length === 0) return;
          context.io.stdout.write(spec.text(chunk, first));
          first = false;
          chunk = [];
        };
        let count = 0;
        let truncated = false;
        for (const item of spec.read(cache, reverse === true)) {
          if (limit !== undefined && count >= limit) {
            truncated = true;
            break; // for-of closes the iterator
          }
          count++;
          if (context.json) documents.push(spec.json(item));
          else chunk.push(item);
          if (chunk.length >= LINES_PER_WRITE) flush();
        }
        flush();
        context.print({ count, truncated, [spec.field]: documents }, () => '');
        if (truncated)
          context.note(`(first ${counted(count, spec.noun)} shown; raise --limit for more)`);
        else if (count === 0) context.note(`(the ${spec.noun.collection} is empty)`);
      }),
    ),
  );
}

/** `clear [--yes]` of either group: asks first on a terminal, then removes in batches. */
function clearCommand(group: Command, io: CliIo, noun: Noun): void {
  group
    .command('clear')
    .description(`remove every ${noun.one} (asks first on a terminal; --yes to skip the question)`)
    .addHelpText(
      'after',
      helpExamples(`${example(noun)} clear`, `${example(noun)} clear --yes --json`),
    )
    .option('-y, --yes', 'do not ask for confirmation')
    .action(
      action(io, (context) =>
        withCollection(context, false, async (cache) => {
          if (!context.opts<{ yes?: boolean }>().yes) await confirmClear(context, cache, noun);
          let removed: number;
          try {
            removed = cache.clear();
          } catch (error) {
            if (!(error instanceof Timeout)) throw error;
            throw new CliError(
              EXIT.TIMEOUT,
              `clear: timed out waiting for the write lock after removing ${counted(error.count, noun)}`,
              { cause: error, details: { removed: error.count } },
            );
          }
          context.print({ removed }, () => `removed ${counted(removed, noun)}`);
        }),
      ),
    );
}

async function confirmClear(context: CommandContext, cache: Cache, noun: Noun): Promise<void> {
  const { confirm } = context.io;
  if (confirm === undefined || context.json) {
    throw new CliError(
      EXIT.USAGE,
      `clear removes every ${noun.one}: pass --yes to confirm (stdin is not a terminal to ask on)`,
    );
  }
  const question = `Remove all ${counted(cache.size, noun)} from the ${noun.collection} in ${cache.directory}? [y/N] `;
  if (!(await confirm(question))) {
    throw new CliError(EXIT.USAGE, 'clear cancelled; nothing was removed');
  }
}

// ---- deque --------------------------------------------------------------------------------------

/** `deque length` and `index size`: the number of entries of the cache, under `field`. */
function countCommand(group: Command, io: CliIo, field: 'length' | 'size', noun: Noun): void {
  group
    .command(field)
    .description(`print the number of ${noun.many}`)
    .addHelpText(
      'after',
      helpExamples(`${example(noun)} ${field}`, `${example(noun)} ${field} --json`),
    )
    .action(
      action(io, (context) =>
        withCollection(context, false, (cache) => {
          const count = cache.size;
          context.print({ [field]: count }, () => String(count));
        }),
      ),
    );
}

/** `deque peek` and `deque pop`: one end of the deque (the back; the front with --left). */
function endCommand(
  group: Command,
  io: CliIo,
  spec: { name: 'peek' | 'pop'; description: string; method: string },
  take: (cache: Cache, side: Side) => { value: unknown } | undefined,
): void {
  group
    .command(spec.name)
    .description(`${spec.description} (exit code 1 when the deque is empty)`)
    .addHelpText(
      'after',
      helpExamples(
        `${example(DEQUE)} ${spec.name}`,
        `${example(DEQUE)} ${spec.name} --left --json`,
      ),
    )
    .option('--left', `the item at the front instead (${spec.method})`)
    .action(
      action(io, (context) =>
        withCollection(context, false, (cache) => {
          const side = sideOf(context);
          const entry = take(cache, side);
          if (entry === undefined) throw new CliError(EXIT.NOT_FOUND, 'the deque is empty');
          context.print({ side, value: entry.value }, () => formatValue(entry.value));
        }),
      ),
    );
}

function dequeAppend(group: Command, io: CliIo): void {
  group
    .command('append')
    .description(
      'add VALUEs at the back, in order, in one transaction (creates the deque if needed)',
    )
    .argument('<values...>', 'the values: strings, or JSON documents with --json-value')
    .addHelpText(
      'after',
      helpExamples(
        `${example(DEQUE)} append build test deploy`,
        `${example(DEQUE)} append --json-value '{"id": 1}' 2 --left`,
      ),
    )
    .option(
      '--left',
      'add at the front instead (appendLeft): each VALUE in turn, so several end up reversed',
    )
    .option('--json-value', 'parse each VALUE as JSON (numbers, booleans, null, arrays, objects)')
    .action(
      action(io, (context, ...args) => {
        const values = parseValues(context, args[0] as unknown as string[]);
        return withCollection(context, true, (cache) => {
          const side = sideOf(context);
          cache.pushMany(values, { side });
          const length = cache.size;
          context.print(
            { side, appended: values.length, length },
            () => `appended ${counted(values.length, DEQUE)} at the ${side} (length ${length})`,
          );
        });
      }),
    );
}

/** Registers `diskcache deque …` on the root program (a command group: see program.ts). */
export function registerDequeCommands(program: Command, io: CliIo): void {
  const group = program
    .command('deque')
    .description('inspect and change a Deque directory (python-diskcache Deques too)');
  countCommand(group, io, 'length', DEQUE);
  endCommand(
    group,
    io,
    { name: 'peek', description: 'print the item at the back, left in place', method: 'peekLeft' },
    (cache, side) => cache.peek({ side }),
  );
  dequeAppend(group, io);
  endCommand(
    group,
    io,
    { name: 'pop', description: 'remove and print the item at the back', method: 'popLeft' },
    (cache, side) => cache.pull({ side }),
  );
  listCommand(group, io, {
    name: 'list',
    description: 'print the items from front to back, one per line',
    noun: DEQUE,
    field: 'items',
    reverse: 'from back to front',
    // Deque order is the order of the keys, not of insertion: Deque's own iterators know it.
    read: (cache, reverse) => {
      const deque = Deque.fromCache(cache);
      return reverse ? deque.reversed() : deque;
    },
    text: lines,
    json: (item) => item,
    examples: [`${example(DEQUE)} list`, `${example(DEQUE)} list --reverse --limit 10 --json`],
  });
  clearCommand(group, io, DEQUE);
}

// ---- index --------------------------------------------------------------------------------------

/** A command on one KEY of the index; `run` gets the parsed key and the open cache. */
function keyCommand(
  group: Command,
  io: CliIo,
  spec: {
    name: string;
    description: string;
    adds?: boolean;
    value?: boolean;
    examples: readonly string[];
  },
  run: (context: CommandContext, cache: Cache, key: unknown, values: unknown[]) => void,
): void {
  const command = group
    .command(spec.name)
    .description(spec.description)
    .argument('<key>', 'the key (a string unless --key-type says otherwise)')
    .addHelpText('after', helpExamples(...spec.examples));
  if (spec.value) {
    command
      .argument('<value>', 'the value: a string, or any JSON document with --json-value')
      .option('--json-value', 'parse VALUE as JSON (numbers, booleans, null, arrays, objects)');
  }
  addKeyOptions(command).action(
    action(io, (context, keyText, ...rest) => {
      // Parsed before opening: a bad key or value never creates the directory.
      const key = context.parseKey(keyText!);
      const values = parseValues(context, rest);
      return withCollection(context, spec.adds === true, (cache) =>
        run(context, cache, key, values),
      );
    }),
  );
}

function indexKeyCommands(group: Command, io: CliIo): void {
  keyCommand(
    group,
    io,
    {
      name: 'get',
      description: 'print the value of KEY (exit code 1 when it is missing)',
      examples: [`${example(INDEX)} get user:7`, `${example(INDEX)} get --int-key 7 --json`],
    },
    (context, cache, key) => {
      const value = cache.get(key);
      if (value === undefined) throw notFound(key);
      context.print({ key, value }, () => formatValue(value));
    },
  );
  keyCommand(
    group,
    io,
    {
      name: 'set',
      description:
        'set KEY to VALUE (an existing key keeps its place; creates the index if needed)',
      adds: true,
      value: true,
      examples: [
        `${example(INDEX)} set user:7 Ada`,
        `${example(INDEX)} set --int-key 7 '{"ok": true}' --json-value`,
      ],
    },
    (context, cache, key, [value]) => {
      cache.set(key, value);
      context.print({ key, stored: true }, () => `stored ${inline(key)}`);
    },
  );
  keyCommand(
    group,
    io,
    {
      name: 'delete',
      description: 'delete KEY (exit code 1 when it is missing)',
      examples: [`${example(INDEX)} delete user:7`, `${example(INDEX)} delete --int-key 7`],
    },
    (context, cache, key) => {
      if (!cache.delete(key)) throw notFound(key);
      context.print({ key, deleted: true }, () => `deleted ${inline(key)}`);
    },
  );
  keyCommand(
    group,
    io,
    {
      name: 'pop',
      description: 'remove KEY and print its value (exit code 1 when it is missing)',
      examples: [
        `${example(INDEX)} pop user:7`,
        `${example(INDEX)} pop --key-type json '["user", 7]'`,
      ],
    },
    (context, cache, key) => {
      const entry = cache.popEntry(key);
      if (entry === undefined) throw notFound(key);
      context.print({ key, value: entry.value }, () => formatValue(entry.value));
    },
  );
}

/** Registers `diskcache index …` on the root program (a command group: see program.ts). */
export function registerIndexCommands(program: Command, io: CliIo): void {
  const group = program
    .command('index')
    .description('inspect and change an Index directory (python-diskcache Indexes too)');
  countCommand(group, io, 'size', INDEX);
  indexKeyCommands(group, io);
  listCommand(group, io, {
    name: 'keys',
    description: 'print the keys in insertion order, one per line',
    noun: INDEX,
    field: 'keys',
    reverse: 'newest first',
    read: (cache, reverse) => cache.keys({ reverse }),
    text: lines,
    json: (key) => key,
    examples: [`${example(INDEX)} keys`, `${example(INDEX)} keys --reverse --limit 10`],
  });
  listCommand(group, io, {
    name: 'items',
    description: 'print the keys and values in insertion order, as a table',
    noun: INDEX,
    field: 'items',
    read: (cache) => cache.entries(),
    text: (chunk, first) =>
      formatTable(
        chunk.map(([key, value]) => [inline(key), inline(value)]),
        first ? { header: ['key', 'value'] } : {},
      ),
    json: ([key, value]) => ({ key, value }),
    examples: [`${example(INDEX)} items`, `${example(INDEX)} items --json | jq '.items[].key'`],
  });
  clearCommand(group, io, INDEX);
}
