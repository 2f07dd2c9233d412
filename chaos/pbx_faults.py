"""The faults on a real Asterisk: tests_pbx/test_chaos.py (link cuts and controller restarts
under traffic through the real dialplan, SIPp callers, baresip seats), run as `make test-pbx`
runs it, its `CHAOS pbx_faults ...` line relayed. Its traffic is its own (one city, 24 callers
in a minute): the plan's scale is the simulator's. Where no Asterisk is installed, or it cannot
run here (not root, no SIPp), the line says skipped, as the tier does.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

from chaos.row import Result
from chaos.stack import ROOT, Stack
from chaos.world import Plan

NAME = "pbx_faults"
DEFAULT_ASTERISK = "/opt/asterisk-22/sbin/asterisk"
_LINE = re.compile(rf"^CHAOS {NAME} lost=(\d+) duplicated=(\d+) ?(.*)$", re.MULTILINE)
_SKIPPED = re.compile(r"SKIPPED \[\d+\] [^:]+:\d+: (.*)")


async def run(stack: Stack, plan: Plan) -> Result:
    exe = Path(os.environ.get("HOTLINE_TEST_ASTERISK") or DEFAULT_ASTERISK)
    if not os.access(exe, os.X_OK):
        return Result(NAME, 0, 0, f"skipped: no Asterisk at {exe} (set HOTLINE_TEST_ASTERISK)")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-q",
        "-s",
        "-rs",
        f"--basetemp={stack.root / NAME}",
        str(ROOT / "tests_pbx" / "test_chaos.py"),
        cwd=ROOT,
        env={**os.environ, "HOTLINE_TEST_ASTERISK": str(exe)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    text = out.decode(errors="replace")
    (stack.root / f"{NAME}.log").write_text(text)
    found = _LINE.search(text)
    if found is not None:
        return Result(NAME, int(found.group(1)), int(found.group(2)), found.group(3))
    skipped = _SKIPPED.search(text)
    if skipped is not None:
        return Result(NAME, 0, 0, f"skipped: {skipped.group(1).strip()}")
    # No count at all (the scenario broke before counting): not a pass.
    raise RuntimeError(
        f"{NAME}: no CHAOS line (exit {proc.returncode}); see {NAME}.log:\n{text[-2000:]}"
    )
