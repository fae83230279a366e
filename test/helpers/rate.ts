/** Rate checks on server-side arrival times (ms), shared by the crawler tests. */

/** The most arrivals in any window of `windowMs` that starts at an arrival. */
export function busiestWindow(arrivals: readonly number[], windowMs: number): number {
  const sorted = [...arrivals].sort((a, b) => a - b);
  let busiest = 0;
  let end = 0;
  for (let start = 0; start < sorted.length; start++) {
    while (end < sorted.length && sorted[end]! < sorted[start]! + windowMs) end++;
    busiest = Math.max(busiest, end - start);
  }
  return busiest;
}

/** Seconds from the first arrival to the last. */
export function spanSeconds(arrivals: readonly number[]): number {
  return (Math.max(...arrivals) - Math.min(...arrivals)) / 1000;
}
