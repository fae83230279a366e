"""The Python diskcache side of the collections benchmark (bench/collections.bench.ts drives it).

Run with the system Python that has diskcache 5.4: /usr/bin/python3 bench/python_collections.py.
It reads one JSON command per line on stdin and answers one JSON line on stdout. A process is
either the benchmark worker ('open': Deque append/popleft and Index set/get timed per call with
time.perf_counter_ns, Deque.extend timed whole) or one of the drain processes ('openDrain', then
'drain': pop from the left until the deque is empty and answer the item numbers it got).

Values and keys are defined exactly as in collections-workload.ts. It measures only; statistics and
verification are done in Node.
"""
import json
import sys
import time

import diskcache

BATCH = 1000  # index entries written per transaction while populating (not timed)


def item_value(number):
    # Same 100 characters as itemValue() in collections-workload.ts: the item number, then filler.
    return '%08d' % number + 'x' * 92


def index_value(variant):
    # Same 100 characters as indexValue() in collections-workload.ts.
    return chr(97 + variant) * 100


def key_name(index):
    return 'key-%07d' % index


class Worker:
    def __init__(self, command):
        self.deque = diskcache.Deque(directory=command['deque'])
        self.index = diskcache.Index(command['index'])
        self.count = command['keys']
        self.stride = command['stride']
        self.keys = [key_name(i) for i in range(self.count)]
        value = index_value(0)
        index = self.index
        for start in range(0, self.count, BATCH):
            with index.transact():
                for key in self.keys[start:start + BATCH]:
                    index[key] = value

    def key(self, number):
        return self.keys[(number * self.stride) % self.count]

    def call(self, op):
        """The function that performs call number i of operation `op`."""
        deque, index, key = self.deque, self.index, self.key
        if op == 'append':
            value = item_value(0)
            return lambda i: deque.append(value)
        if op == 'popLeft':
            return lambda i: deque.popleft()  # raises IndexError when empty: the run fails loudly
        if op == 'indexSet':
            value, offset = index_value(1), self.count // 2
            return lambda i: index.__setitem__(key(i + offset), value)
        if op == 'indexGet':
            return lambda i: index[key(i)]
        raise ValueError('unknown op %r' % op)

    def run(self, command):
        fn = self.call(command['op'])
        start, warmup, ops = command['start'], command['warmup'], command['ops']
        for i in range(start, start + warmup):
            fn(i)
        clock = time.perf_counter_ns
        samples = []
        for i in range(start + warmup, start + warmup + ops):
            begin = clock()
            fn(i)
            samples.append(clock() - begin)
        return {'samples': samples, 'length': len(self.deque)}

    def extend(self, command):
        """Times one Deque.extend of `count` items on an emptied deque."""
        self.deque.clear()
        items = [item_value(i) for i in range(command['count'])]
        begin = time.perf_counter_ns()
        self.deque.extend(items)
        elapsed = time.perf_counter_ns() - begin
        length = len(self.deque)
        self.deque.clear()
        return {'ns': elapsed, 'length': length}

    def close(self):
        self.deque.cache.close()
        self.index.cache.close()


def fill(command):
    """Empties the deque in `directory` and appends items 0..count-1, in one transaction (not timed)."""
    deque = diskcache.Deque(directory=command['directory'])
    deque.clear()
    with deque.transact():
        deque.extend(item_value(i) for i in range(command['count']))
    length = len(deque)
    deque.cache.close()
    return {'length': length}


class Drainer:
    """One of the drain processes: pops from the left of a shared deque until it is empty."""

    def __init__(self, command):
        self.deque = diskcache.Deque(directory=command['directory'])

    def drain(self):
        deque, got = self.deque, []
        while True:
            try:
                value = deque.popleft()
            except IndexError:
                return {'items': got}
            got.append(int(value[:8]))

    def close(self):
        self.deque.cache.close()


def main():
    worker = None
    for line in sys.stdin:
        command = json.loads(line)
        try:
            name = command['cmd']
            if name == 'open':
                worker = Worker(command)
                answer = {'version': diskcache.__version__, 'python': sys.version.split()[0]}
            elif name == 'openDrain':
                worker = Drainer(command)
                answer = {}
            elif name == 'run':
                answer = worker.run(command)
            elif name == 'extend':
                answer = worker.extend(command)
            elif name == 'drain':
                answer = worker.drain()
            elif name == 'fill':
                answer = fill(command)
            elif name == 'close':
                worker.close()
                answer = {}
            else:
                raise ValueError('unknown command %r' % name)
        except Exception as error:  # reported to the driver, which fails loudly
            answer = {'error': '%s: %s' % (type(error).__name__, error)}
        sys.stdout.write(json.dumps(answer) + '\n')
        sys.stdout.flush()


if __name__ == '__main__':
    main()
