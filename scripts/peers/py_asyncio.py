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
import db


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


async def one_task(i, args, pool, connections):
    started = time.monotonic() if args.timeline else None
    if args.workload == "sleep":
        await asyncio.sleep(args.ms / 1000)
        value = i + 100
    elif args.workload == "http":
        try:
            value = await asyncio.wait_for(http_task(i, args), args.timeout_ms / 1000)
        except asyncio.TimeoutError:
            raise contract.TaskError("the request timed out") from None
    elif args.workload == "db":
        # asyncpg: a connection of the task's own, or one of its pool's (--workers).
        value = await db.async_task(args, i, connections)
    elif args.workload == "disk":
        # A file is never "not ready": asyncio reads it on the loop's default executor, a
        # ThreadPoolExecutor (min(32, cores + 4) threads, or --workers).
        return await asyncio.get_running_loop().run_in_executor(None, contract.run_blocking, args, i)
    elif pool is not None:
        return await asyncio.get_running_loop().run_in_executor(pool, contract.run_blocking, args, i)
    else:
        started = time.monotonic()
        value = contract.cpu_task(i, args.work)
    return value, started or 0.0, time.monotonic(), os.getpid(), threading.get_native_id(), 0


async def pulse(tally, pending):
    """A 10 ms ticker on the loop: while a cpu task runs on the loop, it cannot tick."""
    while True:
        pending[0] = time.monotonic() + 0.010
        await asyncio.sleep(0.010)
        now = time.monotonic()
        tally.loop_lag.append((now - pending[0]) * 1000)
        tally.ticks.append((pending[0], now))
        pending[0] = None


async def brigade(args, tally):
    """A coroutine per task and an asyncio.Queue per pair: a hand-off wakes a coroutine on the
    loop, with no system call and no thread."""
    boxes = [asyncio.Queue(maxsize=1) for _ in range(args.tasks)]

    async def link(i):
        started, value = time.monotonic(), 0
        for _ in range(args.laps):
            c = await boxes[i].get()
            value = (value + c) & contract.MASK
            following = contract.pass_on(args, c)
            if following is not None:
                await boxes[(i + 1) % args.tasks].put(following)
        return value, started, time.monotonic(), os.getpid(), threading.get_native_id(), 0

    tally.start = time.monotonic()
    tasks = [asyncio.ensure_future(link(i)) for i in range(args.tasks)]
    await boxes[0].put(0)
    for i, outcome in enumerate(await asyncio.gather(*tasks, return_exceptions=True)):
        tally.record(i, outcome)


async def main(args, tally, files):
    if args.workload == "brigade":
        return await brigade(args, tally)
    pool = cf.ProcessPoolExecutor() if args.offload else None
    if args.workload == "disk":
        asyncio.get_running_loop().set_default_executor(files)
    connections = await db.open_pool(args) if args.workload == "db" else None
    tally.start = time.monotonic()
    # The ticker first, so that it is waiting on its timer before any task can block the loop.
    pending = [None]  # the tick being waited for: if the run ends first, it still counts
    ticker = asyncio.ensure_future(pulse(tally, pending)) if args.workload == "cpu" else None
    tasks = [asyncio.ensure_future(one_task(i, args, pool, connections)) for i in range(args.tasks)]
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    if ticker is not None:
        ticker.cancel()
        if pending[0] is not None:
            now = time.monotonic()
            tally.loop_lag.append((now - pending[0]) * 1000)
            tally.ticks.append((pending[0], now))
    for i, outcome in enumerate(outcomes):
        tally.record(i, outcome)
    if pool is not None:
        pool.shutdown()
    if connections is not None:
        await connections.close()


def run(model, install_loop=None):
    args = contract.parse_args(model)
    if args.serve:
        import serve_asyncio
        return serve_asyncio.main(model, args, install_loop)
    files = cf.ThreadPoolExecutor(args.workers) if args.workload == "disk" else None
    threads = files._max_workers if files else 1
    at_once = min(threads, args.tasks) if files else args.tasks
    if args.workload == "db" and args.workers:
        at_once = min(args.workers, args.tasks)  # the pool's connections
    tally = contract.Tally(model, args, workers=threads, concurrency=at_once)
    if install_loop is not None:
        install_loop()
    asyncio.run(main(args, tally, files))
    tally.exit()


if __name__ == "__main__":
    run("py-asyncio")
