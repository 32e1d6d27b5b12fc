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
    pool = cf.ProcessPoolExecutor(initializer=contract.die_with_parent) if args.offload else None
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


async def crawl_async(args, tally):
    """The 500-lines crawler's shape: a queue (the frontier) and W worker coroutines, on
    aiohttp with `limit` = W and `limit_per_host` = --per-host, kept alive. Parsing runs on
    the loop, between two of its waits: while a page parses, no socket is served."""
    import socket

    import aiohttp
    import yarl

    import crawl
    c = tally.crawl
    ready = asyncio.Condition()
    tally.start = time.monotonic()

    class Counted(socket.socket):
        """A socket that counts its closing (--per-host counts connections): asyncio closes
        it, uvloop detaches it and closes the descriptor itself."""

        def close(self):
            if self.fileno() != -1:
                c.churned(0, 1)
            super().close()

        def detach(self):
            c.churned(0, 1)
            return super().detach()

    def opened(info):
        family, kind, proto, _, _ = info
        sock = Counted(family=family, type=kind, proto=proto)
        c.churned(1, 0)
        return sock

    connector = aiohttp.TCPConnector(limit=c.most_in_flight, limit_per_host=args.per_host,
                                     socket_factory=opened)
    timeout = aiohttp.ClientTimeout(total=args.timeout_ms / 1000)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def fetch(url):
            deadline = time.monotonic() + args.timeout_ms / 1000
            try:
                async with session.get(yarl.URL(url, encoded=True), allow_redirects=False,
                                       headers={"User-Agent": "conclab"}) as r:
                    if (r.content_length or 0) > crawl.MAX_BODY:
                        return crawl.Failed("too_large", f"{url}: a body over {crawl.MAX_BODY} bytes")
                    body = await r.content.read(crawl.MAX_BODY + 1)
                    while len(body) <= crawl.MAX_BODY and (more := await r.content.read(crawl.MAX_BODY + 1 - len(body))):
                        body += more
                    if len(body) > crawl.MAX_BODY:
                        return crawl.Failed("too_large", f"{url}: a body over {crawl.MAX_BODY} bytes")
                    return crawl.answer(r.status, r.headers, body)
            except asyncio.TimeoutError:
                return crawl.Failed("timeout", f"{url}: timed out (--timeout-ms)")
            except aiohttp.ClientConnectorError as e:
                return crawl.fetch_failure(url, e.os_error, deadline)
            except aiohttp.ClientResponseError as e:
                return crawl.Failed("malformed", f"{url}: {e.message}")
            except (aiohttp.ClientError, OSError) as e:
                return crawl.fetch_failure(url, e.__cause__ or e, deadline)

        async def worker():
            while True:
                async with ready:
                    while True:
                        if c.is_over() or c.out_of:
                            ready.notify_all()
                            return
                        now = time.monotonic()
                        f = c.next(now)
                        if f is not None:
                            break
                        due = c.next_retry()
                        try:
                            await asyncio.wait_for(ready.wait(), None if due is None else max(due - now, 0.0005))
                        except asyncio.TimeoutError:
                            pass
                fetched = await fetch(f.url)
                async with ready:
                    c.finish(f, fetched)
                    ready.notify(max(c.waiting, 1))

        await asyncio.gather(*(worker() for _ in range(c.most_in_flight)))


def run(model, install_loop=None):
    args = contract.parse_args(model, needs={"db": "asyncpg", "crawl": "aiohttp",
                                             "serve": "httptools"})
    if args.serve:
        import serve_asyncio
        return serve_asyncio.main(model, args, install_loop)
    if args.workload == "crawl":
        import crawl
        most = args.workers or crawl.DEFAULT_WORKERS
        tally = contract.Tally(model, args, workers=1, concurrency=most)
        tally.crawl = crawl.Crawl(args, tally, most)
        if install_loop is not None:
            install_loop()
        asyncio.run(crawl_async(args, tally))
        tally.exit()
    if args.workload == "disk" and args.workers:
        contract.admit(args.workers, "threads")  # the file pool's, started as reads queue
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
