"""The call journal a restarted controller reads (acd/calls/journal.py): 20,000 entries.

20,000 entries is a busy city's hour (the journal keeps two). In the simulator's AstDB, read
over a real AMI socket by the controller's AmiLink: `journal_read_20k_s` is the DBGetTree and
the parsing; `journal_known_20k_s` a resync's whole pass when every call already has its
record (the usual case: one query per 1,000 call ids, nothing written);
`journal_record_1k_s` writing the records of 1,000 unseen calls (a controller down for a few
minutes at peak), on SQLite. Median of 3 rounds.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from acd.calls import journal
from hotline.db import make_engine, session_factory
from pbx import journal as pj
from pbx.link import AmiLink
from sim.ami_server import AmiServer
from sim.engine import SimPbx

ROOT = Path(__file__).resolve().parents[1]
ROUNDS = 3
ENTRIES = 20_000
UNSEEN = 1_000
START = 1_796_540_000
HOUR = pj.hour_of(START)


def _fill(pbx: SimPbx) -> None:
    for n in range(ENTRIES):
        arrival = START + n % 3000
        value = f"wait:{arrival}:{arrival + 60}:{arrival + 20}:general:1:::139{n:08d}"
        pbx.astdb[f"{pj.family('xa', HOUR)}/xa-{START}.{n}"] = value


def _upgrade(db: str, data_dir: str) -> None:
    env = {**os.environ, "HOTLINE_DATABASE_URL": db, "HOTLINE_DATA_DIR": data_dir}
    env["PYTHONPATH"] = str(ROOT)
    subprocess.run(
        [sys.executable, "-m", "hotline", "db", "upgrade"], env=env, check=True, capture_output=True
    )


async def _round(tmp: str) -> tuple[float, float, float]:
    db = f"sqlite+aiosqlite:///{tmp}/bench.sqlite"
    _upgrade(db, tmp)
    engine = make_engine(db)
    sessions = session_factory(engine)
    pbx = SimPbx("xa", {})
    _fill(pbx)
    server = AmiServer(pbx, secret="s")
    link = AmiLink("xa", "127.0.0.1", await server.start(), "hotline", "s", action_timeout=60)
    await link.start()
    await link.wait_up(20)
    policy = journal.JournalPolicy(callback_after_s=1e9)  # records only: no callbacks
    try:
        started = time.perf_counter()
        entries, skipped = await journal.read(link, "xa", [HOUR])
        read_s = time.perf_counter() - started
        assert len(entries) == ENTRIES and not skipped, (len(entries), skipped[:3])
        started = time.perf_counter()
        written, _ = await journal.write(sessions, "xa", entries[:UNSEEN], policy)
        record_s = time.perf_counter() - started
        assert written == UNSEEN
        # the rest as recorded by the live path, then a resync's pass over all of them
        await journal.write(sessions, "xa", entries[UNSEEN:], policy)
        started = time.perf_counter()
        entries, _ = await journal.read(link, "xa", [HOUR])
        assert await journal.write(sessions, "xa", entries, policy) == (0, 0)
        known_s = time.perf_counter() - started
    finally:
        await link.close()
        await asyncio.sleep(0.2)  # the server's session sees the close before it stops
        await server.stop()
        await engine.dispose()
    return read_s, known_s, record_s


def run() -> None:
    figures = []
    for _ in range(ROUNDS):
        with tempfile.TemporaryDirectory() as tmp:
            figures.append(asyncio.run(_round(tmp)))
    print(f"# journal bench: {ENTRIES} entries in one hour, {ROUNDS} rounds")
    for name, index in (("journal_read_20k_s", 0), ("journal_known_20k_s", 1)):
        print(f"BENCH {name} {statistics.median(f[index] for f in figures):.2f} s")
    print(f"BENCH journal_record_1k_s {statistics.median(f[2] for f in figures):.2f} s")


if __name__ == "__main__":
    run()
