"""What every Python peer's server shares (`--serve`, CONTRACT.md "Serving"): the routes,
the response bytes, the tally and its report, and the stop on SIGINT/SIGTERM.

The blocking peers (py-serial, py-threads, py-processes) serve with the standard library's
http.server — the servers a Python programmer reaches for first; py-asyncio and py-uvloop
serve with an asyncio Protocol and httptools, as uvloop's own HTTP benchmark does.
"""
import errno
import json
import os
import select
import resource
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

import contract

MAX_HEAD = 8 * 1024
MAX_DELAY_MS = 60_000
MAX_WORK = 10_000_000
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 431: "Request Header Fields Too Large"}


def route(target):
    """The route of a request target: ("health",), ("query", id, delay_ms), ("cpu", id, work),
    or an error status (404 unknown path, 400 bad parameters)."""
    parts = urlsplit(target)
    query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}

    def number(name, default, most):
        text = query.get(name)
        bad = ValueError(f"{parts.path} needs {name}, a whole number from 0 to {most}")
        if text is None:
            if default is None:
                raise bad
            return default
        if not text.isdigit() or int(text) > most:
            raise bad
        return int(text)

    try:
        if parts.path == "/health":
            return ("health",)
        if parts.path == "/query":
            return ("query", number("id", None, 2**32 - 1), number("delay_ms", 0, MAX_DELAY_MS))
        if parts.path == "/cpu":
            return ("cpu", number("id", None, 2**32 - 1), number("work", 100_000, MAX_WORK))
    except ValueError as e:
        return Refusal(400, str(e))
    return 404


class Refusal(int):
    """A status other than 200 with the words of its answer's `error`: the parameter missing
    or wrong, as the contract asks."""

    def __new__(cls, status, why):
        refusal = super().__new__(cls, status)
        refusal.why = why
        return refusal


def body_of(status, id_=None, value=None):
    if status == 200 and id_ is None:
        return b'{"status":"ok"}'
    if status == 200:
        return b'{"id":%d,"value":%d}' % (id_, value)
    error = getattr(status, "why", None) or {404: "not found", 431: "header too large"}.get(status, "bad request")
    return json.dumps({"error": error}, separators=(",", ":")).encode()


def response(status, body, keep_alive, http10=False):
    connection = b"" if keep_alive and not http10 else (
        b"Connection: keep-alive\r\n" if keep_alive else b"Connection: close\r\n")
    return (b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n"
            % (status, REASONS[status].encode(), len(body), connection)) + body


class Tally:
    """Counts shared by a server's threads; `add` takes a forked child's counts."""

    def __init__(self, model, args):
        self.model, self.args = model, args
        self.connections = self.requests = self.rejected = self.errors = self.refused = 0
        self.bound = None  # the address listened on, port 0 resolved
        self.lock = threading.Lock()
        self.start = time.monotonic()
        self.last_named = 0.0

    def add(self, connections=0, requests=0, rejected=0, errors=0, refused=0):
        with self.lock:
            self.connections += connections
            self.requests += requests
            self.rejected += rejected
            self.errors += errors
            self.refused += refused

    def refuse(self, why):
        """A connection refused for a limit: counted, and named at most once a second."""
        self.add(refused=1)
        if time.monotonic() - self.last_named >= 1:
            self.last_named = time.monotonic()
            print(f"refusing connections: {why}", file=sys.stderr, flush=True)

    def exit(self, workers=1):
        me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        r = {
            "model": self.model, "serve": "%s:%d" % (self.bound or self.args.serve), "workers": workers,
            "offload": self.args.offload, "connections": self.connections,
            "requests": self.requests, "rejected": self.rejected, "errors": self.errors,
            "refused": self.refused,
            "wall_s": round(time.monotonic() - self.start, 6),
            "user_s": round(me.ru_utime + kids.ru_utime, 6), "sys_s": round(me.ru_stime + kids.ru_stime, 6),
            "max_rss_kib": me.ru_maxrss, "children_max_rss_kib": kids.ru_maxrss,
            "voluntary_ctx_switches": me.ru_nvcsw + kids.ru_nvcsw,
            "involuntary_ctx_switches": me.ru_nivcsw + kids.ru_nivcsw,
        }
        if self.args.json:
            print(json.dumps(r, separators=(",", ":")))
        else:
            print(f"{r['model']} · served {counted(r['requests'], 'request')} on "
                  f"{counted(r['connections'], 'connection')} · {r['rejected']} answered 4xx"
                  f" · {counted(r['errors'], 'error')} · {r['refused']} refused · {r['wall_s']:.3f} s"
                  f" · user {r['user_s']:.3f} s sys {r['sys_s']:.3f} s"
                  f" · peak RSS {r['max_rss_kib'] / 1024:.1f} MiB")
        sys.stdout.flush()
        sys.exit(0)


