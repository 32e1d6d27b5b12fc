#!/usr/bin/env python3
"""py-asyncio: one event loop, one coroutine per task, gathered — the article's "asyncio" row.

cpu tasks run on the loop and block it; with --offload the loop hands each to a process
pool with run_in_executor, the article's way of mixing a loop with CPU-bound work.
"""
import asyncio
import concurrent.futures as cf
import os
import threading
import time

import contract


async def http_task(i, args):
    host, port = args.addr
    writer = None
    try:
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(contract.request_bytes(args.addr, i, args.ms))
        return contract.parse_response(await reader.read(-1))
    except OSError as err:
        raise contract.io_failure(args.addr, err) from None
    finally:
        if writer is not None:
            writer.close()


async def one_task(i, args, pool):
    if args.workload == "sleep":
        await asyncio.sleep(args.ms / 1000)
        value = i + 100
    elif args.workload == "http":
        try:
            value = await asyncio.wait_for(http_task(i, args), args.timeout_ms / 1000)
        except asyncio.TimeoutError:
            raise contract.TaskError("the request timed out") from None
    elif pool is not None:
        return await asyncio.get_running_loop().run_in_executor(pool, contract.run_blocking, args, i)
    else:
        value = contract.cpu_task(i, args.work)
    return value, time.monotonic(), os.getpid(), threading.get_ident(), 0


async def main(args, tally):
    pool = cf.ProcessPoolExecutor() if args.offload else None
    tally.start = time.monotonic()
    outcomes = await asyncio.gather(*(one_task(i, args, pool) for i in range(args.tasks)),
                                    return_exceptions=True)
    for i, outcome in enumerate(outcomes):
        tally.record(i, outcome)
    if pool is not None:
        pool.shutdown()


def run(model, install_loop=None):
    args = contract.parse_args(model, can_offload=True)
    tally = contract.Tally(model, args, workers=1, concurrency=args.tasks)
    if install_loop is not None:
        install_loop()
    asyncio.run(main(args, tally))
    tally.exit()


if __name__ == "__main__":
    run("py-asyncio")
