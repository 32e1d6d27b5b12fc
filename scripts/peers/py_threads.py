#!/usr/bin/env python3
"""py-threads: concurrent.futures.ThreadPoolExecutor, the article's "threads" row.

Without --workers the executor picks its default, min(32, os.cpu_count() + 4) threads.
Sleeping and waiting on sockets release the GIL; hashing does not, so cpu tasks take turns.
"""
import concurrent.futures as cf

import contract

args = contract.parse_args("py-threads")
if args.serve:
    from http.server import ThreadingHTTPServer

    import serving
    serving.serve_blocking("py-threads", ThreadingHTTPServer, args)  # a thread per connection
if args.workload == "brigade":
    # A thread per task, a queue.Queue per pair: every hand-off wakes another thread.
    import queue
    boxes = [queue.Queue(maxsize=1) for _ in range(args.tasks)]
    pool = cf.ThreadPoolExecutor(max_workers=args.tasks)
    tally = contract.Tally("py-threads", args, args.tasks, args.tasks)
    with pool:
        try:
            futures = [pool.submit(contract.brigade_link, args, i, boxes[i].get,
                                   boxes[(i + 1) % args.tasks].put) for i in range(args.tasks)]
        except RuntimeError as e:  # "can't start new thread": the ring cannot close
            for box in boxes:
                box.put(None)  # the threads started stop at a token that is no counter
            raise SystemExit(f"Error: {e} — limit to raise: `ulimit -u`, vm.max_map_count")
        boxes[0].put(0)
        tally.gather(futures)  # submission order
    tally.exit()
if args.workload == "crawl":
    # W threads sharing the frontier and the seen set behind one lock: the article's queue
    # and lock. Each thread fetches, then parses, holding the GIL while it parses.
    import crawl
    crawl.run_blocking("py-threads", args, contract, args.workers or crawl.DEFAULT_WORKERS, crawl.thread)
if args.workers:
    contract.admit(args.workers, "threads")  # each of the W may be started as tasks queue
pool = cf.ThreadPoolExecutor(max_workers=args.workers)
workers = pool._max_workers
tally = contract.Tally("py-threads", args, workers, min(workers, args.tasks))
with pool:
    futures = []
    for i in range(args.tasks):
        try:
            futures.append(pool.submit(contract.run_blocking, args, i))
        except RuntimeError as e:  # "can't start new thread": stop starting, finish the rest
            limit = "`ulimit -u`, kernel.threads-max, vm.max_map_count"
            for j in range(i, args.tasks):
                tally.record(j, contract.TaskError(f"after {i} threads: {e} — limit to raise: {limit}"))
            break
    tally.gather(futures)  # submission order
tally.exit()
