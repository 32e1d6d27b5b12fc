#!/usr/bin/env python3
"""py-serial: the article's first row — one task after another."""
import contract

args = contract.parse_args("py-serial")
if args.serve:
    from http.server import HTTPServer

    import serving
    serving.serve_blocking("py-serial", HTTPServer, args)  # one connection at a time
tally = contract.Tally("py-serial", args, workers=1, concurrency=1)
for i in range(args.tasks):
    try:
        tally.record(i, contract.run_blocking(args, i))
    except contract.TaskError as e:
        tally.record(i, e)
tally.exit()
