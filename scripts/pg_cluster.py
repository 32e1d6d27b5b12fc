#!/usr/bin/env python3
"""A PostgreSQL cluster of the project's own, for the db workload (CONTRACT.md, "The db workload").

    pg_cluster.py start [--rows R]   start data/db's cluster (made and seeded when missing)
    pg_cluster.py stop               stop it
    pg_cluster.py serve [--rows R]   a throwaway cluster for tests and benchmarks: made,
                                     seeded and started; its URL printed as one line on
                                     stdout; stopped and deleted when stdin closes (so a test
                                     that dies takes its server with it)

The cluster listens on 127.0.0.1 only, on a free port, and on a socket in its own folder;
trust authentication is allowed for those alone, but for one role, `conclab_scram`, which
must give its password (`conclab`) by SCRAM-SHA-256, so that the clients' SCRAM is tested
against a real server. `max_connections` is set to 100, PostgreSQL's default, explicitly.

PostgreSQL refuses to run as root. As root, the server runs as `nobody` (or $CONCLAB_PG_USER),
and its data lives under /tmp, which that user can reach even when the clone sits in a 0700
directory; as anyone else it runs as the caller, in data/db/cluster. Either way data/db/url
holds the URL that the binaries read when --db-url is not given.

The table is items(id int primary key, value bigint, hits bigint) with rows 1..R, where
value = splitmix64(id) >> 1 and hits = 0.
"""

import argparse
import ctypes
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from glob import glob
from pathlib import Path

MAX_CONNECTIONS = 100
SUPERUSER = "conclab"
DATABASE = "conclab"
SCRAM_ROLE, SCRAM_PASSWORD = "conclab_scram", "conclab"
STATE = Path("data/db")

HBA = f"""# Trust on the loopback address and the cluster's own socket, and nowhere else; one role
# must log in with its password, so that SCRAM is tested against a real server.
local all all trust
host all {SCRAM_ROLE} 127.0.0.1/32 scram-sha-256
host all all 127.0.0.1/32 trust
"""


def bindir():
    """Debian's PostgreSQL binaries (newest major version), or $PG_BINDIR."""
    if os.environ.get("PG_BINDIR"):
        return Path(os.environ["PG_BINDIR"])
    found = sorted(glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(p.split("/")[4]))
    if not found:
        sys.exit("pg_cluster: PostgreSQL is not installed: `make postgresql` (apt, as root)")
    return Path(found[-1]).parent


def server_user():
    """(uid, gid, name) the server runs as: the caller, or `nobody` when the caller is root."""
    if os.geteuid() != 0:
        return None
    entry = pwd.getpwnam(os.environ.get("CONCLAB_PG_USER", "nobody"))
    return entry


# Loaded here: a preexec_fn runs between fork and exec, where importing is unsafe.
LIBC = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


def as_user(entry):
    """Popen's arguments to run a child as `entry` (the caller when None), stopped with a
    fast shutdown if the process that started it dies. The uid changes before the
    preexec_fn runs, and the death signal must be set after: a uid change clears it."""
    kw = {"preexec_fn": lambda: LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGINT), "cwd": "/"}
    if entry is not None:
        kw.update(user=entry.pw_uid, group=entry.pw_gid, extra_groups=[])
    return kw


def run_as(entry, argv, **kw):
    return subprocess.run(argv, check=True, **as_user(entry), **kw)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def splitmix64(x):
    m = (1 << 64) - 1
    z = (x + 0x9E3779B97F4A7C15) & m
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m
    return z ^ (z >> 31)


def seed_sql(rows):
    lines = [
        "CREATE TABLE items (id int PRIMARY KEY, value bigint NOT NULL, hits bigint NOT NULL DEFAULT 0);",
        "COPY items (id, value, hits) FROM stdin;",
    ]
    lines += [f"{i}\t{splitmix64(i) >> 1}\t0" for i in range(1, rows + 1)]
    lines += ["\\.", "ANALYZE items;", ""]
    return "\n".join(lines)


def make(data, entry, rows):
    """initdb, the configuration, and the seeded table, with the server stopped after."""
    data.mkdir(mode=0o700, parents=True)
    if entry is not None:
        os.chown(data, entry.pw_uid, entry.pw_gid)
    run_as(
        entry,
        [bindir() / "initdb", "-D", data, "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
         "--locale=C", "--no-sync"],
        stdout=subprocess.DEVNULL,
    )
    (data / "pg_hba.conf").write_text(HBA)
    settings = f"""
listen_addresses = '127.0.0.1'
unix_socket_directories = '{data}'
max_connections = {MAX_CONNECTIONS}
password_encryption = 'scram-sha-256'
"""
    with open(data / "postgresql.conf", "a") as conf:
        conf.write(settings)
    port = free_port()
    server = start(data, entry, port)
    try:
        psql(data, port, "postgres", f"CREATE DATABASE {DATABASE};")
        psql(data, port, DATABASE, seed_sql(rows))
        psql(data, port, DATABASE,
             f"CREATE ROLE {SCRAM_ROLE} LOGIN PASSWORD '{SCRAM_PASSWORD}';"
             f"GRANT SELECT, UPDATE ON items TO {SCRAM_ROLE};")
    finally:
        stop(server)


