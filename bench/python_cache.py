"""The Python diskcache side of the engine benchmark (bench/cache.bench.ts drives it).

Reads one JSON command per line on stdin and answers one JSON line on stdout, so that the Node
driver can interleave Python with the in-process systems operation by operation. The workload
(keys, values, which key each call uses) is defined exactly as in cache.bench.ts; each call is
timed alone with time.perf_counter_ns, and the loop's CPU time is taken with process_time_ns.
It measures only; the statistics are computed in Node.
Run with the system Python that has diskcache 5.4: /usr/bin/python3 bench/python_cache.py
"""
import json
import sys
import time

import diskcache

BATCH = 1000  # sets per transaction in the 'transact' operation


def key_name(index):
    return 'key-%07d' % index


def make_value(kind, variant):
    # Same bytes/characters as valueFor() in cache.bench.ts.
    if kind == 'buffer':
        return bytes(((i * 31 + 7 + variant) & 0xFF) for i in range(1024))
    return ''.join(chr(97 + (i + variant) % 26) for i in range(1024))


class Workload:
    def __init__(self, config):
        self.count = config['keys']
        self.stride = config['stride']
        self.keys = [key_name(i) for i in range(self.count)]
        self.value_a = make_value(config['value'], 0)
        self.value_b = make_value(config['value'], 1)
        self.cache = diskcache.Cache(config['directory'])

    def key(self, index):
        return self.keys[(index * self.stride) % self.count]

    def populate(self):
        cache, value = self.cache, self.value_a
        for start in range(0, self.count, BATCH):
            with cache.transact():
                for index in range(start, min(start + BATCH, self.count)):
                    cache.set(self.keys[index], value)

    def call(self, op):
        """The function that performs call number i of operation `op`."""
        cache, key = self.cache, self.key
        if op == 'getHit':
            return lambda i: cache.get(key(i))
        if op == 'getMiss':
            return lambda i: cache.get('miss-%07d' % i)
        if op == 'set':
            offset, value = self.count // 2, self.value_b
            return lambda i: cache.set(key(i + offset), value)
        if op == 'transact':
            value = self.value_a

            def batch(i):
                with cache.transact():
                    for j in range(i * BATCH, (i + 1) * BATCH):
                        cache.set(key(j), value)
            return batch
        if op == 'delete':
            return lambda i: cache.delete(key(i))
        raise ValueError('unknown op %r' % op)

    def run(self, command):
        fn = self.call(command['op'])
        start, warmup, ops = command['start'], command['warmup'], command['ops']
        for i in range(start, start + warmup):
            fn(i)
        clock = time.perf_counter_ns
        deadline = clock() + int(command['maxMs'] * 1e6)
        samples = []
        cpu_start = time.process_time_ns()
        for i in range(start + warmup, start + warmup + ops):
            start = clock()
            fn(i)
            end = clock()
            samples.append(end - start)
            if end > deadline:
                break
        return {'samples': samples, 'cpuNs': time.process_time_ns() - cpu_start}

    def check(self):
        hit = self.cache.get(self.key(0))
        return {'hitLength': None if hit is None else len(hit), 'missFound': self.cache.get('miss-x') is not None}


def main():
    workload = None
    for line in sys.stdin:
        command = json.loads(line)
        try:
            if command['cmd'] == 'open':
                workload = Workload(command)
                workload.populate()
                answer = {'version': diskcache.__version__, 'python': sys.version.split()[0]}
            elif command['cmd'] == 'run':
                answer = workload.run(command)
            elif command['cmd'] == 'check':
                answer = workload.check()
            elif command['cmd'] == 'close':
                workload.cache.close()
                answer = {}
            else:
                raise ValueError('unknown command %r' % command['cmd'])
        except Exception as error:  # reported to the driver, which fails loudly
            answer = {'error': '%s: %s' % (type(error).__name__, error)}
        sys.stdout.write(json.dumps(answer) + '\n')
        sys.stdout.flush()


if __name__ == '__main__':
    main()
