"""The db workload for the Python peers (CONTRACT.md, "db"): the URL, the statement, the
errors said the contract's way, and the two drivers a Python programmer would reach for.

- psycopg 3 (`py-serial`, `py-threads`, `py-processes`): blocking, one connection per task,
  or with --workers one kept per thread or process, the statement prepared on it once
  (`prepare=True`).
- asyncpg (`py-asyncio`, `py-uvloop`): written by uvloop's authors, with its pool for
  --workers; it prepares each statement once per connection (its statement cache).

Both bind the parameters (the extended protocol, never SQL built from strings). This module
imports neither driver until a db run needs one, and nothing from the other peer modules.
"""
import os
import re
import threading
import urllib.parse

MANAGED_URL_FILE = "data/db/url"


class DbError(Exception):
    pass


def mask(text):
    """`text` masked as CONTRACT.md says: from its first `:` after the scheme's `//` (or after
    its start) to its last `@`, `***`; with no `@`, everything after that `:`."""
    at = text.rfind("@")
    head = text[: at if at >= 0 else len(text)]
    start = head.find("://") + 3 if "://" in head else 0
    colon = head.find(":", start)
    if colon < 0:
        return text
    return text[:colon] + ":***" + (text[at:] if at >= 0 else "")


def parse_url(text):
    """postgres://user[:password]@host[:port]/dbname, as the Rust models take it; a
    ValueError whose reason never shows the password."""
    shown = mask(text)
    bad = lambda why: ValueError(f"'{shown}' is not a PostgreSQL URL: {why}")
    m = re.fullmatch(r"postgres(?:ql)?://([^@/]*)@([^/?]*)/([^?]*)(?:\?(.*))?", text)
    if not m:
        raise bad("say postgres://user[:password]@host[:port]/dbname")
    credentials, hostport, dbname, query = m.groups()
    for param in filter(None, (query or "").split("&")):
        if param not in ("sslmode=disable", "sslmode=prefer"):
            raise bad(f"'{param}' is not taken (only sslmode=disable)")
    user, sep, password = credentials.partition(":")
    user, dbname = urllib.parse.unquote(user), urllib.parse.unquote(dbname)
    if not user or not dbname:
        raise bad("the user and the database must not be empty")
    h = re.fullmatch(r"\[([^\]]+)\](?::(.*))?|([^:]+)(?::(.*))?", hostport)
    if not h:
        raise bad("the host is empty")
    host, port = (h.group(1), h.group(2)) if h.group(1) else (h.group(3), h.group(4))
    if port is not None and not (port.isdigit() and 0 < int(port) < 65536):
        raise bad(f"'{port}' is not a port")
    password = urllib.parse.unquote(password) if sep else os.environ.get("PGPASSWORD")
    return {"user": user, "password": password, "host": host, "port": int(port or 5432),
            "dbname": dbname, "where": f"{hostport}"}


def default_url():
    """The project's cluster (`make db`), else where libpq would look."""
    try:
        with open(MANAGED_URL_FILE) as f:
            return f.read().strip()
    except OSError:
        user = os.environ.get("USER", "postgres")
        return f"postgres://{user}@127.0.0.1:5432/{user}"


def statement(args):
    """The task's statement, with $1 the row and $2 the seconds to wait, for both drivers
    (psycopg through its RawCursor, which takes PostgreSQL's own placeholders)."""
    row, secs = "$1", "$2"
    wait = args.ms > 0
    if args.write:
        sleep = f" FROM pg_sleep({secs}) AS s" if wait else ""
        return f"UPDATE items SET hits = hits + 1{sleep} WHERE id = {row} RETURNING value"
    sleep = f", pg_sleep({secs})" if wait else ""
    return f"SELECT value FROM items{sleep} WHERE id = {row}"


def row_of(args, i):
    return i % args.rows + 1


def params(args, i):
    return (row_of(args, i), args.ms / 1000) if args.ms > 0 else (row_of(args, i),)


MISSING = "no such row in items: --rows is more than the table holds"