def psql(data, port, db, sql):
    subprocess.run(
        [bindir() / "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", str(data), "-p", str(port),
         "-U", SUPERUSER, "-d", db],
        input=sql.encode(), check=True, stdout=subprocess.DEVNULL,
    )


def start(data, entry, port):
    """The postmaster, as a child of this process, once it accepts connections."""
    log = open(data / "server.log", "ab")
    if entry is not None:
        os.chown(data / "server.log", entry.pw_uid, entry.pw_gid)  # pg_ctl appends to it too
    server = subprocess.Popen(
        [bindir() / "postgres", "-D", data, "-p", str(port)],
        stdin=subprocess.DEVNULL, stdout=log, stderr=log, **as_user(entry),
    )
    for _ in range(300):
        if server.poll() is not None:
            tail = (data / "server.log").read_text(errors="replace").splitlines()[-5:]
            sys.exit("pg_cluster: the server did not start:\n" + "\n".join(tail))
        ready = subprocess.run([bindir() / "pg_isready", "-q", "-h", str(data), "-p", str(port)])
        if ready.returncode == 0:
            server.port = port
            return server
        time.sleep(0.05)
    server.kill()
    sys.exit("pg_cluster: the server did not accept connections within 15 s")


def stop(server):
    """Fast shutdown: roll back what is in flight, close every connection, checkpoint."""
    server.send_signal(signal.SIGINT)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.send_signal(signal.SIGQUIT)
        server.wait()


def url(port):
    return f"postgres://{SUPERUSER}@127.0.0.1:{port}/{DATABASE}"


def cluster_home(entry):
    """Where a cluster's folder goes: under /tmp for a demoted server, else beside its URL."""
    if entry is not None:
        home = Path(tempfile.mkdtemp(prefix="conclab-pg-"))
        os.chmod(home, 0o755)
        return home
    STATE.mkdir(parents=True, exist_ok=True)
    return STATE.resolve()


def serve(rows):
    entry = server_user()
    home = Path(tempfile.mkdtemp(prefix="conclab-pg-"))
    os.chmod(home, 0o755)
    data = home / "cluster"
    try:
        make(data, entry, rows)
        server = start(data, entry, free_port())
        print(url(server.port), flush=True)
        signal.signal(signal.SIGTERM, lambda *_: None)
        signal.signal(signal.SIGINT, lambda *_: None)
        while sys.stdin.buffer.read(4096):
            pass
        stop(server)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def start_managed(rows):
    entry = server_user()
    STATE.mkdir(parents=True, exist_ok=True)
    if (STATE / "url").exists():
        sys.exit(f"pg_cluster: a cluster runs already ({(STATE / 'url').read_text().strip()}); "
                 "`make db-stop` first")
    where = STATE / "where"
    data = Path(where.read_text()) if where.exists() else cluster_home(entry) / "cluster"
    if not (data / "PG_VERSION").exists():
        make(data, entry, rows)
    where.write_text(str(data))
    port = free_port()
    run_as(entry, [bindir() / "pg_ctl", "-D", data, "-l", data / "server.log", "-w", "-s",
                   "-o", f"-p {port}", "start"], stdout=subprocess.DEVNULL)
    (STATE / "url").write_text(url(port) + "\n")
    (STATE / "max_connections").write_text(f"{MAX_CONNECTIONS}\n")
    print(url(port))


def stop_managed():
    where = STATE / "where"
    if not where.exists() or not (STATE / "url").exists():
        print("pg_cluster: no cluster runs")
        return
    run_as(server_user(), [bindir() / "pg_ctl", "-D", where.read_text(), "-w", "-s", "-m", "fast",
                           "stop"])
    (STATE / "url").unlink()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["start", "stop", "serve"])
    parser.add_argument("--rows", type=int, default=100_000, help="rows to seed (default 100000)")
    a = parser.parse_args()
    if a.rows < 1:
        parser.error("--rows must be at least 1")
    {"start": lambda: start_managed(a.rows), "stop": stop_managed, "serve": lambda: serve(a.rows)}[
        a.command
    ]()


if __name__ == "__main__":
    main()
