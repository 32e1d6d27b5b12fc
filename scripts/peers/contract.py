"""What every Python peer shares: the contract's command line, its tasks, and its report.

The peers are the article's own models (a loop, ProcessPoolExecutor, ThreadPoolExecutor,
asyncio, asyncio + uvloop), written to speak CONTRACT.md (at the repository root) exactly like the Rust
binaries, so one harness runs both and their checksums must agree. Each peer file holds
only its model's mechanism; everything else is here.
"""
import argparse
import array
import hashlib
import importlib.util
import json
import math
import mmap
import os
import platform
import resource
import socket
import stat
import sys
import threading
import time
import tomllib

import crawl
import db

WORKLOADS = ("sleep", "http", "cpu", "disk", "brigade", "db", "crawl")
MASK = (1 << 64) - 1


class ContractParser(argparse.ArgumentParser):
    """argparse, but failing the contract's way: `Error: <reason>`, the usage, exit 2."""

    def error(self, message):
        # An argument with an `@` that argparse echoes ("unrecognized arguments: ...") may
        # hold a password: it is shown masked.
        for arg in sys.argv[1:]:
            if "@" in arg:
                message = message.replace(arg, db.mask(arg))
        sys.stderr.write(f"Error: {message}\n\n{self.format_usage()}")
        sys.exit(2)


MOST_MS = 86_400_000  # --ms and --timeout-ms: at most a day, as the Rust models take them
# --workers: at most PID_MAX_LIMIT, the most threads or processes Linux can run, whatever its
# settings; a pool larger is bad input, not a limit to raise.
MOST_WORKERS = 4_194_304


def _count(minimum, most=None, what=""):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not a whole number")
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is below {minimum}")
        if most is not None and value > most:
            raise argparse.ArgumentTypeError(f"{value} is above {most}{what}")
        return value
    return parse


def _addr(text):
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"'{text}' is not HOST:PORT")
    return host, int(port)


def _size(text):
    """A size in bytes, with an optional K, M or G (powers of 1024); a multiple of 4096."""
    units = {"": 0, "K": 10, "M": 20, "G": 30, "T": 40}
    number = text.upper().removesuffix("IB").removesuffix("B")
    unit = number[-1:] if number[-1:] in "KMGT" else ""
    digits = number[: len(number) - len(unit)]
    if not digits.isdigit():
        raise argparse.ArgumentTypeError(f"'{text}' is not a size (say 4096, 64M or 1G)")
    size = int(digits) << units[unit]
    if size == 0 or size % 4096:
        raise argparse.ArgumentTypeError(f"{size} bytes is not a positive multiple of 4096")
    return size


# Where each flag that belongs to one mode belongs: (applies to a run of this workload, to
# --serve, and the words of the refusal). The rules are the Rust models' (CONTRACT.md).
BELONGS = {
    "tasks": (lambda w: True, False, "to running tasks"),
    "workload": (lambda w: True, False, "to running tasks"),
    "timeline": (lambda w: True, False, "to running tasks: it records each task's span"),
    "verbose": (lambda w: True, False, "to running tasks: it names each finished task"),
    "ms": (lambda w: w in ("sleep", "http", "db"), False, "to the sleep, http and db workloads"),
    "work": (lambda w: w == "cpu", False, "to the cpu workload (a server's /cpu takes work=K)"),
    "addr": (lambda w: w == "http", False, "to the http workload"),
    "timeout_ms": (lambda w: w in ("http", "db", "crawl"), True,
                   "to the http, db and crawl workloads and --serve"),
    "offload": (lambda w: w == "cpu", True, "to the cpu workload and --serve"),
    **{f: (lambda w: w == "disk", False, "to the disk workload")
       for f in ("file", "file_size", "bytes", "buffered")},
    "write": (lambda w: w in ("disk", "db"), False, "to the disk and db workloads"),
    **{f: (lambda w: w == "db", False, "to the db workload") for f in ("db_url", "rows")},
    "laps": (lambda w: w == "brigade", False, "to the brigade workload"),
    **{f: (lambda w: w == "crawl", False, "to the crawl workload") for f in ("seed", "allow", "per_host")},
}
DEFAULTS = {"workload": "sleep", "tasks": 10, "ms": 1000, "work": 100000, "addr": ("127.0.0.1", 7878),
            "timeout_ms": 30000, "offload": False, "verbose": False, "bytes": 4096, "laps": 100,
            "buffered": False, "write": False, "rows": 100_000, "per_host": 6}


ROSTER = os.environ.get("CONCLAB_ROSTER") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "roster.toml")


