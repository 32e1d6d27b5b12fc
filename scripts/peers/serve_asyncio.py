"""py-asyncio and py-uvloop `--serve`: an asyncio Protocol with httptools' parser, the
setup of uvloop's own HTTP benchmark.

Each connection is a Protocol: `data_received` feeds the parser, each whole request goes on
the connection's queue, and one coroutine per connection answers them in order (so
pipelined answers cannot overtake each other): a `/query` delay is `asyncio.sleep`, a
`/cpu` hash runs on the loop — blocking every connection — or with `--offload` in a process
pool through `run_in_executor`. A head over 8 KiB gets 431, a parse error 400; a client
that has not sent a whole request `--timeout-ms` after its last answer is closed.
"""
import asyncio
import concurrent.futures as cf
import signal

import httptools

import contract
import serving


class Connection(asyncio.Protocol):
    def __init__(self, server):
        self.server = server
        self.parser = httptools.HttpRequestParser(self)
        self.queue = asyncio.Queue()
        self.head = 0  # bytes of the request head so far
        self.url = b""
        self.busy = False  # a request is being answered
        self.transport = None
        self.counts = [0, 0, 0]  # requests, rejected (4xx answers), errors

    # -- asyncio's callbacks --
    def connection_made(self, transport):
        self.transport = transport
        self.server.open.add(self)
        self.server.tally.add(connections=1)
        self.worker = asyncio.ensure_future(self.answer_in_order())
        self.deadline = asyncio.get_running_loop().call_later(self.server.timeout, self.too_slow)

    def data_received(self, data):
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self.queue.put_nowait((400, None))
        except httptools.HttpParserError:
            self.queue.put_nowait((431 if self.head > serving.MAX_HEAD else 400, None))
            self.transport.pause_reading()

    def eof_received(self):
        self.queue.put_nowait(None)  # answer what came, then close

    def connection_lost(self, exc):
        self.server.open.discard(self)
        self.deadline.cancel()
        self.queue.put_nowait(None)
        if exc is not None:
            self.counts[2] += 1

    # -- httptools' callbacks --
    def on_message_begin(self):
        self.head, self.url = 0, b""

    def on_url(self, url):
        self.url += url
        self.head += len(url)
        if self.head > serving.MAX_HEAD:
            raise httptools.HttpParserError("head too large")

    def on_header(self, name, value):
        self.head += len(name) + len(value) + 4
        if self.head > serving.MAX_HEAD:
            raise httptools.HttpParserError("head too large")

    def on_headers_complete(self):
        if self.parser.get_method() != b"GET":
            raise httptools.HttpParserError("not a GET")

    def on_message_complete(self):
        http10 = self.parser.get_http_version() == "1.0"
        self.queue.put_nowait((self.url.decode("latin-1"), (self.parser.should_keep_alive(), http10)))

    def too_slow(self):
        if not self.busy:
            if self.counts == [0, 0, 0]:
                self.counts[2] += 1
            self.transport.close()

    # -- the answers, one at a time --
    async def answer_in_order(self):
        loop = asyncio.get_running_loop()
        while True:
            item = await self.queue.get()
            if item is None:
                break
            self.busy = True
            self.deadline.cancel()
            target, framing = item
            if isinstance(target, int):  # a status: the request could not be framed
                self.counts[1] += 1
                self.transport.write(serving.response(target, serving.body_of(target), False))
                break
            keep, http10 = framing
            keep = keep and not self.server.stopping
            r = serving.route(target)
            if isinstance(r, int):
                self.counts[1] += 1
                keep = keep and r == 404
                self.transport.write(serving.response(r, serving.body_of(r), keep, http10))
            else:
                self.counts[0] += 1
                if r[0] == "health":
                    body = serving.body_of(200)
                elif r[0] == "query":
                    await asyncio.sleep(r[2] / 1000)
                    body = serving.body_of(200, r[1], r[1] + 100)
                elif self.server.pool is not None:
                    value = await loop.run_in_executor(self.server.pool, contract.cpu_task, r[1], r[2])
                    body = serving.body_of(200, r[1], value)
                else:
                    body = serving.body_of(200, r[1], contract.cpu_task(r[1], r[2]))
                self.transport.write(serving.response(200, body, keep, http10))
            self.busy = False
            if not keep or self.server.stopping:
                break
            self.deadline = loop.call_later(self.server.timeout, self.too_slow)
        self.deadline.cancel()
        self.transport.close()
        self.server.tally.add(requests=self.counts[0], rejected=self.counts[1], errors=self.counts[2])
        self.counts = [0, 0, 0]
        self.server.closed(self)


class Server:
    def __init__(self, model, args):
        self.tally = serving.Tally(model, args)
        self.timeout = args.timeout_ms / 1000
        self.pool = cf.ProcessPoolExecutor() if args.offload else None
        self.open, self.stopping, self.args = set(), False, args
        self.all_closed = None

    def closed(self, conn):
        self.open.discard(conn)
        if self.stopping and not self.open:
            self.all_closed.set()

    def stop(self):
        """SIGINT/SIGTERM: stop accepting; idle connections close now, busy ones after their answer."""
        self.stopping = True
        self.listener.close()
        for conn in list(self.open):
            if not conn.busy:
                conn.queue.put_nowait(None)
        if not self.open:
            self.all_closed.set()

    async def run(self):
        loop = asyncio.get_running_loop()
        self.all_closed = asyncio.Event()
        host, port = self.args.serve
        try:
            self.listener = await loop.create_server(lambda: Connection(self), host, port,
                                                     reuse_address=True, backlog=4096)
        except OSError as e:
            serving.cannot_listen((host, port), e)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stop)
        serving.listening(self.listener.sockets[0], self.tally)
        await self.all_closed.wait()
        if self.pool is not None:
            self.pool.shutdown()


def main(model, args, install_loop=None):
    if install_loop is not None:
        install_loop()
    server = Server(model, args)
    asyncio.run(server.run())
    server.tally.exit()
