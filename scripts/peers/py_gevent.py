#!/usr/bin/env python3
"""py-gevent: greenlets, the Python coroutine the article does not show.

A greenlet is a stackful coroutine: it switches by swapping C stacks inside one OS thread, so
code written for threads — time.sleep, socket.recv, queue.Queue.get — waits without blocking
anything once gevent.monkey has patched those functions to hand control to gevent's hub (a
libev loop). What this file adds to py-threads is the patching and gevent's own pool: the
tasks are contract.run_blocking, unchanged. Without --workers every task gets a greenlet
at once (asyncio's gather); --workers W is a gevent.pool.Pool of W.

- Costs: a greenlet is a few KiB of heap (its stack is copied out when it is switched away
  from); a switch is a user-space stack copy, no system call. `strace -f -c` shows one thread
  in epoll_wait, and the sockets' own calls.
- Stops: anything the patches do not reach blocks the hub — hashing (cpu tasks run one after
  another, and the hub's 10 ms ticker is late by a whole task), and files (a read blocks; the
  disk workload hands each read to the hub's thread pool, gevent's advice, so --workers sizes
  that pool there). C extensions that wait in C block it too; psycopg waits through Python,
  so the db workload yields.
- --serve is py-threads' server (ThreadingHTTPServer), its threads made greenlets by the patch.
"""
import sys

try:
    from gevent import monkey
except ImportError:
    sys.exit("Error: gevent is not installed — `make peers` installs it into .venv/")

monkey.patch_all()  # before anything imports socket, time, threading or queue

import gevent  # noqa: E402
import gevent.pool  # noqa: E402
import gevent.queue  # noqa: E402

import contract  # noqa: E402

MODEL = "py-gevent"
# A task that fails is counted, and named, in the report: the hub need not print its
# traceback as well, as it does for an exception a greenlet ends with.
gevent.get_hub().NOT_ERROR += (contract.TaskError,)


def outcome(greenlet):
    """run_blocking's tuple, or what it raised."""
    return greenlet.value if greenlet.successful() else greenlet.exception


def pulse(tally, stop):
    """A 10 ms ticker greenlet: while a task hashes on the hub's thread, it cannot tick."""
    while not stop:
        due = contract.time.monotonic() + 0.010
        gevent.sleep(0.010)
        now = contract.time.monotonic()
        tally.loop_lag.append((now - due) * 1000)
        tally.ticks.append((due, now))


args = contract.parse_args(MODEL)
if args.serve:
    from http.server import ThreadingHTTPServer

    import serving
    serving.serve_blocking(MODEL, ThreadingHTTPServer, args)  # a greenlet per connection
if args.workload == "brigade":
    # A greenlet per task and a gevent Queue per pair: a hand-off is a switch in user space.
    boxes = [gevent.queue.Queue(maxsize=1) for _ in range(args.tasks)]
    tally = contract.Tally(MODEL, args, 1, args.tasks)
    links = [gevent.spawn(contract.brigade_link, args, i, boxes[i].get,
                          boxes[(i + 1) % args.tasks].put) for i in range(args.tasks)]
    boxes[0].put(0)
    gevent.joinall(links)
    for i, link in enumerate(links):
        tally.record(i, outcome(link))
    tally.exit()

if args.workload == "crawl":
    # py-threads' crawl, its W threads W greenlets: each waits for its socket in the hub.
    import crawl
    crawl.run_blocking(MODEL, args, contract, args.workers or crawl.DEFAULT_WORKERS, gevent.spawn)
at_once = min(args.workers or args.tasks, args.tasks)
if args.workload == "disk":
    # Files do not wait on the hub: each read goes to its thread pool of --workers threads
    # (gevent's default, 10, without).
    hub = gevent.get_hub()
    if args.workers:
        contract.admit(args.workers, "threads")  # the hub's file threads, started as reads queue
    hub.threadpool.maxsize = args.workers or 10
    at_once = min(hub.threadpool.maxsize, args.tasks)

    def task(i):
        return hub.threadpool.apply(contract.run_blocking, (args, i))
else:
    def task(i):
        return contract.run_blocking(args, i)

# The tasks run on one loop (the hub), or on disk on the pool's threads.
threads = hub.threadpool.maxsize if args.workload == "disk" else 1
tally = contract.Tally(MODEL, args, workers=threads, concurrency=at_once)
stop = []
ticker = gevent.spawn(pulse, tally, stop) if args.workload == "cpu" else None
pool = gevent.pool.Pool(args.workers if args.workload != "disk" else None)
greenlets = [pool.spawn(task, i) for i in range(args.tasks)]
pool.join()
if ticker is not None:
    stop.append(True)
    ticker.join()
for i, g in enumerate(greenlets):
    tally.record(i, outcome(g))
tally.exit()
