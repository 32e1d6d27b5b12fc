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

def crawl_worker(jobs, per_host_timeout_s):
    """A worker process: fetch and parse each URL the parent sends, on one kept-alive
    connection, to the origin of its last URL; send back what came of it."""
    import crawl
    pools = crawl.Pools(1, one=True)
    for url in iter(jobs.recv, None):
        jobs.send(crawl.fetch(url, pools, per_host_timeout_s))


def run_crawl(args):
    """W worker processes, started as the crawl needs them, each on a pipe of its own; the
    parent holds the frontier and the seen set, and gives each URL to an idle worker that
    holds a connection to its origin if one does — so that no origin ever has more than
    --per-host connections open, however many processes there are."""
    import multiprocessing as mp
    import multiprocessing.connection as mpc

    import crawl
    most = args.workers or crawl.DEFAULT_WORKERS
    tally = contract.Tally("py-processes", args, workers=most, concurrency=most)
    c = tally.crawl = crawl.Crawl(args, tally, most)
    fork = mp.get_context("fork")
    idle, holds, busy = [], {}, {}  # idle pipes; pipe → origin it holds; pipe → (Fetch, process)
    processes = {}
    while not c.is_over() and c.out_of is None:
        while (f := c.next(time.monotonic())) is not None:
            pipe = next((p for p in idle if holds.get(p) == f.origin), None) \
                or next((p for p in idle if p not in holds), None)
            if pipe is None and len(processes) < most:
                mine, theirs = fork.Pipe()
                try:
                    process = fork.Process(target=crawl_worker, args=(theirs, args.timeout_ms / 1000), daemon=True)
                    process.start()
                except OSError as e:
                    c.out_of = f"fork after {len(processes)} workers: {e} — limit to raise: `ulimit -u`"
                    c.finish(f, crawl.Failed("refused", c.out_of))
                    break
                theirs.close()
                processes[mine] = process
                pipe = mine
            elif pipe is None:
                pipe = idle[0]  # it holds another origin's connection: it closes that one first
            if pipe in idle:
                idle.remove(pipe)
            holds[pipe] = f.origin
            busy[pipe] = f
            pipe.send(f.url)
        due = c.next_retry()
        wait = None if due is None else max(due - time.monotonic(), 0.0005)
        if not busy:
            time.sleep(wait or 0)  # only retries wait, for their time
            continue
        for pipe in mpc.wait(list(busy), timeout=wait):
            f, pid = busy.pop(pipe), processes[pipe].pid
            try:
                fetched, churn = pipe.recv()
                idle.append(pipe)
            except EOFError:
                fetched, churn = crawl.Failed("reset", f"{f.url}: the worker process died"), (0, 0)
                holds.pop(pipe)
                processes.pop(pipe).join()
            c.churned(*churn)
            c.finish(f, fetched, runner=(pid, pid))
    for pipe, process in processes.items():
        if pipe in busy:
            process.kill()  # the crawl failed: what it was fetching no longer matters
        else:
            pipe.send(None)
        process.join()
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
    try:
        pool = cf.ProcessPoolExecutor(max_workers=args.workers)
    except OSError as e:
        raise SystemExit(f"Error: cannot start the process pool: {e} — limit to raise: `ulimit -u`")
    workers = pool._max_workers
    tally = contract.Tally("py-processes", args, workers, min(workers, args.tasks))
    with pool:
        futures = [pool.submit(contract.run_blocking, args, i) for i in range(args.tasks)]
        tally.gather(futures)  # submission order
    tally.exit()
