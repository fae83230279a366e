/**
 * The reference implementation: Debian's python3-diskcache under the system Python. Tests that
 * need it call `pythonDiskcache()`; where it is missing they skip with how to install it — except
 * in CI (REQUIRE_PYTHON_DISKCACHE=1, set by .ci/run), where a missing reference is a failure.
 */
import { execFileSync, spawnSync } from 'node:child_process';

const CANDIDATES = ['/usr/bin/python3', 'python3'];
let found: string | null | undefined;

/** The path of a Python that can `import diskcache`, or null. */
export function findPython(): string | null {
  if (found !== undefined) return found;
  found = null;
  for (const candidate of CANDIDATES) {
    const result = spawnSync(candidate, ['-c', 'import diskcache'], { stdio: 'ignore' });
    if (result.status === 0) {
      found = candidate;
      break;
    }
  }
  if (found === null && process.env.REQUIRE_PYTHON_DISKCACHE) {
    throw new Error(
      'python3-diskcache is required here (REQUIRE_PYTHON_DISKCACHE is set) but /usr/bin/python3 cannot import diskcache',
    );
  }
  return found;
}

/** Why a Python test is skipped, for `describe.skipIf(...)` titles. */
export const PYTHON_MISSING_REASON =
  'python3-diskcache is not installed: run `apt-get install -y python3-diskcache` (used through /usr/bin/python3)';

/** A describe title for tests that need Python's diskcache: it says why they skip when they do. */
export function pythonTitle(title: string): string {
  return findPython() === null ? `${title} (skipped: ${PYTHON_MISSING_REASON})` : title;
}

/** Runs a Python script (with `import diskcache` available) and returns its stdout. */
export function runPython(script: string, args: string[] = []): string {
  const python = findPython();
  if (python === null) throw new Error(PYTHON_MISSING_REASON);
  return execFileSync(python, ['-c', script, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}
