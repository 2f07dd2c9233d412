"""One embedded Redis per data dir, shared by split `hotline` processes (real subprocesses):
`serve --api-only` and `serve --controller xa` use one server, `hotline doctor` beside them
leaves it alone, and after SIGTERM to both no redis-server is left behind."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import httpx
import pytest
import redis

from sim.ami_server import AmiServer
from sim.engine import SimPbx
from tests.test_cli import ROOT, free_port, run

pytestmark = pytest.mark.slow


def servers_on(socket: Path) -> list[int]:
    """Pids of every redis-server listening on this socket path, also one whose socket file
    was unlinked (the kernel still lists the path it was bound to)."""
    inodes = set()
    for line in Path("/proc/net/unix").read_text().splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 8 and fields[7] == str(socket):
            inodes.add(f"socket:[{fields[6]}]")
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if b"redis-server" not in (entry / "cmdline").read_bytes():
                continue
            links = {os.readlink(fd) for fd in (entry / "fd").iterdir()}
        except OSError:
            continue
        if links & inodes:
            found.append(int(entry.name))
    return found


async def hotline(env: dict[str, str], cwd: Path, *args: str) -> asyncio.subprocess.Process:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hotline", *args,
        env={**clean, "PYTHONPATH": str(ROOT), **env}, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip


async def stop(proc: asyncio.subprocess.Process) -> str:
    proc.send_signal(signal.SIGTERM)
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    return out.decode()


async def health_when(client: httpx.AsyncClient, up: bool) -> dict[str, object]:
    health: dict[str, object] = {}
    for _ in range(300):
        await asyncio.sleep(0.1)
        try:
            resp = await client.get("/health")
        except httpx.TransportError:
            continue
        health = resp.json()
        ami = health.get("ami") or {}
        if ((ami.get("xa") or {}).get("state") == "up") == up:  # type: ignore[union-attr]
            return health
    return health


async def test_split_processes_share_one_embedded_redis(tmp_path: Path) -> None:
    server = AmiServer(SimPbx("xa", {}), secret="s")
    ami_port = await server.start()
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "cities:\n"
        f"  - {{name: xa, label: 西安, ami: {{host: 127.0.0.1, port: {ami_port}, secret: s}}}}\n"
    )
    data = tmp_path / "d"
    env = {"HOTLINE_CONFIG": str(cfg), "HOTLINE_DATA_DIR": str(data)}
    assert run(["db", "upgrade"], env, tmp_path).returncode == 0
    socket = data.resolve() / "redis.sock"
    port = free_port()
    api = await hotline(env, tmp_path, "serve", "--api-only", "--port", str(port))
    ctl = await hotline(env, tmp_path, "serve", "--controller", "xa")
    procs = [api, ctl]
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            health = await health_when(client, up=True)
            # The API process sees what the controller process reports: one Redis.
            assert health.get("status") == "ok", health
            assert len(servers_on(socket)) == 1, servers_on(socket)

            doctor = run(["doctor"], env, tmp_path)
            assert "redis" in doctor.stdout and "FAIL redis" not in doctor.stdout, doctor.stdout
            assert socket.exists(), "doctor removed the running server's socket"
            assert len(servers_on(socket)) == 1, servers_on(socket)
            resp = await client.get("/health")
            assert resp.status_code == 200 and resp.json()["status"] == "ok", resp.text

            api_log = await stop(api)
            assert api.returncode == 0, api_log
            assert "Traceback" not in api_log, api_log
            # The controller still holds its lease: the server stays up for it.
            assert len(servers_on(socket)) == 1
            assert redis.Redis(unix_socket_path=str(socket)).ping()
            status = run(["redis", "status"], env, tmp_path)
            assert "running" in status.stdout and "1 hotline process" in status.stdout, status
            refused = run(["redis", "stop"], env, tmp_path)
            assert refused.returncode == 1 and "still use" in refused.stderr, refused
        ctl_log = await stop(ctl)
        assert ctl.returncode == 0, ctl_log
        assert "Traceback" not in ctl_log, ctl_log
        assert servers_on(socket) == [], "an orphaned redis-server outlived its last user"
        assert not socket.exists()
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        for pid in servers_on(socket):
            os.kill(pid, signal.SIGKILL)
        await server.stop()


async def test_api_only_leaves_no_redis_after_sigterm(tmp_path: Path) -> None:
    data = tmp_path / "d"
    env = {"HOTLINE_DATA_DIR": str(data)}
    assert run(["db", "upgrade"], env, tmp_path).returncode == 0
    socket = data.resolve() / "redis.sock"
    port = free_port()
    api = await hotline(env, tmp_path, "serve", "--api-only", "--port", str(port))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            await health_when(client, up=False)
        assert len(servers_on(socket)) == 1
        log = await stop(api)
        assert api.returncode == 0, log
        assert servers_on(socket) == [], "serve --api-only left its redis-server after SIGTERM"
    finally:
        if api.returncode is None:
            api.kill()
            await api.wait()
        for pid in servers_on(socket):
            os.kill(pid, signal.SIGKILL)
