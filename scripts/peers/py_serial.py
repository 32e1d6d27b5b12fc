#!/usr/bin/env python3
"""py-serial: the article's first row — one task after another."""
import contract

args = contract.parse_args("py-serial")
tally = contract.Tally("py-serial", args, workers=1, concurrency=1)
for i in range(args.tasks):
    try:
        tally.record(i, contract.run_blocking(args, i))
    except contract.TaskError as e:
        tally.record(i, e)
tally.exit()