def failure(args, e):
    """A driver's exception, said as the Rust models say it: the server's severity, SQLSTATE
    and message; at max_connections the limit and the pool to use."""
    url = args.db
    where = url["where"]
    state = getattr(e, "sqlstate", None)
    diag = getattr(e, "diag", None)
    severity = getattr(diag, "severity_nonlocalized", None) or getattr(e, "severity", None) or "ERROR"
    message = getattr(diag, "message_primary", None) or getattr(e, "message", None) or str(e)
    text = str(e)
    if state is None and "too many clients" in text:
        state, severity, message = "53300", "FATAL", "sorry, too many clients already"
    if state == "57014" or isinstance(e, TimeoutError):
        return DbError(f"the query timed out after {args.timeout_ms} ms (--timeout-ms)")
    if isinstance(e, ConnectionRefusedError) or "Connection refused" in text:
        return DbError(f"connection refused by {where} (is PostgreSQL running? `make db`, or --db-url)")
    if state is None:
        return DbError(f"PostgreSQL at {where}: {text.strip()}")
    error = f"PostgreSQL at {where}: {severity} {state}: {message}"
    if state == "53300":
        error += " — limit to raise: max_connections on the server; or share fewer connections: a pool, --workers W"
    return DbError(error)


# ---- psycopg 3, blocking --------------------------------------------------------------

_kept = threading.local()  # with --workers: this thread's (or process's) connection


def _connect(args):
    import psycopg
    u = args.db
    # The server cancels a query past --timeout-ms (SQLSTATE 57014): psycopg has no
    # client-side bound on a query of its own.
    options = f"-c statement_timeout={args.timeout_ms}"
    if args.write:
        options += " -c synchronous_commit=on"
    return psycopg.connect(host=u["host"], port=u["port"], user=u["user"], password=u["password"],
                           dbname=u["dbname"], autocommit=True, application_name="conclab",
                           options=options, connect_timeout=max(1, args.timeout_ms // 1000),
                           cursor_factory=psycopg.RawCursor)


def _query(args, conn, i):
    row = conn.execute(statement(args), params(args, i), prepare=True).fetchone()
    if row is None:
        raise DbError(MISSING)
    return row[0]


def blocking_task(args, i):
    import psycopg
    try:
        if args.workers is None:
            with _connect(args) as conn:
                return _query(args, conn, i)
        conn = getattr(_kept, "conn", None)
        if conn is None or conn.closed:
            conn = _kept.conn = _connect(args)
        return _query(args, conn, i)
    except psycopg.Error as e:
        if isinstance(e, psycopg.OperationalError):
            _kept.conn = None  # the connection is lost
        raise failure(args, e) from None
    except OSError as e:
        raise failure(args, e) from None


# ---- asyncpg, on an event loop -----------------------------------------------------------

def _connect_args(args):
    u = args.db
    settings = {"application_name": "conclab"}
    if args.write:
        settings["synchronous_commit"] = "on"
    return dict(host=u["host"], port=u["port"], user=u["user"], password=u["password"],
                database=u["dbname"], ssl=False, server_settings=settings)


async def open_pool(args):
    """--workers W: asyncpg's pool of W connections, opened as the tasks need them."""
    import asyncpg
    if args.workers is None:
        return None
    return await asyncpg.create_pool(min_size=0, max_size=args.workers, **_connect_args(args))


async def async_task(args, i, pool):
    """Task i's query: on a connection of its own, or one of the pool's; bounded by
    --timeout-ms once it has one."""
    import asyncio

    import asyncpg
    sql = statement(args)
    timeout = args.timeout_ms / 1000
    try:
        if pool is None:
            conn = await asyncio.wait_for(asyncpg.connect(**_connect_args(args)), timeout)
            try:
                value = await conn.fetchval(sql, *params(args, i), timeout=timeout)
            finally:
                await conn.close()
        else:
            async with pool.acquire() as conn:
                value = await conn.fetchval(sql, *params(args, i), timeout=timeout)
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, asyncio.TimeoutError) as e:
        raise failure(args, e) from None
    if value is None:
        raise DbError(MISSING)
    return value