def entry(model):
    """The peer's entry in roster.toml (or the file CONCLAB_ROSTER names): the one place that
    says which workloads it runs and which knobs it takes."""
    with open(ROSTER, "rb") as f:
        programs = tomllib.load(f)["program"]
    found = next((p for p in programs if p["id"] == model), None)
    if found is None:
        sys.exit(f"Error: {model} has no [[program]] entry in {ROSTER}: add one (README, "
                 "\"Adding a model or a peer\")")
    return found


# The packages beyond the standard library a blocking peer needs, by what it is asked to do;
# an asyncio peer passes its own (`parse_args(needs=…)`).
BLOCKING_NEEDS = {"db": "psycopg", "crawl": "urllib3"}


def parse_args(model, needs=BLOCKING_NEEDS):
    """The contract's command line, with the knobs `model`'s roster.toml entry declares:
    --workers sizes its pool ("tasks"), or on disk the pool that reads files ("disk": an event
    loop's executor); --offload hands cpu tasks to a pool. A flag that does not apply to the
    mode chosen is refused, and nothing is written until every argument is accepted."""
    knobs = entry(model)
    sized = knobs.get("workers", [])
    has_pool, caps_disk = "tasks" in sized, "disk" in sized
    can_offload = "offload" in knobs.get("flags", [])
    runs = knobs.get("workloads", list(WORKLOADS))  # left out: every one
    serves = "serve" in knobs.get("flags", [])
    p = ContractParser(prog=model, description=f"{model}: a conclab Python peer")
    runtime = f"{platform.python_implementation()} {platform.python_version()}"
    p.add_argument("--version", action="version", version=f"{model} ({runtime})")
    p.add_argument("--workload", choices=WORKLOADS, default=None)
    p.add_argument("--tasks", type=_count(1), default=None)
    p.add_argument("--ms", type=_count(0, MOST_MS, " (a day)"), default=None)
    p.add_argument("--work", type=_count(0), default=None)
    p.add_argument("--addr", type=_addr, default=None)
    p.add_argument("--workers", type=_count(
        1, MOST_WORKERS, " (PID_MAX_LIMIT, the most threads or processes Linux can run)"),
        default=None)
    p.add_argument("--offload", action="store_true", default=None)
    p.add_argument("--timeout-ms", type=_count(1, MOST_MS, " (a day)"), default=None)
    p.add_argument("--file", default=None)
    p.add_argument("--file-size", type=_size, default=None)
    p.add_argument("--bytes", type=_size, default=None)
    p.add_argument("--buffered", action="store_true", default=None)
    p.add_argument("--write", action="store_true", default=None)
    p.add_argument("--laps", type=_count(1), default=None)
    p.add_argument("--db-url", default=None)
    p.add_argument("--rows", type=_count(1), default=None)
    p.add_argument("--seed", action="append", default=None)
    p.add_argument("--allow", action="append", default=None)
    p.add_argument("--per-host", type=_count(1), default=None)
    p.add_argument("--serve", type=_addr, default=None)
    p.add_argument("--timeline", default=None)
    p.add_argument("--json", action="store_true")
    p.add_argument("--verbose", action="store_true", default=None)
    args = p.parse_args()
    workload = args.workload or "sleep"
    # What the roster entry does not declare is refused as bad input, before anything is
    # written: a partial peer says what it does take.
    if args.serve and not serves:
        p.error(f"--serve: {model} does not serve (its roster.toml entry has no \"serve\" flag)")
    if not args.serve and workload not in runs:
        p.error(f"--workload {workload}: {model} runs {', '.join(runs)} (its roster.toml entry)")
    for flag, (fits, serving, belongs) in BELONGS.items():
        if getattr(args, flag) is None:
            continue
        if not (serving if args.serve else fits(workload)):
            mode = "--serve" if args.serve else f"the {workload} workload"
            p.error(f"--{flag.replace('_', '-')} does not apply to {mode}: it belongs {belongs}")
    if workload == "crawl" and args.tasks is None:
        args.tasks = crawl.TASKS
    for flag, value in DEFAULTS.items():
        if getattr(args, flag) is None:
            setattr(args, flag, value)
    if args.bytes > 1 << 30:
        p.error(f"argument --bytes: {args.bytes} is over 1 GiB")
    disk = args.workload == "disk" and not args.serve
    if args.workers is not None and args.workload == "brigade" and not args.serve:
        p.error("--workers does not apply to the brigade: every task of the ring runs at once")
    # On db --workers is a pool of connections, in every model.
    on_db = args.workload == "db" and not args.serve
    on_crawl = args.workload == "crawl" and not args.serve
    sizes_crawl = on_crawl and "crawl" in sized
    if args.workers is not None and not has_pool and not (disk and caps_disk) and not on_db \
            and not sizes_crawl:
        p.error(f"--workers: {model} has no pool")
    if args.workers is not None and not args.serve:
        args.workers = min(args.workers, args.tasks)  # never more workers than tasks to run
    if args.offload and not can_offload:
        p.error(f"--offload: {model} has no event loop to offload from")
    if on_db and args.rows > 2**31 - 1:
        p.error(f"argument --rows: {args.rows} is above {2**31 - 1} (items.id is an int)")
    if on_db:
        try:  # checked by hand, not by argparse, whose error would quote the password
            args.db = db.parse_url(args.db_url or db.default_url())
        except ValueError as e:
            p.error(f"--db-url: {e}")
    if on_crawl:
        try:
            args.scope = crawl.parse_scope(args.seed, args.allow)
        except ValueError as e:
            p.error(str(e))
    package = needs.get("serve" if args.serve else args.workload)
    if package is not None and importlib.util.find_spec(package) is None:
        sys.exit(f"Error: {model} needs the Python package {package} for "
                 f"{'--serve' if args.serve else 'the ' + args.workload + ' workload'}, and "
                 "it is not installed: `make peers` installs it into .venv/")
    if on_db and args.workers and model != "py-processes":  # whose workers hold their own
        admit(args.workers, "connections")
    if not args.serve:  # a server stops on its own terms: "serving.py"
        _die_on_signals()
    if args.timeline is not None:
        try:
            open(args.timeline, "w").close()  # a path that cannot be written is bad input
        except OSError as e:
            p.error(f"--timeline: cannot write {args.timeline}: {e.strerror}")
    return args


