"""`hotline drafts from-text` as an operator runs it: a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    return subprocess.run(
        [sys.executable, "-m", "hotline", "drafts", "from-text", *args],
        env={**clean, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_draft_as_json_and_as_labels(tmp_path: Path) -> None:
    call = tmp_path / "call.txt"
    call.write_text(
        "seat: 您好，12345热线。\ncaller: 天目山路的红绿灯坏了，一直闪黄灯。\n", encoding="utf-8"
    )
    out = run(str(call), "--json")
    assert out.returncode == 0, out.stderr
    draft = json.loads(out.stdout)
    assert draft["category"] == "交通·信号灯"
    assert draft["department"] == "市公安局交通警察支队"
    assert draft["tier_days"] == 3
    shown = run(str(call))
    assert shown.returncode == 0 and "分类：交通·信号灯" in shown.stdout
    assert "办结期限：" in shown.stdout and draft["due_at"].endswith("+00:00")


def test_line_without_prefix_is_named(tmp_path: Path) -> None:
    call = tmp_path / "call.txt"
    call.write_text("caller: 你好\n我家停水了\n", encoding="utf-8")
    out = run(str(call))
    assert out.returncode == 2
    assert "call.txt:2: line must start with 'caller:' or 'seat:'" in out.stderr
    assert out.stdout == ""


def test_unreadable_file(tmp_path: Path) -> None:
    out = run(str(tmp_path / "missing.txt"))
    assert out.returncode == 2 and "cannot read transcript" in out.stderr
    binary = tmp_path / "bin.txt"
    binary.write_bytes(b"\xff\xfe\x00caller")
    out = run(str(binary))
    assert out.returncode == 2 and "cannot read transcript" in out.stderr


def test_bad_holiday_file_is_a_clear_error(tmp_path: Path) -> None:
    call = tmp_path / "call.txt"
    call.write_text("caller: 停水了\n", encoding="utf-8")
    out = run(str(call), "--holidays", str(tmp_path / "none.yaml"))
    assert out.returncode == 2 and "cannot read holiday file" in out.stderr