def counted(n, noun):
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def listening(sock, tally=None):
    host, port = sock.getsockname()[:2]
    if tally is not None:
        tally.bound = (host, port)
    print(f"listening on {host}:{port}", flush=True)


# ---- the blocking servers: http.server ------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    """One connection of an http.server server: keep-alive (HTTP/1.1), the contract's routes."""

    protocol_version = "HTTP/1.1"
    tally = None  # set by serve_blocking
    open_sockets = set()  # every connection being served, to cut idle ones at the stop
    stopping = threading.Event()
    server_pid = os.getpid()
    report_fd = None  # py-processes: where a forked child writes what it counted

    def setup(self):
        super().setup()
        Handler.open_sockets.add(self.connection)
        self.counts = [0, 0, 0]  # requests, rejected (4xx answers), errors

    def finish(self):
        Handler.open_sockets.discard(self.connection)
        try:
            super().finish()
        except OSError:
            self.counts[2] += 1
        if os.getpid() != Handler.server_pid and Handler.report_fd is not None:
            os.write(Handler.report_fd, b"%d %d %d\n" % tuple(self.counts))  # one atomic write
        else:
            self.tally.add(requests=self.counts[0], rejected=self.counts[1], errors=self.counts[2])

    def log_message(self, *_):
        pass  # no access log: the report counts

    def send_error(self, code, message=None, explain=None):
        # http.server's own errors (400 for a bad request line, 431 for too many headers):
        # the contract's body, then close.
        self.counts[1] += 1
        self.close_connection = True
        if code == 414:
            code = 431
        self._send(code if code in REASONS else 400, None, None)

    def _send(self, status, id_, value):
        keep = not self.close_connection and not self.stopping.is_set()
        http10 = self.request_version == "HTTP/1.0"
        self.wfile.write(response(status, body_of(status, id_, value), keep, http10))
        self.wfile.flush()
        self.close_connection = not keep

    def do_GET(self):
        head = len(self.raw_requestline) + sum(len(k) + len(v) + 4 for k, v in self.headers.items())
        if head > MAX_HEAD:
            self.close_connection = True
            self.counts[1] += 1
            return self._send(431, None, None)
        if self.headers.get("Content-Length", "0").strip() != "0" or "Transfer-Encoding" in self.headers:
            self.close_connection = True
            self.counts[1] += 1
            return self._send(400, None, None)
        r = route(self.path)
        if r == 404:
            self.counts[1] += 1
            return self._send(404, None, None)
        if r == 400:
            self.close_connection = True
            self.counts[1] += 1
            return self._send(r, None, None)  # r says which parameter
        self.counts[0] += 1
        if r[0] == "health":
            return self._send(200, None, None)
        if r[0] == "query":
            time.sleep(r[2] / 1000)
            return self._send(200, r[1], r[1] + 100)
        return self._send(200, r[1], contract.cpu_task(r[1], r[2]))

    def do_HEAD(self):
        self.send_error(400)

    do_POST = do_PUT = do_DELETE = do_HEAD


