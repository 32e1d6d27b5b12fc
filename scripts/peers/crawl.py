"""The crawl workload for the Python peers (CONTRACT.md, "crawl"): the Rust models' own
workload::crawl, in Python, so that each peer adds only how it waits.

- Pages: a link resolved against its page (RFC 3986 §5, urllib.parse) and normalized as the
  contract says, its origin and its value; the links of a page found by html.parser, the
  standard library's HTML tokenizer, to which <script> and <style> are raw text and a
  comment is a comment — never by a pattern.
- Crawl: the frontier, sans I/O — a queue per origin (so an origin at its --per-host limit
  holds up no other), the seen set, the requests in flight, the retries waiting for their
  time, the figures. A peer asks it for the next Fetch it may start, does the I/O its own
  way, and tells it what came of it (an Answer, parsed where it was read, or a Failed).
- fetch(): one GET on a kept-alive connection of its origin's urllib3 pool, bounded as a
  whole by --timeout-ms and its body by MAX_BODY: what the blocking peers run.
- workers(): W workers (threads, or greenlets) sharing one Crawl behind a Condition — the
  article's queue and lock, used for real.
"""
import collections
import heapq
import html.parser
import os
import socket
import threading
import time
from urllib.parse import urljoin, urlsplit

DEFAULT_SEED = "http://127.0.0.1:7880/"
DEFAULT_WORKERS = 10
TASKS = 100_000  # --tasks unless given: the most URLs a crawl requests
MAX_BODY = 4 << 20
RETRIES = 2  # after the first request, for a 503 or a connection reset or closed early
RETRY_WAIT = 0.050  # without Retry-After
MOST_RETRY_WAIT = 1.0
MOST_HOPS = 5
MASK = (1 << 64) - 1
KINDS = ("timeout", "refused", "reset", "status", "too_large", "malformed", "redirects")


# ---- pages ------------------------------------------------------------------------------

