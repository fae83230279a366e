/**
 * What every CLI command needs besides its own logic: the process's streams (injectable, so the
 * program can run in-process), the global options (`--dir`, `--json`, `--timeout`, `--disk`),
 * opening a cache directory with the CLI's rules (never create one for a command that only
 * reads or removes; fail within `--timeout` when another process holds the write lock), and
 * printing a result as a table or as one JSON document. Caches are opened through the library
 * (never raw SQLite): opening waits at most `--timeout` for the write lock, and reads never wait.
 * Command groups use this; it must not define commands itself.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { Cache } from '../cache/cache.js';
import { JSONDisk } from '../cache/disk.js';
import { DBNAME } from '../cache/schema.js';
import type { CacheOptions, Tag } from '../cache/types.js';
import { CliError, EXIT } from './exit-codes.js';
import {
  formatValue,
  jsonDocument,
  parseScalar,
  parseSeconds,
  SCALAR_TYPES,
  type ScalarType,
} from './output.js';

/** The outside world of one CLI run: streams, environment and (on a terminal) a yes/no prompt. */
export interface CliIo {
  readonly stdout: { write(chunk: string | Uint8Array): unknown };
  readonly stderr: { write(chunk: string): unknown };
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Asks the user a yes/no question; absent when stdin is not a terminal (then commands refuse). */
  readonly confirm?: (question: string) => Promise<boolean>;
}

/** The options every command accepts (declared once on the root program). */
export interface GlobalOptions {
  readonly dir?: string;
  readonly json?: boolean;
  readonly timeout: number;
  readonly disk: 'default' | 'json';
}

/** Seconds a command waits for the write lock by default (the engine's default too). */
export const DEFAULT_TIMEOUT_SECONDS = 60;

/**
 * Wraps a parser that throws CliError so that commander reports its message as an invalid
 * option argument (a usage error, with commander's usual "see --help" hint).
 */
export function optionParser<T>(parse: (text: string) => T): (text: string) => T {
  return (text) => {
    try {
      return parse(text);
    } catch (error) {
      if (error instanceof CliError) throw new InvalidArgumentError(error.message);
      throw error;
    }
  };
}

/**
 * A commander action for `run`: it gets the run's context and the command's positional
 * arguments (as declared, after their parsers). Errors propagate to runCli, which maps them.
 */
export function action(
  io: CliIo,
  run: (context: CommandContext, ...args: string[]) => void | Promise<void>,
) {
  return async (...received: unknown[]): Promise<void> => {
    const command = received[received.length - 1] as Command;
    await run(new CommandContext(io, command), ...(command.processedArgs as string[]));
  };
}

/** Declares the global options on the root program. */
export function addGlobalOptions(program: Command): void {
  program
    .option('-d, --dir <directory>', 'the cache directory (default: $DISKCACHE_DIR)')
    .option('--json', 'print one JSON document on stdout instead of text')
    .addOption(
      new Option(
        '--timeout <seconds>',
        'seconds to wait for the cache write lock before failing with exit code 4',
      )
        .argParser(optionParser((text) => parseSeconds(text, '--timeout')))
        .default(DEFAULT_TIMEOUT_SECONDS),
    )
    .addOption(
      new Option('--disk <kind>', 'the serializer the cache was written with')
        .choices(['default', 'json'])
        .default('default'),
    );
}

/** Adds `--key-type` and its shorthand `--int-key` to a command that takes a KEY argument. */
export function addKeyOptions(command: Command): Command {
  return command
    .addOption(
      new Option('--key-type <type>', 'how KEY is read')
        .choices([...SCALAR_TYPES])
        .default('string'),
    )
    .option('--int-key', 'read KEY as an integer (same as --key-type int)');
}

/** Adds `--tag-type` to a command that takes a tag. */
export function addTagTypeOption(command: Command): Command {
  return command.addOption(
    new Option('--tag-type <type>', 'how the tag is read')
      .choices([...SCALAR_TYPES])
      .default('string'),
  );
}

/** The per-run view a command's action gets: options, streams, opening and printing. */
export class CommandContext {
  readonly io: CliIo;
  readonly options: GlobalOptions;
  readonly #command: Command;

  constructor(io: CliIo, command: Command) {
    this.io = io;
    this.#command = command;
    this.options = command.optsWithGlobals<GlobalOptions>();
  }