def stop_on_signals(asked):
    """At the first SIGINT or SIGTERM: cut the idle clients' reads and set `asked`. The handler
    only sets things (under gevent it runs in the hub, where nothing may block); the main
    thread does the stopping."""
    def handler(signum, frame):
        Handler.stopping.set()
        for sock in list(Handler.open_sockets):  # idle clients: their read ends at once
            try:
                sock.shutdown(socket.SHUT_RD)
            except OSError:
                pass
        if os.getpid() == Handler.server_pid:  # not in a forked child, which just finishes
            asked.set()
    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def cannot_listen(addr, err):
    """A bind that failed: one line in the Rust models' words, with what to do; exit 1."""
    host, port = addr
    advice = {
        errno.EADDRNOTAVAIL: f"{host} is not an address of this machine (`ip -brief address` "
                             "lists them; 127.0.0.1 or 0.0.0.0 always are)",
        errno.EACCES: f"port {port} is below 1024, which only root or a program with "
                      "CAP_NET_BIND_SERVICE may take (net.ipv4.ip_unprivileged_port_start); "
                      "pick a port from 1024 up",
        errno.EADDRINUSE: f"another program listens on port {port} (`ss -ltnp` names it): stop "
                          "it, or pick another port (0: any free one)",
    }.get(err.errno)
    reason = f"cannot listen on {host}:{port}: {os.strerror(err.errno or 0)} (os error {err.errno})"
    sys.stderr.write(f"Error: {reason}" + (f" — {advice}" if advice else "") + "\n")
    sys.exit(1)


def serve_blocking(model, server_class, args, workers=1):
    """Serve with an http.server `server_class` until SIGINT/SIGTERM, then report. Forked
    children (py-processes) send their counts over a pipe, read here as they come."""
    tally = Tally(model, args)
    read_fd, Handler.report_fd = os.pipe()

    def read_counts():
        # Waiting in select, not in read: gevent's select lets the other greenlets run
        # (py-gevent), where a read of a pipe would block its one thread.
        pending = b""
        while True:
            # (With a timeout: gevent's select does not always wake at the close of the
            # pipe's other end. Once it is closed, a quiet pipe has nothing more to say.)
            if not select.select([read_fd], [], [], 0.1)[0]:
                if closed.is_set():
                    break
                continue
            chunk = os.read(read_fd, 4096)
            if not chunk:
                break
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                requests, rejected, errors = map(int, line.split())
                tally.add(requests=requests, rejected=rejected, errors=errors)
        os.close(read_fd)
    closed = threading.Event()
    reader = threading.Thread(target=read_counts, daemon=True)
    reader.start()
    Handler.tally = tally
    Handler.timeout = args.timeout_ms / 1000  # a silent client is closed after this
    server_class.allow_reuse_address = True
    server_class.request_queue_size = 4096
    server_class.daemon_threads = False  # so that server_close waits for every connection
    try:
        server = server_class(args.serve, Handler)
    except OSError as e:
        cannot_listen(args.serve, e)
    accept = server.verify_request

    def verify_request(request, addr):  # socketserver's hook for each accepted connection
        tally.add(connections=1)
        return accept(request, addr)
    server.verify_request = verify_request

    def handle_error(request, addr):
        err = sys.exc_info()[1]
        if isinstance(err, RuntimeError) or getattr(err, "errno", None) == 11:  # thread, fork
            tally.refuse(f"{err} — limit to raise: `ulimit -u` (RLIMIT_NPROC), kernel.threads-max")
        else:
            tally.add(errors=1)
    server.handle_error = handle_error
    asked = threading.Event()
    stop_on_signals(asked)
    listening(server.socket, tally)
    tally.start = time.monotonic()
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    serving.start()
    while not asked.wait(0.5):
        pass
    server.shutdown()  # the accept loop ends; server_close waits for the connections
    for pid in list(getattr(server, "active_children", None) or ()):
        os.kill(pid, signal.SIGTERM)  # a forked child cuts its idle client and finishes
    serving.join()
    server.server_close()  # waits for connection threads, reaps forked children
    os.close(Handler.report_fd)
    closed.set()
    reader.join(5)
    tally.exit(workers)
