"""`hotline serve` as an operator runs it: one process with the API and the city's controller,
against the simulator over a real socket; the log says where the pages are."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import httpx
import pytest

from sim.ami_server import AmiServer
from sim.engine import SimPbx
from tests.test_cli import ROOT, free_port, run

pytestmark = pytest.mark.slow
OPS_PASSWORD = "ops-password-1"


async def serve_process(
    tmp_path: Path, server: AmiServer, *args: str
) -> asyncio.subprocess.Process:
    """`hotline serve ARGS` as an operator starts it: a config with city xa on the
    simulator, a migrated database, nothing from this process's HOTLINE_* environment."""
    ami_port = await server.start()
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "cities:\n"
        f"  - {{name: xa, label: 西安, ami: {{host: 127.0.0.1, port: {ami_port}, secret: s}}}}\n"
    )
    env = {"HOTLINE_CONFIG": str(cfg), "HOTLINE_DATA_DIR": str(tmp_path / "d")}
    assert run(["db", "upgrade"], env, tmp_path).returncode == 0
    # An operator account: /health shows the links only to staff.
    add = ["users", "add", "ops", "--role", "admin", "--password-env", "OPS_PW"]
    assert run(add, {**env, "OPS_PW": OPS_PASSWORD}, tmp_path).returncode == 0
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hotline",
        "serve",
        *args,
        env={**clean, "PYTHONPATH": str(ROOT), **env},
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def test_serve_runs_the_api_and_a_controller_per_city(tmp_path: Path) -> None:
    server = AmiServer(SimPbx("xa", {}), secret="s")
    port = free_port()
    proc = await serve_process(tmp_path, server, "--port", str(port))
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=5) as client:
            health: dict[str, object] = {}
            auth: dict[str, str] = {}
            for _ in range(300):  # the process starts, the controller logs in to the sim
                await asyncio.sleep(0.1)
                try:
                    if not auth:
                        login = {"username": "ops", "password": OPS_PASSWORD}
                        token = (await client.post("/api/auth/login", json=login)).json()["token"]
                        auth = {"Authorization": f"Bearer {token}"}
                    health = (await client.get("/health", headers=auth)).json()
                except httpx.TransportError:
                    continue
                if health["ami"]["xa"]["state"] == "up":  # type: ignore[index]
                    break
            assert health.get("status") == "ok", health
            assert health["ami"]["xa"]["state"] == "up", health  # type: ignore[index]
            page = await client.get("/wallboard")
            assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = await asyncio.wait_for(proc.communicate(), 20)
        await server.stop()
    log = out.decode()
    assert f"pages: wallboard {base}/wallboard, seat {base}/seat, QA {base}/qa" in log, log
    assert "Traceback" not in log, log


async def test_a_controller_only_process_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    """`hotline serve --controller xa` under a service manager: SIGTERM ends it with exit 0
    and it logs off the PBX, as Ctrl-C ends the process that runs the API."""
    server = AmiServer(SimPbx("xa", {}), secret="s")
    proc = await serve_process(tmp_path, server, "--controller", "xa")
    try:
        for _ in range(300):  # the process starts and the controller logs in to the sim
            if any(s.logged_in for s in server.sessions):
                break
            await asyncio.sleep(0.1)
        assert any(s.logged_in for s in server.sessions), "the controller never logged in"
        proc.send_signal(signal.SIGTERM)
        out, _ = await asyncio.wait_for(proc.communicate(), 20)
        assert proc.returncode == 0, out.decode()
        for _ in range(50):  # its link closed
            if not server.sessions:
                break
            await asyncio.sleep(0.1)
        assert not server.sessions
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await server.stop()
    log = out.decode()
    assert "stopping: ami-xa" in log, log
    assert "Traceback" not in log, log
