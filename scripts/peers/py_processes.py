#!/usr/bin/env python3
"""py-processes: concurrent.futures.ProcessPoolExecutor, the article's "processes" row.

Without --workers the executor picks its default, os.cpu_count() workers; the article's
10 x 1 s figure needs one worker per task (--workers 10), which its machine's cores gave.
"""
import concurrent.futures as cf

import contract

if __name__ == "__main__":
    args = contract.parse_args("py-processes", has_pool=True)
    if args.serve:
        import socketserver
        from http.server import HTTPServer

        import serving

        class ForkingHTTPServer(socketserver.ForkingMixIn, HTTPServer):
            """A fork per connection, as inetd did."""
            max_children = 1 << 20  # no cap: a fork that fails is refused and named
        serving.serve_blocking("py-processes", ForkingHTTPServer, args)
    try:
        pool = cf.ProcessPoolExecutor(max_workers=args.workers)
    except OSError as e:
        raise SystemExit(f"Error: cannot start the process pool: {e} — limit to raise: `ulimit -u`")
    workers = pool._max_workers
    tally = contract.Tally("py-processes", args, workers, min(workers, args.tasks))
    with pool:
        futures = [pool.submit(contract.run_blocking, args, i) for i in range(args.tasks)]
        for i, future in enumerate(futures):  # gather: submission order
            try:
                tally.record(i, future.result())
            except Exception as e:
                tally.record(i, e)
    tally.exit()
