"""`hotline intake import` as an operator runs it: a real subprocess on a SQLite data dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    return subprocess.run(
        [sys.executable, "-m", "hotline", *args],
        env={**clean, "PYTHONPATH": str(ROOT), "HOTLINE_DATA_DIR": str(tmp_path / "d")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )


def test_import_twice_creates_once_and_names_bad_lines(tmp_path: Path) -> None:
    assert run(tmp_path, "db", "upgrade").returncode == 0
    batch = tmp_path / "renmin.json"
    batch.write_text(
        json.dumps(
            [
                {"id": "a1", "content": "小区门口的路灯坏了好几天", "phone": "13800000001"},
                {"id": "a2", "content": "", "phone": "13800000002"},
            ],
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    first = run(tmp_path, "intake", "import", str(batch), "--platform", "renmin")
    assert first.returncode == 1, first.stderr
    assert "1 tickets created, 0 duplicates, 1 bad rows" in first.stdout
    assert "line 2: 诉求内容不能为空" in first.stderr
    second = run(tmp_path, "intake", "import", str(batch), "--platform", "renmin")
    assert "0 tickets created, 1 duplicates" in second.stdout
    assert "line 1: a1 already imported (ticket 1)" in second.stdout
    unknown = run(
        tmp_path, "intake", "import", str(batch), "--platform", "renmin", "--format", "doc"
    )
    assert unknown.returncode == 2 and "格式须为" in unknown.stderr
