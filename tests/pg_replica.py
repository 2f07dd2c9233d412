"""A real PostgreSQL primary and a streaming replica of it, each a cluster of its own in a
temporary directory on a free port: ``initdb`` for the primary, ``pg_basebackup -R`` for the
replica (PostgreSQL's own streaming replication, a hot standby that answers reads). Both are
stopped and their directories removed when the ``with`` block ends, also when it fails.

Never the machine's PostgreSQL: replay is paused and resumed here, which no other test of the
machine's server expects. As root (initdb refuses root), the binaries run as user postgres.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg

# Debian's postgresql-15 (installed with the machine's server); HOTLINE_TEST_PG_BIN elsewhere.
PG_BIN = Path(os.environ.get("HOTLINE_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
TOOLS = ("initdb", "pg_ctl", "pg_basebackup", "createdb", "postgres")
DATABASE = "hotline"
START_TIMEOUT_S = 30


def missing() -> str | None:
    """Why the pair cannot be started here, or None."""
    absent = [tool for tool in TOOLS if not (PG_BIN / tool).is_file()]
    if absent:
        return f"PostgreSQL server binaries missing in {PG_BIN} ({', '.join(absent)})"
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run(*args: str) -> None:
    cmd = [str(PG_BIN / args[0]), *args[1:]]
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    done = subprocess.run(
        cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=START_TIMEOUT_S
    )
    if done.returncode != 0:
        raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stderr or done.stdout}")


def _settings(data: Path, port: int) -> None:
    # Appended: later lines win, and pg_basebackup copies the primary's file to the replica.
    # A throwaway pair: speed over durability (fsync off), nothing on the machine's sockets.
    with (data / "postgresql.conf").open("a") as conf:
        conf.write(
            f"\nport = {port}\nlisten_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = '{data}'\nfsync = off\nfull_page_writes = off\n"
            "max_connections = 50\nshared_buffers = 16MB\n"
        )


@dataclass(frozen=True, slots=True)
class Pair:
    primary: str  # postgresql://… URLs of the one database, as HOTLINE_DATABASE_*URL take them
    replica: str
    primary_port: int
    replica_port: int
    root: Path  # primary/, replica/ and their logs

    @property
    def replica_dir(self) -> Path:
        return self.root / "replica"


@contextlib.contextmanager
def primary_and_replica() -> Iterator[Pair]:
    """Start the primary (with the database ``hotline``) and its streaming replica."""
    root = Path(tempfile.mkdtemp(prefix="hotline-pg-replica-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    started: list[Path] = []
    try:
        primary, replica = root / "primary", root / "replica"
        p_port, r_port = _free_port(), _free_port()
        _run("initdb", "-D", str(primary), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        _settings(primary, p_port)
        started.append(primary)
        _run("pg_ctl", "-D", str(primary), "-l", str(root / "primary.log"), "-w", "start")
        _run("createdb", "-h", "127.0.0.1", "-p", str(p_port), "-U", "postgres", DATABASE)
        # initdb's pg_hba.conf already trusts replication connections from 127.0.0.1.
        _run(
            "pg_basebackup", "-h", "127.0.0.1", "-p", str(p_port), "-U", "postgres",
            "-D", str(replica), "-R", "-X", "stream", "--checkpoint=fast",
        )  # fmt: skip
        _settings(replica, r_port)
        started.append(replica)
        # -w: returns once the standby accepts read-only connections.
        _run("pg_ctl", "-D", str(replica), "-l", str(root / "replica.log"), "-w", "start")
        url = "postgresql://postgres@127.0.0.1:{}/" + DATABASE
        yield Pair(url.format(p_port), url.format(r_port), p_port, r_port, root)
    finally:
        for data in reversed(started):
            # Immediate: nothing here needs a checkpoint, the directory goes next.
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                _run("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


async def _one(port: int, query: str, *args: object) -> object:
    conn = await asyncpg.connect(host="127.0.0.1", port=port, user="postgres", database=DATABASE)
    try:
        return await conn.fetchval(query, *args)
    finally:
        await conn.close()


async def primary_lsn(pair: Pair) -> str:
    """The primary's WAL position now: what a replica has to replay to show every commit."""
    return str(await _one(pair.primary_port, "SELECT pg_current_wal_lsn()::text"))


async def replayed(pair: Pair, lsn: str) -> bool:
    query = "SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn"
    return bool(await _one(pair.replica_port, query, lsn))


async def wait_replayed(pair: Pair, timeout_s: float = 20.0) -> float:
    """Until the replica has replayed everything committed on the primary so far; the wait."""
    lsn = await primary_lsn(pair)
    start = time.monotonic()
    while not await replayed(pair, lsn):
        if time.monotonic() - start > timeout_s:
            raise TimeoutError(f"the replica did not replay up to {lsn} in {timeout_s:.0f} s")
        await asyncio.sleep(0.02)
    return time.monotonic() - start


async def pause_replay(pair: Pair) -> None:
    """The replica keeps receiving WAL but applies none: a lag as long as the test wants."""
    await _one(pair.replica_port, "SELECT pg_wal_replay_pause()")
    while await _one(pair.replica_port, "SELECT pg_get_wal_replay_pause_state()") != "paused":
        await asyncio.sleep(0.02)


async def resume_replay(pair: Pair) -> None:
    await _one(pair.replica_port, "SELECT pg_wal_replay_resume()")


def stop_replica(pair: Pair) -> None:
    """A fast shutdown, as for a restart: the primary keeps the WAL it has not sent."""
    _run("pg_ctl", "-D", str(pair.replica_dir), "-m", "fast", "-w", "stop")


def start_replica(pair: Pair) -> None:
    log = pair.root / "replica.log"
    _run("pg_ctl", "-D", str(pair.replica_dir), "-l", str(log), "-w", "start")
