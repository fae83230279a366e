/**
 * lease-holder: who holds a WorkQueue lease, written into the job's row when it is taken, so that
 * another process on the same machine can tell that the holder is gone and take the job back at
 * once instead of waiting for the lease to run out.
 *
 * A holder is `<machine> <pid> <start> [<supervisor pid> <supervisor start>]`: the machine is this
 * kernel's boot id and the PID namespace (two containers on one kernel share the boot id, not
 * their process ids), `start` the process start time (/proc/<pid>/stat field 22, clock ticks since
 * boot) so that a reused pid is not taken for the holder. A supervisor (the runner's parent, which
 * gives back its dead workers' jobs itself) keeps the leases from being reclaimed while it lives.
 * Only Linux can say: elsewhere the holder is left unset and leases run out as they always did.
 */
import * as fs from 'node:fs';

/**
 * Holders are padded with spaces to this width, and jobs are put with as many spaces in their
 * holder column (unread until a lease names its holder): a claim then overwrites the row without
 * growing it, which SQLite does in place. A row that grows is moved and rewritten, and with every
 * claimed row that cost about 5 µs per job, a fifth of a no-op job's cost in the runner.
 * A longer holder (none on Linux so far) is written as it is, only slower.
 */
export const HOLDER_WIDTH = 96;

/** The holder column of a job that nobody has leased yet (see HOLDER_WIDTH). */
export const UNHELD = ' '.repeat(HOLDER_WIDTH);

/** What a survey found out about one holder. */
export type HolderStatus = 'alive' | 'supervised' | 'dead' | 'other-machine' | 'unknown';

/** A holder as written in the row, parsed. */
export interface ParsedHolder {
  readonly machine: string;
  readonly pid: number;
  readonly start: string;
  readonly supervisorPid: number | undefined;
  readonly supervisorStart: string | undefined;
}

/** The start time of process `pid` (clock ticks since boot), undefined when it does not exist. */
export function processStart(pid: number): string | undefined {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // `pid (comm) state ppid ...`: comm may hold spaces and parentheses, so split after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // A zombie (killed, not reaped yet) or a dead task holds nothing any more.
  if (fields[0] === 'Z' || fields[0] === 'X' || fields[0] === 'x') return undefined;
  return fields[19]; // field 22; fields[0] is field 3
}

let machine: string | null | undefined;

/** This machine's name for holders: boot id and PID namespace; null when unknowable. */
export function machineId(): string | null {
  if (machine !== undefined) return machine;
  try {
    const boot = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'latin1').trim();
    const namespace = fs.readlinkSync('/proc/self/ns/pid').replace(/\D/g, '');
    machine = boot && namespace ? `${boot}/${namespace}` : null;
  } catch {
    machine = null;
  }
  return machine;
}

/**
 * The holder string of this process (with `supervisor`, a process that gives back this one's
 * leases if it dies, as the runner's parent does); null when this system cannot tell.
 */
export function holderOf(supervisor?: number): string | null {
  const id = machineId();
  const start = id === null ? undefined : processStart(process.pid);
  if (id === null || start === undefined) return null;
  let holder = `${id} ${process.pid} ${start}`;
  if (supervisor !== undefined) {
    const supervisorStart = processStart(supervisor);
    if (supervisorStart !== undefined) holder += ` ${supervisor} ${supervisorStart}`;
  }
  return holder.padEnd(HOLDER_WIDTH);
}

/** Parses a holder string (padded or not); undefined when it is not one. */
export function parseHolder(holder: string): ParsedHolder | undefined {
  const [id, pid, start, supervisorPid, supervisorStart] = holder.trimEnd().split(' ');
  if (id === undefined || pid === undefined || start === undefined) return undefined;
  return {
    machine: id,
    pid: Number(pid),
    start,
    supervisorPid: supervisorPid === undefined ? undefined : Number(supervisorPid),
    supervisorStart,
  };
}

/**
 * Whether the holder still runs: 'dead' only when it provably does not (on this machine, its pid
 * is gone or belongs to a process started at another time) and neither does its supervisor;
 * 'supervised' when it is gone but its supervisor still runs.
 */
export function holderStatus(holder: ParsedHolder): HolderStatus {
  const here = machineId();
  if (here === null) return 'unknown';
  if (holder.machine !== here) return 'other-machine';
  if (processStart(holder.pid) === holder.start) return 'alive';
  if (
    holder.supervisorPid !== undefined &&
    processStart(holder.supervisorPid) === holder.supervisorStart
  )
    return 'supervised'; // gone, but its supervisor gives its jobs back
  return 'dead';
}
