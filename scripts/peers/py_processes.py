#!/usr/bin/env python3
"""py-processes: concurrent.futures.ProcessPoolExecutor, the article's "processes" row.

Without --workers the executor picks its default, os.cpu_count() workers; the article's
10 x 1 s figure needs one worker per task (--workers 10), which its machine's cores gave.
"""
import concurrent.futures as cf

import os

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
