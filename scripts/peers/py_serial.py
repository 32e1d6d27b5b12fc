#!/usr/bin/env python3
"""py-serial: the article's first row — one task after another."""
import os
import threading
import time

import contract

args = contract.parse_args("py-serial")
if args.serve:
    from http.server import HTTPServer

    import serving
    serving.serve_blocking("py-serial", HTTPServer, args)  # one connection at a time
if args.workload == "crawl":
    import crawl
    crawl.run_blocking("py-serial", args, contract, 1, crawl.Inline)  # one URL after another
tally = contract.Tally("py-serial", args, workers=1, concurrency=1)
if args.workload == "brigade":
    # The baseline: a pipe per task, written and read back by the one thread — no switch.
    try:
        pipes = contract.token_pipes(args.tasks)
    except contract.TaskError as e:
        [tally.record(i, e) for i in range(args.tasks)]
        tally.exit()
    values, token, at = [0] * args.tasks, 0, 0
    while token is not None:
        contract.pipe_send(pipes[at][1], token)
        got = contract.pipe_receive(pipes[at][0])
        values[at] = (values[at] + got) & contract.MASK
        token, at = contract.pass_on(args, got), (at + 1) % args.tasks
    now = time.monotonic()
    for i, v in enumerate(values):
        tally.record(i, (v, tally.start, now, os.getpid(), threading.get_native_id(), 0))
    tally.exit()
for i in range(args.tasks):
    try:
        tally.record(i, contract.run_blocking(args, i))
    except contract.TaskError as e:
        tally.record(i, e)
tally.exit()