def filesystem_of(path):
    """The type of the filesystem `path` is on, as the kernel names it ("ext4", "tmpfs"):
    the mount in /proc/self/mountinfo whose point is the longest prefix of the path."""
    path, best = os.path.realpath(path), (-1, None)
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                point = line.split(" ")[4].replace("\\040", " ")
                kind = line.split(" - ")[1].split(" ")[0]
                inside = path == point or path.startswith(point.rstrip("/") + "/")
                if inside and len(point) >= best[0]:
                    best = (len(point), kind)
    except (OSError, IndexError):
        pass
    return best[1]


# ---- signals ---------------------------------------------------------------------------

def _die_on_signals():
    """Ctrl-C or SIGTERM ends a run at once, as it ends a Rust model: the program dies of that
    signal (a shell says 130 or 143), with no traceback, no report, and nothing in flight or
    queued left to finish — Python's own KeyboardInterrupt would unwind the main thread and
    then wait for every pool thread to drain its queue. A pool's processes die with it
    (`die_with_parent`). Installed with the real `signal.signal`, under gevent too, so that
    the handler runs on the main thread and not when the hub gets round to it."""
    import signal
    install = signal.signal
    if "gevent" in sys.modules:
        from gevent import monkey
        install = monkey.get_original("signal", "signal")

    def die(signum, _frame):
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        install(signum, die)


def die_with_parent():
    """Called in a forked child (a pool's worker): the kernel kills it when its parent dies,
    whatever the parent died of, so that no worker is left re-parented to init and working
    (PR_SET_PDEATHSIG, as crates/process-pool does for `procs`)."""
    import ctypes
    import signal
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_PDEATHSIG = 1
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent or parent == 1:  # the parent died before prctl took hold
        os._exit(1)


# ---- the limits a pool is checked against --------------------------------------------

