"""
The Python half of the examples/python-consumer.ts pair: a Python pipeline feeding a Node service
through one directory, no server. Needs python-diskcache (`apt-get install python3-diskcache` or
`pip install diskcache`).

It fills a Deque of jobs (plain dicts, lists and tuples: what Node's safe pickle reader accepts)
and an Index of settings with a tuple key, then, run again with `--read`, prints what the Node
consumer wrote back (Node writes with PickleDisk, so Python reads dicts, lists, None and tuples).

Run: python3 examples/python-producer.py DIRECTORY [--read]
"""
import sys

import diskcache


def produce(directory):
    jobs = diskcache.Deque(directory=directory + '/jobs')
    jobs.clear()
    for n in range(5):
        jobs.append({'id': n, 'url': 'https://example.com/%d' % n, 'retries': 3,
                     'weights': [0.5, n / 10], 'deadline': None, 'shape': (n, n * 2)})
    catalog = diskcache.Index(directory + '/catalog')
    catalog['settings'] = {'max_pages': 100, 'polite': True, 'hosts': ('example.com',)}
    catalog[('owner', 1)] = {'name': 'ada', 'teams': {'crawl', 'search'}}
    print('python: queued %d jobs, wrote %d catalog entries' % (len(jobs), len(catalog)))


def read_back(directory):
    catalog = diskcache.Index(directory + '/catalog')
    for key in catalog:
        if isinstance(key, tuple) and key[0] == 'result':
            print('python: read %r -> %r' % (key, catalog[key]))
    print('python: jobs left in the deque: %d' % len(diskcache.Deque(directory=directory + '/jobs')))


if __name__ == '__main__':
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    if '--read' in sys.argv[2:]:
        read_back(sys.argv[1])
    else:
        produce(sys.argv[1])