def splitmix64(x):
    z = (x + 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & MASK
    return h


def value(url):
    """A page's value: splitmix64(fnv1a64(url)) over the normalized URL's bytes."""
    return splitmix64(fnv1a64(url.encode()))


def _encode(text, also):
    """Percent-encode what a URL may not hold as it is (the WHATWG URL sets, as the Rust
    models' url crate does): controls, space, non-ASCII, and `also`."""
    if text.isascii() and text.isprintable() and not any(c in also for c in text):
        return text
    out = []
    for c in text:
        if ord(c) <= 0x20 or ord(c) >= 0x7F or c in also:
            out.append("".join(f"%{b:02X}" for b in c.encode("utf-8", "surrogatepass")))
        else:
            out.append(c)
    return "".join(out)


def _without_dots(path):
    """RFC 3986 §5.2.4 on an absolute path: urljoin does it for relative links only."""
    segments = path.split("/")[1:]
    out = []
    for s in segments:
        if s == "..":
            if out:
                out.pop()
        elif s != ".":
            out.append(s)
    return "/" + "/".join(out) + ("/" if segments[-1] in (".", "..") and out else "")


def resolve(base, href):
    """`href` resolved against `base` and normalized — the fragment dropped, the scheme and
    host lower-cased, port 80 left out, an empty path `/`, the query kept — or None if it
    names no http:// page."""
    href = href.strip("\t\n\f\r \x00").replace("\t", "").replace("\n", "").replace("\r", "")
    try:
        parts = urlsplit(urljoin(base, href.replace("\\", "/")))
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname
    if parts.scheme.lower() != "http" or not host:
        return None
    host = f"[{host}]" if ":" in host else host
    user = parts.netloc.rpartition("@")[0]
    netloc = (f"{user}@" if user else "") + (host if port in (None, 80) else f"{host}:{port}")
    path = _encode(_without_dots(parts.path or "/"), '"<>`{}')
    query = f"?{_encode(parts.query, chr(34) + chr(39) + '<>')}" if parts.query else ""
    return f"http://{netloc}{path}{query}"


def origin(url):
    """`http://host[:port]` of a normalized URL."""
    return url[: url.find("/", len("http://"))]


class _Links(html.parser.HTMLParser):
    """The href of every <a>, its character references decoded (html.parser does that for
    attribute values); nothing in a comment, a <script> or a <style> (raw text to the
    tokenizer), nor in the elements whose text is not markup."""

    TEXT_ONLY = {"title", "textarea", "xmp", "iframe", "noembed", "noframes", "plaintext"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.hrefs, self.inside = [], None

    def handle_starttag(self, tag, attrs):
        if self.inside is None and tag in self.TEXT_ONLY:
            self.inside = tag
        elif self.inside is None and tag == "a":
            href = next((v for k, v in attrs if k == "href"), False)
            if href is not False:
                self.hrefs.append(href or "")

    def handle_endtag(self, tag):
        if tag == self.inside:
            self.inside = None


def links(body):
    parser = _Links()
    parser.feed(body.decode("utf-8", "replace"))
    parser.close()
    return parser.hrefs


# ---- what came of a request --------------------------------------------------------------

# A whole response, parsed where it was read: its head's figures, its body's length, and the
# hrefs of its links if it is a 200 HTML page.
Answer = collections.namedtuple("Answer", "status location retry_after bytes hrefs")
# No whole response: the kind (one of KINDS), the error as the peer met it, and the limit
# to raise when the machine ran out of something (which fails the crawl).
Failed = collections.namedtuple("Failed", "kind message limit", defaults=(None,))


def answer(status, headers, body):
    """An Answer from a response's status, its headers (get(name) → value or None) and body."""
    media = (headers.get("content-type") or "").split(";")[0].strip().lower()
    hrefs = links(body) if status == 200 and media == "text/html" else []
    after = (headers.get("retry-after") or "").strip()
    return Answer(status, headers.get("location"), int(after) if after.isdigit() else None,
                  len(body), hrefs)


def fetch_failure(url, err, deadline):
    """What an OSError (or a library's error wrapping one) means for the crawl."""
    errno = getattr(err, "errno", None)
    if errno in (23, 24):  # ENFILE, EMFILE
        return Failed("refused", f"{url}: {err}", "`ulimit -n` (RLIMIT_NOFILE)")
    if errno == 99:  # EADDRNOTAVAIL
        return Failed("refused", f"{url}: {err}", "the ephemeral ports: net.ipv4.ip_local_port_range")
    if isinstance(err, (TimeoutError, socket.timeout)) or time.monotonic() >= deadline:
        return Failed("timeout", f"{url}: timed out (--timeout-ms)")
    if isinstance(err, (ConnectionRefusedError, socket.gaierror)):
        return Failed("refused", f"{url}: connection refused")
    return Failed("reset", f"{url}: {err}")


# ---- the crawl, sans I/O --------------------------------------------------------------

# One request the crawl hands a peer: task `id` (the id-th URL requested), its URL, its
# origin's index, its try (0, then 1 and 2), the redirects that led to it, and when it was
# first requested (its latency counts from there).
Fetch = collections.namedtuple("Fetch", "id url origin attempt hops started")
# A URL found and waiting its turn; `retry` is (id, attempt, started) for a retry.
Waiting = collections.namedtuple("Waiting", "url hops retry")


def parse_scope(seeds, allow):
    """(seeds, origins) from --seed and --allow, or a ValueError saying which is not an
    http:// URL."""
    def http(flag, text):
        url = resolve(text, "") if urlsplit(text).scheme.lower() == "http" else None
        if url is None:
            raise ValueError(f"{flag}: {text!r} is not an http:// URL")
        return url
    seeds = [http("--seed", s) for s in seeds or [DEFAULT_SEED]]
    origins = [origin(s) for s in seeds] + [origin(http("--allow", a)) for a in allow or []]
    return seeds, list(dict.fromkeys(origins))


class Crawl:
    """The frontier and everything a crawler must agree on; the peer's tally records each
    URL's task as it ends."""

    def __init__(self, args, tally, most_in_flight):
        self.seeds, self.scope = args.scope
        self.tally = tally
        self.most_urls, self.most_in_flight, self.per_origin = args.tasks, most_in_flight, args.per_host
        self.origins, self.origin_of, self.queues, self.busy = [], {}, [], []
        self.turn = 0
        self.retries, self.retrying, self.sequence = [], {}, 0  # heap of (when, seq); seq → (origin, Waiting)
        self.seen = set()
        self.in_flight = self.open = self.requested = self.waiting = self.fresh = 0
        self.seed_answered = False
        self.latencies = []
        self.figures = {"pages": 0, "failures": {}, "retries": 0, "redirects": 0, "bytes": 0,
                        "links": 0, "unique": 0, "peak_frontier": 0, "peak_connections": 0,
                        "limited": False}
        self.out_of = None
        for seed in self.seeds:
            self._queue(seed, 0)
        self.seed_tasks = self.waiting

    def _queue(self, url, hops):
        name = origin(url)
        if name not in self.scope or url in self.seen:
            return
        if self.requested + self.fresh >= self.most_urls:  # past --tasks, a URL is not kept
            self.figures["limited"] = True
            return
        self.seen.add(url)
        if name not in self.origin_of:
            self.origin_of[name] = len(self.origins)
            self.origins.append(name)
            self.queues.append(collections.deque())
            self.busy.append(0)
        self.queues[self.origin_of[name]].append(Waiting(url, hops, None))
        self.waiting += 1
        self.fresh += 1
        self.figures["peak_frontier"] = max(self.figures["peak_frontier"], self.waiting)

    def next(self, now):
        """The next request that may start: under --workers in flight and --per-host at its
        origin; retries first, once their time has come."""
        # Due retries join their queues first, so that next_retry() is always still to come.
        while self.retries and self.retries[0][0] <= now:
            _, seq = heapq.heappop(self.retries)
            at, waiting = self.retrying.pop(seq)
            self.queues[at].appendleft(waiting)
            self.waiting += 1
        if self.in_flight >= self.most_in_flight:
            return None
        n = len(self.queues)
        for k in range(n):
            at = (self.turn + k) % n
            if self.busy[at] >= self.per_origin or not self.queues[at]:
                continue
            w = self.queues[at].popleft()
            self.turn = (at + 1) % n
            self.waiting -= 1
            self.in_flight += 1
            self.busy[at] += 1
            if w.retry is None:
                self.fresh -= 1
                self.requested += 1
                return Fetch(self.requested - 1, w.url, at, 0, w.hops, now)
            return Fetch(w.retry[0], w.url, at, w.retry[1], w.hops, w.retry[2])
        return None

    def next_retry(self):
        """When the earliest retry waiting may start, if one waits."""
        return self.retries[0][0] if self.retries else None

    def is_over(self):
        return self.waiting == 0 and not self.retrying and self.in_flight == 0

    def churned(self, opened, closed):
        """Connections opened and closed: --per-host counts connections."""
        self.open += opened
        self.figures["peak_connections"] = max(self.figures["peak_connections"], self.open)
        self.open -= closed

    def finish(self, fetch, fetched, runner=None):
        """`fetch` is over with `fetched` (an Answer or a Failed), run by `runner` (pid,
        thread): a page and its links queued, a redirect, a retry, or a failure by kind."""
        now = time.monotonic()
        self.in_flight -= 1
        self.busy[fetch.origin] -= 1
        if fetch.id < self.seed_tasks and isinstance(fetched, Answer):
            self.seed_answered = True
        if isinstance(fetched, Failed):
            if fetched.kind == "reset" and fetch.attempt < RETRIES:
                return self._retry(fetch, RETRY_WAIT, now)
            return self._failed(fetch, fetched, now, runner)
        self.figures["bytes"] += fetched.bytes
        status = fetched.status
        if status == 200:
            for href in fetched.hrefs:
                self.figures["links"] += 1
                url = resolve(fetch.url, href)
                if url is not None:
                    self._queue(url, 0)
            self.figures["pages"] += 1
            self._over(fetch, now, value(fetch.url), runner)
        elif status == 503 and fetch.attempt < RETRIES:
            asked = fetched.retry_after
            self._retry(fetch, RETRY_WAIT if asked is None else min(asked, MOST_RETRY_WAIT), now)
        elif status in (301, 302, 307, 308) and fetched.location is not None:
            if fetch.hops >= MOST_HOPS:
                why = Failed("redirects", f"{fetch.url}: more than {MOST_HOPS} redirects")
                return self._failed(fetch, why, now, runner)
            url = resolve(fetch.url, fetched.location)
            if url is not None:
                self._queue(url, fetch.hops + 1)
            self.figures["redirects"] += 1
            self.latencies.append((now - fetch.started) * 1000)
        else:
            self._failed(fetch, Failed("status", f"{fetch.url}: HTTP {status}"), now, runner)

    def _retry(self, fetch, wait, now):
        self.figures["retries"] += 1
        self.sequence += 1
        self.retrying[self.sequence] = (fetch.origin, Waiting(fetch.url, fetch.hops,
                                                              (fetch.id, fetch.attempt + 1, fetch.started)))
        heapq.heappush(self.retries, (now + wait, self.sequence))

    def _failed(self, fetch, failed, now, runner):
        failures = self.figures["failures"]
        failures[failed.kind] = failures.get(failed.kind, 0) + 1
        message = failed.message + (f" — limit to raise: {failed.limit}" if failed.limit else "")
        if failed.limit and self.out_of is None:
            self.out_of = message
        self._over(fetch, now, TaskError(message), runner)

    def _over(self, fetch, now, outcome, runner):
        """The URL's task is over: its latency from its first request, into the tally."""
        self.latencies.append((now - fetch.started) * 1000)
        if not isinstance(outcome, Exception):
            pid, thread = runner or (os.getpid(), threading.get_native_id())
            outcome = (outcome, fetch.started, now, pid, thread, 0)
        self.tally.record(fetch.id, outcome)

    def report(self, wall, percentiles):
        """The report's `crawl` figures."""
        figures = dict(self.figures, unique=len(self.seen), pages_per_s=self.figures["pages"] / max(wall, 1e-9),
                       latency_ms=percentiles(self.latencies))
        figures["failures"] = {k: figures["failures"][k] for k in KINDS if k in figures["failures"]}
        return figures

    def fatal(self, first_error):
        """What failed the crawl itself, if anything did: the machine ran out of something,
        or no seed got an answer."""
        if self.out_of:
            return self.out_of
        if not self.seed_answered and self.requested > 0:
            return f"no seed answered: {first_error}"
        return None


class TaskError(Exception):
    pass


# ---- a fetch on urllib3, for the blocking peers -----------------------------------------

_churn = threading.local()  # connections opened and closed by this thread's current fetch


def _counted_connection():
    import urllib3.connection

    class Counted(urllib3.connection.HTTPConnection):
        """A connection that counts its opening and its closing, for --per-host."""

        def connect(self):
            super().connect()
            self._counted = True
            _churn.opened = getattr(_churn, "opened", 0) + 1

        def close(self):
            if getattr(self, "_counted", False):
                self._counted = False
                _churn.closed = getattr(_churn, "closed", 0) + 1
            super().close()
    return Counted


class Pools:
    """A urllib3 HTTPConnectionPool per origin, of `size` kept-alive connections; with
    `one`, at most one pool open at a time (a process that fetches for every origin in turn
    keeps one connection, to the origin of its last URL)."""

    def __init__(self, size, one=False):
        import urllib3
        self.urllib3, self.size, self.one = urllib3, size, one
        self.connection = _counted_connection()
        self.by_origin = {}
        self.lock = threading.Lock()

    def of(self, name):
        with self.lock:
            if self.one:
                for other in [o for o in self.by_origin if o != name]:
                    self.by_origin.pop(other).close()
            pool = self.by_origin.get(name)
            if pool is None:
                at = urlsplit(name)
                pool = self.urllib3.HTTPConnectionPool(at.hostname, at.port or 80,
                                                       maxsize=self.size, block=False)
                pool.ConnectionCls = self.connection
                self.by_origin[name] = pool
            return pool


def fetch(url, pools, timeout_s):
    """One GET of `url` (normalized) on its origin's pool, within `timeout_s` in all, parsed
    here: (an Answer or a Failed, (connections opened, closed))."""
    u3 = pools.urllib3
    _churn.opened = _churn.closed = 0
    deadline = time.monotonic() + timeout_s
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    r, read = None, False
    try:
        r = pools.of(origin(url)).urlopen(
            "GET", target, headers={"User-Agent": "conclab", "Accept": "*/*"}, retries=False,
            redirect=False, preload_content=False, release_conn=False, assert_same_host=False,
            timeout=u3.Timeout(connect=timeout_s, read=timeout_s))
        length = r.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > MAX_BODY:
            raise _TooLarge()
        body = bytearray()
        while True:
            # The whole answer is bounded, not each read: a host that drips a byte at a
            # time never lets a read time out.
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError()
            if r.connection is not None and r.connection.sock is not None:
                r.connection.sock.settimeout(left)
            chunk = r.read1(65536)
            if not chunk:
                break
            body += chunk
            if len(body) > MAX_BODY:
                raise _TooLarge()
        fetched = answer(r.status, r.headers, bytes(body))
        read = True
        r.release_conn()
    except _TooLarge:
        fetched = Failed("too_large", f"{url}: a body over {MAX_BODY} bytes")
    except u3.exceptions.NewConnectionError as e:
        fetched = fetch_failure(url, e.__context__ or e, deadline)
    except (u3.exceptions.TimeoutError, TimeoutError, socket.timeout):
        fetched = Failed("timeout", f"{url}: timed out (--timeout-ms)")
    except u3.exceptions.ProtocolError as e:
        cause = e.args[1] if len(e.args) > 1 else e
        if isinstance(cause, ConnectionError) or "IncompleteRead" in type(cause).__name__:
            fetched = fetch_failure(url, cause, deadline)
        else:
            fetched = Failed("malformed", f"{url}: {cause}")
    except (u3.exceptions.HTTPError, OSError) as e:
        fetched = fetch_failure(url, e, deadline)
    finally:
        if r is not None and not read:
            r.close()  # an answer left unread: its connection cannot carry another
            r.release_conn()
    return fetched, (_churn.opened, _churn.closed)


class _TooLarge(Exception):
    pass


def thread(fn):
    """`fn` on a thread of its own: a worker of py-threads."""
    t = threading.Thread(target=fn, daemon=True)
    t.start()
    return t


class Inline:
    """`fn` run to its end on the calling thread: the one worker of py-serial."""

    def __init__(self, fn):
        fn()

    def join(self):
        pass


def run_blocking(model, args, contract, count, spawn):
    """The blocking peers' crawl: `count` workers started with `spawn`, fetching on urllib3
    pools of --per-host connections an origin, shared; then the report, and exit."""
    tally = contract.Tally(model, args, workers=count, concurrency=count)
    tally.crawl = Crawl(args, tally, count)
    pools = Pools(args.per_host)
    workers(tally.crawl, count, spawn, lambda f: fetch(f.url, pools, args.timeout_ms / 1000))
    tally.exit()


def workers(crawl, count, spawn, work):
    """`count` workers started with `spawn(fn)` → a handle with join(), sharing `crawl`
    behind one Condition: each takes the next fetch, runs `work(fetch)` → (fetched, churn)
    unlocked, and gives back what came of it. A worker that cannot be started fails the
    crawl with the limit named; those started finish it."""
    ready = threading.Condition()

    def worker():
        while True:
            with ready:
                while True:
                    if crawl.is_over():
                        ready.notify_all()
                        return
                    now = time.monotonic()
                    f = crawl.next(now)
                    if f is not None:
                        break
                    due = crawl.next_retry()
                    ready.wait(None if due is None else max(due - now, 0.0005))
            fetched, churn = work(f)
            with ready:
                crawl.churned(*churn)
                crawl.finish(f, fetched)
                ready.notify(max(crawl.waiting, 1))

    started = []
    for n in range(count):
        try:
            started.append(spawn(worker))
        except RuntimeError as e:  # "can't start new thread"
            with ready:
                crawl.out_of = crawl.out_of or (f"after {n} threads: {e} — limit to raise: "
                                                "`ulimit -u`, kernel.threads-max, vm.max_map_count")
            break
    for w in started:
        w.join()