def _read_number(path):
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def admit(workers, kind):
    """Refuse, before the first starts, a pool of `workers` threads, processes or db
    connections (`kind`) that would cross a limit of the machine: exit 1, naming the limit
    and what to raise it to, as the Rust models do (crates/workload/src/limits.rs). A thread
    of CPython's takes two mappings (its stack and guard page) and a task id; a process, a
    task id; a connection, a descriptor."""
    running = None
    try:
        with open("/proc/loadavg") as f:
            running = int(f.read().split()[3].split("/")[1])
    except (OSError, ValueError, IndexError):
        pass
    limits = []  # (room, name and use, in use, per worker)
    if kind == "connections":  # a descriptor each, under the soft RLIMIT_NOFILE
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        open_now = len(os.listdir("/proc/self/fd")) + 64  # and a margin for its own files
        if soft != resource.RLIM_INFINITY:
            limits.append((soft - open_now, f"RLIMIT_NOFILE (`ulimit -n` = {soft}; "
                           f"{open_now - 64} descriptors open)", open_now, 1))
    if kind == "threads":
        most = _read_number("/proc/sys/vm/max_map_count")
        if most is not None:
            with open("/proc/self/maps") as f:
                in_use = sum(1 for _ in f) + 1024  # and a margin for malloc's own
            limits.append(((most - in_use) // 2, f"vm.max_map_count ({most}; "
                           f"{in_use - 1024} mappings in use, 2 per thread)", in_use, 2))
    for path, name in (("/proc/sys/kernel/threads-max", "kernel.threads-max"),
                       ("/proc/sys/kernel/pid_max", "kernel.pid_max")):
        if kind == "connections":
            break
        most = _read_number(path)
        if most is not None and running is not None:
            limits.append((most - running, f"{name} ({most}; {running} threads in use "
                           "system-wide)", running, 1))
    soft, _ = resource.getrlimit(resource.RLIMIT_NPROC)
    if kind != "connections" and soft != resource.RLIM_INFINITY and os.geteuid() != 0:
        mine = _threads_of(os.getuid())
        limits.append((soft - mine, f"RLIMIT_NPROC (`ulimit -u` = {soft}; {mine} of this "
                       "user's threads in use)", mine, 1))
    if not limits:
        return
    room, limit, in_use, per = min(limits)
    if workers > room:
        what = "db connections" if kind == "connections" else f"worker {kind}"
        print(f"Error: {workers} {what} (--workers) cannot start: {max(room, 0)} more fit "
              f"under the limit — limit to raise: {limit}, to at least {in_use + workers * per}",
              file=sys.stderr)
        sys.exit(1)


def _threads_of(uid):
    """Threads alive of processes whose real user is `uid`: what RLIMIT_NPROC counts."""
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
            if int(fields["Uid"].split()[0]) == uid:
                total += int(fields["Threads"])
        except (OSError, KeyError, ValueError):
            pass
    return total


# ---- the tasks -------------------------------------------------------------------------

def sleep_task(i, ms):
    time.sleep(ms / 1000)
    return i + 100


def cpu_task(i, rounds):
    h = i.to_bytes(8, "big")
    for _ in range(rounds):
        h = hashlib.sha256(h).digest()
    return int.from_bytes(h[:8], "big")


class TaskError(Exception):
    pass


def request_bytes(addr, i, ms):
    host, port = addr
    return (f"GET /query?id={i}&delay_ms={ms} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Connection: close\r\n\r\n").encode()


TRUNCATED = "truncated response: the connection closed before it was complete"
MAX_BODY = 64 * 1024


