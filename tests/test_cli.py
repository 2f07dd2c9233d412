"""The `hotline` command as an operator runs it: a real subprocess."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    return subprocess.run(
        [sys.executable, "-m", "hotline", *args],
        env={**clean, "PYTHONPATH": str(ROOT), **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_version(tmp_path: Path) -> None:
    out = run(["version"], {}, tmp_path)
    assert out.returncode == 0 and out.stdout.startswith("hotline ")


def test_doctor_names_city_address_and_reason(tmp_path: Path) -> None:
    port = free_port()  # nothing listens here
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"cities:\n  - {{name: xa, ami: {{host: 127.0.0.1, port: {port}}}}}\n")
    out = run(["db", "upgrade"], {"HOTLINE_DATA_DIR": str(tmp_path / "d")}, tmp_path)
    assert out.returncode == 0, out.stderr
    out = run(
        ["doctor"], {"HOTLINE_CONFIG": str(cfg), "HOTLINE_DATA_DIR": str(tmp_path / "d")}, tmp_path
    )
    assert out.returncode == 1
    line = next(ln for ln in out.stdout.splitlines() if "ami xa" in ln)
    assert f"127.0.0.1:{port}" in line and "FAIL" in line and "refused" in line
    assert "redis" in out.stdout and "migrations" in out.stdout and "at head" in out.stdout


def test_doctor_reports_pending_migrations(tmp_path: Path) -> None:
    out = run(["doctor"], {"HOTLINE_DATA_DIR": str(tmp_path / "d")}, tmp_path)
    assert out.returncode == 1
    assert "hotline db upgrade" in out.stdout


def test_bad_settings_fail_with_one_line(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("cities:\n  - {name: xa, partners: [xy]}\n")
    out = run(["doctor"], {"HOTLINE_CONFIG": str(cfg)}, tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0, out.stderr
    assert "unknown partner city 'xy'" in out.stderr
    assert "Traceback" not in out.stderr


def test_doctor_warns_before_the_holiday_data_runs_out(tmp_path: Path) -> None:
    from datetime import date

    from hotline.doctor import holidays_row
    from hotline.settings import Settings

    row = holidays_row(Settings(), date(2026, 6, 1))
    assert row.ok and row.target == "chinese-calendar"
    row = holidays_row(Settings(), date(2026, 12, 2))  # 60 days on is in 2027
    assert not row.ok and "no holiday data for 2027" in row.detail
    assert "HOTLINE_HOLIDAYS_FILE" in row.detail
    holidays = tmp_path / "holidays.yaml"
    holidays.write_text("2027:\n  holidays: [2027-01-01]\n", encoding="utf-8")
    row = holidays_row(Settings(holidays_file=holidays), date(2026, 12, 2))
    assert row.ok and row.target == str(holidays)