  /** Whether `--json` was given. */
  get json(): boolean {
    return this.options.json === true;
  }

  /** The command's own options (those declared on it, not the global ones). */
  opts<T>(): T {
    return this.#command.opts() as T;
  }

  /** The KEY argument read with the command's `--key-type` / `--int-key`. */
  parseKey(text: string): unknown {
    const own = this.#command.opts<{ keyType?: ScalarType; intKey?: boolean }>();
    return parseScalar(text, own.intKey ? 'int' : (own.keyType ?? 'string'), 'key');
  }

  /** A tag read with the command's `--tag-type`: a string or a number (JSON may give neither). */
  parseTag(text: string): Tag {
    const type = this.#command.opts<{ tagType?: ScalarType }>().tagType ?? 'string';
    const tag = parseScalar(text, type, 'tag');
    if (typeof tag === 'string' || typeof tag === 'number' || typeof tag === 'bigint') return tag;
    throw new CliError(
      EXIT.USAGE,
      `a tag must be a string or a number, got ${formatValue(tag, { inline: true })}`,
    );
  }

  /**
   * The directory a command works on, as an absolute path, by one rule for every command:
   * `-d/--dir DIR` names it, else `$DISKCACHE_DIR`. A command whose directory is its main object
   * may also take it as `own` (a DIR argument of `queue stats`, `--queue` of work and crawl);
   * `own` wins over `$DISKCACHE_DIR`, and differing `own` and `--dir` are a usage error.
   * `undefined` when nothing names a directory.
   */
  findDirectory(own?: string): string | undefined {
    const flag = this.options.dir;
    if (own !== undefined && own !== '') {
      if (flag !== undefined && flag !== '' && path.resolve(flag) !== path.resolve(own)) {
        throw new CliError(
          EXIT.USAGE,
          `two directories given: --dir ${flag} and ${own} (name the directory once)`,
        );
      }
      return path.resolve(own);
    }
    const given = flag ?? this.io.env.DISKCACHE_DIR;
    return given === undefined || given === '' ? undefined : path.resolve(given);
  }

  /** The directory (see `findDirectory`); a usage error when nothing names one. */
  directory(own?: string): string {
    const directory = this.findDirectory(own);
    if (directory === undefined) {
      throw new CliError(
        EXIT.USAGE,
        'no cache directory: pass --dir DIR (or -d DIR) or set DISKCACHE_DIR',
      );
    }
    return directory;
  }

  /**
   * Opens the cache. Unless `create` is set, the directory must already hold a cache (exit 5
   * otherwise), so a mistyped path never leaves a new empty cache behind.
   */
  openCache(options: { create: boolean }): Cache {
    const directory = this.directory();
    const database = path.join(directory, DBNAME);
    if (!options.create) {
      if (!fs.existsSync(directory))
        throw new CliError(EXIT.BAD_DIRECTORY, `cache directory ${directory} does not exist`);
      if (!fs.statSync(directory).isDirectory())
        throw new CliError(EXIT.BAD_DIRECTORY, `${directory} is not a directory`);
      if (!fs.existsSync(database))
        throw new CliError(
          EXIT.BAD_DIRECTORY,
          `${directory} is not a cache directory (it has no ${DBNAME})`,
        );
    } else if (fs.existsSync(directory) && !fs.statSync(directory).isDirectory()) {
      throw new CliError(EXIT.BAD_DIRECTORY, `${directory} is not a directory`);
    }
    const cacheOptions: CacheOptions = {
      timeout: this.options.timeout,
      ...(this.options.disk === 'json' ? { disk: JSONDisk } : {}),
    };
    return new Cache(directory, cacheOptions);
  }

  /** Opens the cache, runs `body` and closes the cache, whatever happens. */
  async withCache<T>(
    options: { create: boolean },
    body: (cache: Cache) => T | Promise<T>,
  ): Promise<T> {
    const cache = this.openCache(options);
    try {
      return await body(cache);
    } finally {
      cache.close();
    }
  }

  /** Prints a command's result: `document` as JSON with `--json`, else the text `human()` returns. */
  print(document: unknown, human: () => string): void {
    if (this.json) {
      this.io.stdout.write(jsonDocument(document));
      return;
    }
    const text = human();
    if (text !== '') this.io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  /** A note for the person at the terminal (stderr), never mixed into --json output. */
  note(text: string): void {
    if (!this.json) this.io.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
  }
}