def parse_response(data):
    """The value in a complete response read to EOF (the request asked for Connection: close).

    The body may be framed by Content-Length, by Transfer-Encoding: chunked, or by the close,
    as RFC 9112 allows; the rules are the Rust models' (CONTRACT.md, "Task i")."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        raise TaskError(TRUNCATED)
    status = head.split(b"\r\n", 1)[0].split(b" ")
    if len(status) < 2 or not status[0].startswith(b"HTTP/1."):
        raise TaskError("malformed response")
    if status[1].startswith(b"1") and status[1] != b"101":
        return parse_response(body)  # an interim response; the real one follows
    if status[1] != b"200":
        raise TaskError(f"the service answered {status[1].decode(errors='replace')}")
    fields = [line.partition(b":") for line in head.split(b"\r\n")[1:]]
    headers = {}
    for name, _, value in fields:
        headers.setdefault(name.strip().lower(), []).append(value.strip().lower())
    if b"transfer-encoding" in headers:
        if headers[b"transfer-encoding"] != [b"chunked"]:
            raise TaskError("malformed response: transfer coding was not asked for")
        body = dechunk(body)
    elif b"content-length" in headers:
        try:
            length = int(headers[b"content-length"][0])
        except ValueError:
            raise TaskError("malformed response: bad Content-Length") from None
        if len(body) < length:
            raise TaskError(TRUNCATED)
        body = body[:length]
    try:
        return int(json.loads(body)["value"])
    except (ValueError, KeyError, TypeError):
        raise TaskError("malformed response body")


def dechunk(data):
    """The body of a chunked message: hex sizes, extensions ignored, trailers skipped."""
    body, at = b"", 0
    while True:
        end = data.find(b"\r\n", at)
        if end < 0:
            raise TaskError("truncated response: the connection closed before the last chunk")
        try:
            size = int(data[at:end].split(b";")[0].strip(), 16)
        except ValueError:
            raise TaskError("malformed response: bad chunk size") from None
        if size < 0 or len(body) + size > MAX_BODY:
            raise TaskError(f"malformed response: body over the {MAX_BODY}-byte bound")
        at = end + 2
        if size == 0:
            # The empty line after the last chunk (and after any trailers) ends the message.
            if data.find(b"\r\n\r\n", at - 2) < 0:
                raise TaskError("truncated response: the connection closed before the last chunk")
            return body
        if len(data) < at + size + 2:
            raise TaskError("truncated response: the connection closed before the last chunk")
        if data[at + size:at + size + 2] != b"\r\n":
            raise TaskError("malformed response: a chunk's data is not followed by CRLF")
        body += data[at:at + size]
        at += size + 2


def io_failure(addr, err):
    if isinstance(err, ConnectionRefusedError):
        return TaskError(f"connection refused to {addr[0]}:{addr[1]} "
                         "(is the service running? `make service`)")
    if isinstance(err, (socket.timeout, TimeoutError)):
        return TaskError("the request timed out")
    if isinstance(err, OSError) and err.errno in (24, 23):
        return TaskError(f"{err} — limit to raise: RLIMIT_NOFILE (`ulimit -n`)")
    return TaskError(f"{addr[0]}:{addr[1]}: {err}")


def http_task(i, ms, addr, timeout_ms):
    """One GET on a fresh blocking socket, bounded by the timeout as a whole."""
    deadline = time.monotonic() + timeout_ms / 1000
    try:
        with socket.create_connection(addr, timeout=timeout_ms / 1000) as s:
            s.sendall(request_bytes(addr, i, ms))
            chunks = []
            while True:
                s.settimeout(max(deadline - time.monotonic(), 0.001))
                chunk = s.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
    except OSError as err:
        raise io_failure(addr, err) from None
    return parse_response(b"".join(chunks))


# ---- brigade: the ring (CONTRACT.md, "Task i") -----------------------------------------------

def pass_on(args, c):
    """What to hand the next task after receiving counter c: c + 1, or None after the last."""
    return c + 1 if c + 1 < args.tasks * args.laps else None


def brigade_link(args, i, receive, send):
    """Task i of the ring, with blocking `receive()` and `send(c)`: --laps tokens, each
    passed on plus one but the very last; its value is the sum of what it received.
    Returns run_blocking's tuple."""
    started, value = time.monotonic(), 0
    for _ in range(args.laps):
        c = receive()
        value = (value + c) & MASK
        following = pass_on(args, c)
        if following is not None:
            send(following)
    return value, started, time.monotonic(), os.getpid(), threading.get_native_id(), _self_rss_kib()


def token_pipes(n):
    """A pipe per task, as (read, write) descriptors; at the descriptor limit, the error names it."""
    try:
        return [os.pipe() for _ in range(n)]
    except OSError as e:
        raise TaskError(f"pipe for the ring: {e.strerror} — limit to raise: RLIMIT_NOFILE (`ulimit -n`)") from None


def pipe_receive(fd):
    data = b""
    while len(data) < 8:
        chunk = os.read(fd, 8 - len(data))
        if not chunk:
            raise TaskError("the ring broke: a pipe closed")
        data += chunk
    return int.from_bytes(data, "little")


def pipe_send(fd, c):
    os.write(fd, c.to_bytes(8, "little"))


# ---- disk: the data file (CONTRACT.md, "Task i") ---------------------------------------------

