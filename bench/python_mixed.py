"""The Python twin of bench/perf-mixed-child.ts: one process of the mixed workload (90% get, 10%
set of a 1 KB value over 1,000 keys, the same LCG sequence), on Python's diskcache. Prints 'ready';
on each 'go' line runs the operations and prints the milliseconds; 'exit' ends it.
Args: <directory> <ops> <seed>."""
import sys
import time

import diskcache


def main():
    directory, ops, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    cache = diskcache.Cache(directory)
    keys = ['key-%07d' % i for i in range(1000)]
    value = bytes(((i * 31 + 7 + 1) & 0xFF) for i in range(1024))
    print('ready', flush=True)
    for line in sys.stdin:
        if line.strip() != 'go':
            break
        state = seed & 0xFFFFFFFF
        begin = time.perf_counter()
        for _ in range(ops):
            state = (state * 1664525 + 1013904223) & 0xFFFFFFFF
            key = keys[state % 1000]
            if state % 10 == 0:
                cache.set(key, value)
            else:
                cache.get(key)
        print('%f' % ((time.perf_counter() - begin) * 1000), flush=True)
    cache.close()


if __name__ == '__main__':
    main()
