"""A real Redis Cluster of three masters (no replicas) in a temporary directory, for the
cluster tests and the routing bench: ``redis-server --cluster-enabled yes`` processes on free
ports, joined by ``redis-cli --cluster create``; and one plain server to compare it with."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import redis

NODES = 3
START_TIMEOUT_S = 20.0


def available() -> bool:
    """True where the Debian package redis-server (redis-server and redis-cli) is installed."""
    return shutil.which("redis-server") is not None and shutil.which("redis-cli") is not None


def _free_ports(count: int) -> list[int]:
    """Ports free now, each with its cluster bus port (+10000) free too."""
    ports: list[int] = []
    while len(ports) < count:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port + 10000 > 65535 or port in ports:
            continue
        with socket.socket() as bus:
            try:
                bus.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        ports.append(port)
    return ports


def _wait_ok(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    end = time.monotonic() + START_TIMEOUT_S
    while True:
        client = redis.Redis(port=port, socket_timeout=1)
        try:
            if client.ping():
                return
        except redis.ConnectionError:
            pass
        finally:
            client.close()
        if proc.poll() is not None or time.monotonic() > end:
            raise RuntimeError(f"redis-server on port {port} did not start: {log.read_text()}")
        time.sleep(0.05)


def _wait_cluster_ok(ports: list[int]) -> None:
    """Every node reports the cluster state ok (all slots covered, the config agreed)."""
    end = time.monotonic() + START_TIMEOUT_S
    for port in ports:
        client = redis.Redis(port=port, decode_responses=True)
        try:
            while client.cluster("info")["cluster_state"] != "ok":
                if time.monotonic() > end:
                    raise RuntimeError(f"cluster node {port} never reported cluster_state:ok")
                time.sleep(0.05)
        finally:
            client.close()


def _start(port: int, node: Path, *extra: str) -> subprocess.Popen[bytes]:
    node.mkdir()
    log = node / "redis.log"
    args = [
        "redis-server",
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--dir", str(node),
        "--save", "",
        "--appendonly", "no",
        "--logfile", str(log),
        *extra,
    ]  # fmt: skip
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL)
    try:
        _wait_ok(port, proc, log)
    except RuntimeError:
        _stop([proc])
        raise
    return proc


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def cluster() -> Iterator[str]:
    """Start the cluster; yield its ``redis+cluster://`` URL (one seed node); stop it after."""
    with tempfile.TemporaryDirectory(prefix="hotline-cluster-") as tmp:
        ports = _free_ports(NODES)
        procs: list[subprocess.Popen[bytes]] = []
        try:
            for port in ports:
                node = Path(tmp) / str(port)
                procs.append(
                    _start(port, node, "--cluster-enabled", "yes", "--cluster-node-timeout",
                           "5000", "--cluster-config-file", str(node / "nodes.conf"))
                )  # fmt: skip
            subprocess.run(
                ["redis-cli", "--cluster", "create"]
                + [f"127.0.0.1:{p}" for p in ports]
                + ["--cluster-replicas", "0", "--cluster-yes"],
                check=True,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                timeout=START_TIMEOUT_S,
            )
            _wait_cluster_ok(ports)
            yield f"redis+cluster://127.0.0.1:{ports[0]}"
        finally:
            _stop(procs)


@contextlib.contextmanager
def single() -> Iterator[str]:
    """One plain redis-server of the same binary over TCP: what the cluster is compared with."""
    with tempfile.TemporaryDirectory(prefix="hotline-single-") as tmp:
        port = _free_ports(1)[0]
        proc = _start(port, Path(tmp) / str(port))
        try:
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            _stop([proc])
