#!/usr/bin/env python3
"""py-processes: concurrent.futures.ProcessPoolExecutor, the article's "processes" row.

Without --workers the executor picks its default, os.cpu_count() workers; the article's
10 x 1 s figure needs one worker per task (--workers 10), which its machine's cores gave.
The crawl needs what an executor cannot give, a say in which worker runs a URL (the one
that holds a connection to its origin), so it runs W processes on pipes of their own.
"""
import concurrent.futures as cf

import os
import time

import contract


def brigade(args):
    """A forked process per task and a pipe per pair: every hand-off wakes another process.
    Each child sends its value back as one line on a results pipe."""
    tally = contract.Tally("py-processes", args, args.tasks, args.tasks)
    try:
        pipes = contract.token_pipes(args.tasks)
    except contract.TaskError as e:
        [tally.record(i, e) for i in range(args.tasks)]
        tally.exit()
    results_r, results_w = os.pipe()
    children = []
    for i in range(args.tasks):
        try:
            pid = os.fork()
        except OSError as e:  # the ring cannot close: stop the children started
            for child in children:
                os.kill(child, 9)
                os.waitpid(child, 0)
            raise SystemExit(f"Error: fork after {i} children: {e.strerror} — limit to raise: `ulimit -u`")
        if pid == 0:
            contract.die_with_parent()
            try:
                value = contract.brigade_link(args, i, lambda: contract.pipe_receive(pipes[i][0]),
                                              lambda c: contract.pipe_send(pipes[(i + 1) % args.tasks][1], c))[0]
                os.write(results_w, b"%d %d\n" % (i, value))
                os._exit(0)
            except BaseException:
                os._exit(1)
        children.append(pid)
    os.close(results_w)
    contract.pipe_send(pipes[0][1], 0)
    with os.fdopen(results_r) as results:
        for line in results:
            i, value = map(int, line.split())
            tally.record(i, (value, tally.start, contract.time.monotonic(), children[i], 0, 0))
    for child in children:
        os.waitpid(child, 0)
    tally.exit()

def crawl_worker(timeout_s):
    """Fork a worker process: it fetches and parses each URL the parent sends on its socket,
    on one kept-alive connection, to the origin of its last URL, and sends back what came
    of it. The parent's end of the socket, and the worker's pid."""
    import multiprocessing.connection as mpc
    import socket

    import crawl
    mine, theirs = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        contract.die_with_parent()
        try:
            mine.close()
            jobs, pools = mpc.Connection(theirs.detach()), crawl.Pools(1, one=True)
            for url in iter(jobs.recv, None):
                jobs.send(crawl.fetch(url, pools, timeout_s))
        finally:
            os._exit(0)
    theirs.close()
    return mpc.Connection(mine.detach()), pid


def run_crawl(args):
    """W worker processes, forked as the crawl needs them, each on a socket of its own; the
    parent holds the frontier and the seen set, and gives each URL to an idle worker that
    holds a connection to its origin if one does — so that no origin ever has more than
    --per-host connections open, however many processes there are."""
    import multiprocessing.connection as mpc

    import crawl
    import urllib3  # noqa: F401  imported once here, so that no worker imports it after its fork
    most = args.workers or crawl.DEFAULT_WORKERS
    contract.admit(most, "processes")
    tally = contract.Tally("py-processes", args, workers=most, concurrency=most)
    c = tally.crawl = crawl.Crawl(args, tally, most)
    idle = {None: []}  # the origin a worker's connection is to (None: none yet) → idle workers
    busy, pids = {}, {}  # worker → the Fetch it runs; worker → its pid

    def take(origin):
        """An idle worker: one holding `origin`'s connection, one holding none, or any (it
        closes the connection it holds first)."""
        for key in (origin, None, *idle):
            if idle.get(key):
                return idle[key].pop()
        return None

    while not c.is_over() and c.out_of is None:
        while (f := c.next(time.monotonic())) is not None:
            worker = take(f.origin)
            if worker is None:  # fewer than W in flight, none idle: there is room for one more
                try:
                    worker, pid = crawl_worker(args.timeout_ms / 1000)
                    pids[worker] = pid
                except OSError as e:
                    c.out_of = f"fork after {len(pids)} workers: {e} — limit to raise: `ulimit -u`"
                    c.finish(f, crawl.Failed("refused", c.out_of))
                    break
            busy[worker] = f
            worker.send(f.url)
        due = c.next_retry()
        wait = None if due is None else max(due - time.monotonic(), 0.0005)
        if not busy:
            time.sleep(wait or 0)  # only retries wait, for their time
            continue
        for worker in mpc.wait(list(busy), timeout=wait):
            f = busy.pop(worker)
            try:
                fetched, churn = worker.recv()
                idle.setdefault(f.origin, []).append(worker)
            except EOFError:
                fetched, churn = crawl.Failed("reset", f"{f.url}: the worker process died"), (0, 0)
            c.churned(*churn)
            c.finish(f, fetched, runner=(pids.get(worker) or 0, 0))
    for worker, pid in pids.items():
        if worker in busy:
            os.kill(pid, 9)  # the crawl failed: what it was fetching no longer matters
        else:
            worker.send(None)
        worker.close()
    for _ in pids:
        os.wait()
    tally.exit()


if __name__ == "__main__":
    args = contract.parse_args("py-processes")
    if args.serve:
        import socketserver
        from http.server import HTTPServer

        import serving

        class ForkingHTTPServer(socketserver.ForkingMixIn, HTTPServer):
            """A fork per connection, as inetd did."""
            max_children = 1 << 20  # no cap: a fork that fails is refused and named
        serving.serve_blocking("py-processes", ForkingHTTPServer, args)
    if args.workload == "brigade":
        brigade(args)
    if args.workload == "crawl":
        run_crawl(args)
    if args.workers:
        contract.admit(args.workers, "processes")  # all W are forked at the first submit
    try:
        pool = cf.ProcessPoolExecutor(max_workers=args.workers,
                                      initializer=contract.die_with_parent)
    except OSError as e:
        raise SystemExit(f"Error: cannot start the process pool: {e} — limit to raise: `ulimit -u`")
    workers = pool._max_workers
    tally = contract.Tally("py-processes", args, workers, min(workers, args.tasks))
    with pool:
        futures = [pool.submit(contract.run_blocking, args, i) for i in range(args.tasks)]
        tally.gather(futures)  # submission order
    tally.exit()