def splitmix64(x):
    z = (x + 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def _words(first, count):
    return b"".join(splitmix64(k).to_bytes(8, "little") for k in range(first, first + count))


def data_file_path(args):
    return args.file or f"data/disk-{args.file_size or 1 << 30}.bin"


def _create_data_file(path, size):
    """Every word from the definition, into a temporary file renamed into place once whole.
    Pure Python makes about 8 MiB a second: the Rust models make the default file faster."""
    if path == f"data/disk-{size}.bin":
        os.makedirs("data", exist_ok=True)
    print(f"creating the data file {path} ({size} bytes) from the definition", file=sys.stderr)
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        with open(tmp, "wb") as out:
            for first in range(0, size // 8, 1 << 17):
                out.write(_words(first, min(1 << 17, size // 8 - first)))
            out.flush()
            os.fsync(out.fileno())
        os.rename(tmp, path)
    except OSError:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _kind_of(mode):
    """What a path that is not a regular file is, in words, as the Rust models say it."""
    for test, kind in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "not a regular file"


class DataFile:
    """The run's data file, opened once per process: O_DIRECT unless --buffered, O_DSYNC for
    --write. O_DIRECT wants an aligned buffer; an anonymous mmap is page-aligned."""

    def __init__(self, args):
        self.path, self.bytes, self.write = data_file_path(args), args.bytes, args.write
        self.direct = not args.buffered
        try:
            if not os.path.exists(self.path):
                _create_data_file(self.path, args.file_size or 1 << 30)
            st = os.stat(self.path)
            if not stat.S_ISREG(st.st_mode):
                raise TaskError(f"{self.path} is {_kind_of(st.st_mode)}, not a data file: name a regular "
                                "--file (or a path where one may be made)")
            self.size = st.st_size
            if args.file_size and args.file_size != self.size:
                raise TaskError(f"{self.path} is {self.size} bytes, not the --file-size "
                                f"{args.file_size} asked for: name another --file")
            if self.size < self.bytes:
                raise TaskError(f"{self.path} is {self.size} bytes, less than one block of --bytes {self.bytes}")
            flags = (os.O_RDWR | os.O_DSYNC if self.write else os.O_RDONLY) | os.O_CLOEXEC
            self.fd = os.open(self.path, flags | (os.O_DIRECT if self.direct else 0))
        except OSError as e:
            raise self._failure("cannot open", e) from None

    def _failure(self, what, e):
        if e.errno == 22 and self.direct and what == "cannot open":  # EINVAL at open
            kind = filesystem_of(self.path)
            return TaskError(f"{self.path}: its {kind + ' ' if kind else ''}filesystem refuses "
                             "O_DIRECT (EINVAL at open): pass --buffered to go through the page "
                             "cache, or name a --file on a filesystem that takes it")
        if e.errno == 22 and self.direct:  # it opened, so the transfer does not suit the device
            return TaskError(f"{self.path}: the device refused an O_DIRECT {what} (EINVAL): its "
                             "logical block size (`lsblk -t`) may be larger than --bytes; or "
                             "pass --buffered")
        return TaskError(f"{what} {self.path}: {e.strerror} (os error {e.errno})")

    def offset(self, i):
        return splitmix64(i) % (self.size // self.bytes) * self.bytes

    def run(self, i, buf):
        """Task i's read (or write) into the aligned `buf`, blocking; the block's value."""
        offset = self.offset(i)
        if self.write:
            buf[:] = _words(offset // 8, self.bytes // 8)
        try:
            done = (os.pwritev if self.write else os.preadv)(self.fd, [buf], offset)
        except OSError as e:
            raise self._failure("write at" if self.write else "read at", e) from None
        if done != self.bytes:
            raise TaskError(f"short {'write' if self.write else 'read'} of {self.path}: "
                            f"{done} of {self.bytes} bytes at offset {offset}")
        words = memoryview(buf).cast("Q")
        if sys.byteorder == "big":
            words = array.array("Q", words)
            words.byteswap()
        return sum(words) & MASK


_opened = {}  # per process: the data file, and each thread's aligned buffer
_opening = threading.Lock()
_buffers = threading.local()


def open_data(args):
    """The run's data file, opened once per process (forked workers inherit it)."""
    with _opening:
        if "file" not in _opened:
            _opened["file"] = DataFile(args)
        return _opened["file"]


def disk_task(args, i):
    f = _opened.get("file") or open_data(args)
    if getattr(_buffers, "buf", None) is None:
        _buffers.buf = mmap.mmap(-1, f.bytes)
    return f.run(i, _buffers.buf)


def run_blocking(args, i):
    """Task i, run to completion on the calling thread:
    (value, started_at, finished_at, pid, thread, rss)."""
    started = time.monotonic()
    if args.workload == "sleep":
        value = sleep_task(i, args.ms)
    elif args.workload == "http":
        value = http_task(i, args.ms, args.addr, args.timeout_ms)
    elif args.workload == "disk":
        value = disk_task(args, i)
    elif args.workload == "db":
        try:
            value = db.blocking_task(args, i)
        except db.DbError as e:
            raise TaskError(str(e)) from None
    else:
        value = cpu_task(i, args.work)
    return value, started, time.monotonic(), os.getpid(), threading.get_native_id(), _self_rss_kib()


def threads_now():
    """num_threads of /proc/self/stat: every thread of the process, the interpreter's own too."""
    try:
        with open("/proc/self/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[17])
    except (OSError, IndexError, ValueError):
        return threading.active_count()


def _self_rss_kib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


# ---- the tally and the report ------------------------------------------------------------

def percentiles(values_ms):
    """Nearest-rank p50, p99 and max, as the Rust models compute them; None for no values."""
    if not values_ms:
        return None
    v = sorted(values_ms)
    pick = lambda q: v[min(len(v), max(1, math.ceil(q * len(v)))) - 1]
    return {"p50": round(pick(0.50), 3), "p99": round(pick(0.99), 3), "max": round(v[-1], 3)}


class Tally:
    """Results as they come in, then the contract's report."""

    def __init__(self, model, args, workers, concurrency):
        self.model, self.args = model, args
        self.workers, self.concurrency = workers, concurrency
        self.ok = self.failed = self.checksum = 0
        self.first_error = None
        self.finished = []
        self.child_rss = {}  # pid -> peak RSS, for the tasks that ran in child processes
        self.loop_lag = []  # an event loop's 10 ms ticker: how late each tick woke, in ms
        self.ticks = []  # and each tick as (due, woke), for --timeline
        self.spans = [] if args.timeline else None  # (i, start, end, pid, thread)
        self.latency = []  # disk: each operation's latency, in ms
        self.crawl = None  # crawl: the crawl.Crawl, whose tasks are found as it runs
        if args.workload == "disk":
            try:  # before any task, as the Rust models do: a file that cannot be had ends the run
                open_data(args)
            except TaskError as e:
                sys.exit(f"Error: {e}")
        self.peak_threads, self._looked = threads_now(), 0.0
        self.start = time.monotonic()

    def record(self, i, outcome):
        """`outcome` is run_blocking's tuple or an exception."""
        if isinstance(outcome, BaseException):
            self.failed += 1
            self.first_error = self.first_error or str(outcome) or type(outcome).__name__
            if self.args.verbose:
                print(f"task {i} failed: {outcome}", file=sys.stderr)
            return
        value, started_at, finished_at, pid, thread, rss = outcome
        if finished_at - self._looked >= 0.010:
            self.sample_threads()
        if self.args.workload == "disk":
            self.latency.append((finished_at - started_at) * 1000)
        if self.spans is not None:
            self.spans.append((i, max(0.0, started_at - self.start), finished_at - self.start, pid, thread))
        self.ok += 1
        self.checksum = (self.checksum + value) & (2**64 - 1)
        self.finished.append(finished_at - self.start)
        if pid != os.getpid():
            self.child_rss[pid] = max(rss, self.child_rss.get(pid, 0))
        if self.args.verbose:
            print(f"task {i} value {value} · pid {pid} thread {thread} · "
                  f"at {finished_at - self.start:.4f} s", file=sys.stderr)

    def gather(self, futures):
        """Record each future's outcome in submission order, whatever order they finish in:
        the executors' analog of asyncio.gather."""
        for i, future in enumerate(futures):
            try:
                self.record(i, future.result())
            except Exception as e:
                self.record(i, e)

    def sample_threads(self):
        """The most threads this process was seen with: sampled, as the Rust models do."""
        self.peak_threads, self._looked = max(self.peak_threads, threads_now()), time.monotonic()

    def report(self):
        wall = time.monotonic() - self.start
        self.sample_threads()
        a = self.args
        me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        timed = a.workload in ("sleep", "http")
        waits = timed or (a.workload == "db" and a.ms > 0)  # db: ceil(N / W) rounds of --ms
        ideal = math.ceil(a.tasks / self.concurrency) * a.ms / 1000 if waits else None
        tasks = self.crawl.requested if self.crawl else a.tasks
        return {
            "model": self.model, "workload": a.workload, "tasks": tasks,
            "workers": self.workers, "concurrency": self.concurrency,
            "ms": a.ms if timed or a.workload == "db" else None, "work": a.work if a.workload == "cpu" else None,
            "offload": a.offload, "ok": self.ok,
            "failed": self.failed if self.crawl else self.failed + (a.tasks - self.ok - self.failed),
            "checksum": self.checksum, "wall_s": round(wall, 6), "ideal_s": ideal,
            "user_s": round(me.ru_utime + kids.ru_utime, 6), "sys_s": round(me.ru_stime + kids.ru_stime, 6),
            "max_rss_kib": me.ru_maxrss,
            # Each worker process's peak as it finished its last task: the executor reaps
            # its own workers, so wait4's figure is out of reach.
            "children_max_rss_kib_sum": sum(self.child_rss.values()),
            "voluntary_ctx_switches": me.ru_nvcsw + kids.ru_nvcsw,
            "involuntary_ctx_switches": me.ru_nivcsw + kids.ru_nivcsw,
            "lateness_ms": self._lateness() if timed else None,
            "loop_lag_ms": percentiles(self.loop_lag),
            "peak_threads": self.peak_threads,
            **(self._brigade(me, kids, wall) if a.workload == "brigade" else {}),
            "iops": self.ok / wall if a.workload == "disk" else None,
            "qps": self.ok / wall if a.workload == "db" else None,
            "latency_ms": percentiles(self.latency),
            **({"crawl": self.crawl.report(wall, percentiles)} if self.crawl else {}),
            "first_error": self.first_error,
        }

    def _brigade(self, me, kids, wall):
        """Per hand-off: the wall time, the context switches, the CPU time each side of the kernel."""
        h = self.args.tasks * self.args.laps
        return {
            "laps": self.args.laps, "handoffs": h, "ns_per_handoff": wall * 1e9 / h,
            "voluntary_per_handoff": (me.ru_nvcsw + kids.ru_nvcsw) / h,
            "involuntary_per_handoff": (me.ru_nivcsw + kids.ru_nivcsw) / h,
            "user_ns_per_handoff": (me.ru_utime + kids.ru_utime) * 1e9 / h,
            "sys_ns_per_handoff": (me.ru_stime + kids.ru_stime) * 1e9 / h,
        }

    def _lateness(self):
        """The k-th finish against the ideal: round k // concurrency ends at (round + 1) × ms."""
        if not self.finished:
            return None
        each = self.args.ms / 1000
        return percentiles([(t - (k // self.concurrency + 1) * each) * 1000
                            for k, t in enumerate(sorted(self.finished))])

    def write_timeline(self):
        """--timeline: one JSON line per task, then the loop's ticks (CONTRACT.md, "Timeline")."""
        with open(self.args.timeline, "w") as out:
            for i, start, end, pid, thread in self.spans:
                out.write(json.dumps({"id": i, "start": start, "end": end, "pid": pid, "tid": thread},
                                     separators=(",", ":")) + "\n")
            for due, at in self.ticks:
                if at >= due:
                    out.write(json.dumps({"tick_due": due - self.start, "tick_at": at - self.start},
                                         separators=(",", ":")) + "\n")

    def exit(self):
        """Print the report and leave with the contract's status."""
        if self.spans is not None:
            self.write_timeline()
        r = self.report()
        if self.args.json:
            print(json.dumps(r, separators=(",", ":")))
        else:
            ideal = f" (ideal {r['ideal_s']:.4f} s)" if r["ideal_s"] is not None else ""
            print(f"{r['model']} · {r['workload']} · {r['tasks']} task{'' if r['tasks'] == 1 else 's'} · {r['wall_s']:.4f} s{ideal}"
                  f" · peak RSS {r['max_rss_kib'] / 1024:.1f} MiB"
                  + (f" · loop lag max {r['loop_lag_ms']['max']:.1f} ms" if r["loop_lag_ms"] else "")
                  + (f" · {r['ns_per_handoff']:.0f} ns a hand-off" if "ns_per_handoff" in r else "")
                  + (f" · {r['iops']:.0f} IOPS, p50 {r['latency_ms']['p50']:.3f} ms, "
                     f"p99 {r['latency_ms']['p99']:.3f} ms" if r["latency_ms"] else "")
                  + (f" · {r['qps']:.0f} queries/s" if r["qps"] is not None else "")
                  + (_crawl_line(r["crawl"]) if "crawl" in r else "")
                  + f" · checksum {r['checksum']}"
                  + (f" · {r['failed']} failed" if r["failed"] else ""))
        sys.stdout.flush()
        if self.crawl:
            fatal = self.crawl.fatal(r["first_error"])
            if fatal:
                sys.exit(f"Error: the crawl failed: {fatal}")
            if r["failed"]:
                print(f"{r['failed']} of {r['tasks']} URLs failed (findings, not errors of the crawl); "
                      f"the first: {r['first_error']}", file=sys.stderr)
            sys.exit(0)
        if r["failed"]:
            print(f"Error: {r['failed']} of {r['tasks']} tasks failed; the first: {r['first_error']}",
                  file=sys.stderr)
            sys.exit(1)
        sys.exit(0)


def _crawl_line(c):
    """The crawl's part of the human line, as the Rust models print it."""
    line = f" · {c['pages']} pages ({c['pages_per_s']:.0f}/s), {c['redirects']} redirects, {c['retries']} retries"
    if c["failures"]:
        line += ", failed: " + ", ".join(f"{n} {kind}" for kind, n in c["failures"].items())
    return line + (" · limited at --tasks" if c["limited"] else "")
