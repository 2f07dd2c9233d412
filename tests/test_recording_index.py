"""Recording policy, the index written when a call ends, its ASR jobs, and retention."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.controller import AcdSettings
from acd.queue.service import Acd
from acd.queue.types import SeatSpec, Skill
from asr.jobs import Job
from asr.queueing import job_queuer
from hotline.controller import build
from hotline.settings import AmiEndpoint, City, Settings
from recording.index import index_call
from recording.models import Recording
from recording.policy import base_path, safe_name, speaker_files
from recording.retention import prune
from sim.ami_server import AmiServer
from sim.engine import CallerScript, SeatBehaviour, SimPbx
from store import keys
from tests.conftest import AMI_FIXTURES
from tickets.models import Ticket
from tickets.service import calls_with_open_tickets

ARRIVED = datetime(2026, 12, 1, 23, 59, 50, tzinfo=UTC)
SOURCE = {
    "caller": AMI_FIXTURES / "mixmonitor_per_speaker-in.wav",
    "seat": AMI_FIXTURES / "mixmonitor_per_speaker-out.wav",
    "mixed": AMI_FIXTURES / "mixmonitor_per_speaker-mixed.wav",
}


def place(base: str, speakers: tuple[str, ...] = ("caller", "seat", "mixed")) -> dict[str, Path]:
    """What MixMonitor leaves at HL_REC (copies of the real capture's three files)."""
    files = speaker_files(base)
    for speaker in speakers:
        files[speaker].parent.mkdir(parents=True, exist_ok=True)  # type: ignore[index]
        shutil.copy(SOURCE[speaker], files[speaker])  # type: ignore[index]
    return {s: files[s] for s in speakers}  # type: ignore[index]


async def jobs(redis: Redis) -> list[Job]:
    return [Job.parse(f) for _, f in await redis.xrange(keys.ASR_STREAM)]


async def rows(sessions: async_sessionmaker[AsyncSession]) -> list[Recording]:
    async with sessions() as s:
        return list((await s.scalars(select(Recording).order_by(Recording.id))).all())


def test_layout_by_day_of_arrival_and_attempt() -> None:
    assert base_path("/rec", "1795350146.145", 2, ARRIVED) == "/rec/2026/12/01/1795350146.145-2"
    files = speaker_files("/rec/2026/12/01/1795350146.145-2")
    assert {k: v.name for k, v in files.items()} == {
        "caller": "1795350146.145-2-in.wav",
        "seat": "1795350146.145-2-out.wav",
        "mixed": "1795350146.145-2.wav",
    }
    # A call id never names a file outside the day's directory.
    assert "/" not in safe_name("../../etc/passwd") and ".." not in safe_name("../../etc/passwd")


async def test_index_call_writes_rows_and_one_job_per_speaker(
    tmp_path: Path, redis: Redis, sessions: async_sessionmaker[AsyncSession]
) -> None:
    root = tmp_path / "rec"
    unanswered = place(base_path(root, "c1", 1, ARRIVED))  # rang, not answered: only ringing
    answered = place(base_path(root, "c1", 2, ARRIVED))
    started = ARRIVED + timedelta(seconds=20)
    new = await index_call(
        sessions,
        job_queuer(sessions, redis),
        call_id="c1",
        city="xa",
        seat_id="1001",
        root=root,
        arrived_at=ARRIVED,
        started_at=started,
    )
    assert len(new) == 3
    got = await rows(sessions)
    assert [(r.speaker, r.attempt, r.seat_id, r.format, r.sample_rate) for r in got] == [
        ("caller", 2, "1001", "wav-pcm16", 8000),
        ("seat", 2, "1001", "wav-pcm16", 8000),
        ("mixed", 2, "1001", "wav-pcm16", 8000),
    ]
    caller = got[0]
    assert caller.path == str(answered["caller"])
    assert caller.sha256 == hashlib.sha256(SOURCE["caller"].read_bytes()).hexdigest()
    assert caller.size_bytes == SOURCE["caller"].stat().st_size
    assert abs(caller.duration_s - 10.44) < 0.01 and caller.started_at == started
    assert not any(p.exists() for p in unanswered.values())
    assert [(j.recording_id, j.speaker, j.city) for j in await jobs(redis)] == [
        (got[0].id, "caller", "xa"),
        (got[1].id, "seat", "xa"),
    ]
    # Indexing again (a resync may end the call twice) adds nothing.
    assert (
        await index_call(
            sessions,
            job_queuer(sessions, redis),
            call_id="c1",
            city="xa",
            seat_id="1001",
            root=root,
            arrived_at=ARRIVED,
            started_at=started,
        )
        == []
    )
    assert len(await jobs(redis)) == 2 and len(await rows(sessions)) == 3


async def test_mixed_only_gets_the_job_and_mixed_can_be_dropped(
    tmp_path: Path, redis: Redis, sessions: async_sessionmaker[AsyncSession]
) -> None:
    root = tmp_path / "rec"
    place(base_path(root, "m1", 1, ARRIVED), ("mixed",))
    await index_call(
        sessions,
        job_queuer(sessions, redis),
        call_id="m1",
        city="xa",
        seat_id=None,
        root=root,
        arrived_at=ARRIVED,
        started_at=ARRIVED,
    )
    assert [j.speaker for j in await jobs(redis)] == ["mixed"]
    files = place(base_path(root, "m2", 1, ARRIVED))
    await index_call(
        sessions,
        job_queuer(sessions, redis),
        call_id="m2",
        city="xa",
        seat_id="1001",
        root=root,
        arrived_at=ARRIVED,
        started_at=ARRIVED,
        keep_mixed=False,
    )
    assert not files["mixed"].exists()
    assert sorted(r.speaker for r in await rows(sessions) if r.call_id == "m2") == [
        "caller",
        "seat",
    ]


async def test_unreadable_file_is_indexed_and_queued(
    tmp_path: Path, redis: Redis, sessions: async_sessionmaker[AsyncSession]
) -> None:
    root = tmp_path / "rec"
    files = speaker_files(base_path(root, "bad", 1, ARRIVED))
    files["caller"].parent.mkdir(parents=True)
    files["caller"].write_bytes(b"")
    await index_call(
        sessions,
        job_queuer(sessions, redis),
        call_id="bad",
        city="xa",
        seat_id="1001",
        root=root,
        arrived_at=ARRIVED,
        started_at=ARRIVED,
    )
    (row,) = await rows(sessions)
    assert (row.format, row.duration_s, row.size_bytes) == ("unreadable", 0.0, 0)
    assert [j.recording_id for j in await jobs(redis)] == [row.id]  # the worker records why


async def test_no_files_no_rows(
    tmp_path: Path, redis: Redis, sessions: async_sessionmaker[AsyncSession]
) -> None:
    assert (
        await index_call(
            sessions,
            job_queuer(sessions, redis),
            call_id="none",
            city="xa",
            seat_id="1001",
            root=tmp_path,
            arrived_at=ARRIVED,
            started_at=ARRIVED,
        )
        == []
    )
    assert await redis.exists(keys.ASR_STREAM) == 0


async def test_prune_keeps_qa_and_open_tickets(
    tmp_path: Path, redis: Redis, sessions: async_sessionmaker[AsyncSession]
) -> None:
    root = tmp_path / "rec"
    old = ARRIVED - timedelta(days=200)
    for call in ("old", "qa", "ticket", "closed", "gone"):
        place(base_path(root, call, 1, old), ("caller",))
        await index_call(
            sessions,
            job_queuer(sessions, redis),
            call_id=call,
            city="xa",
            seat_id="1001",
            root=root,
            arrived_at=old,
            started_at=old,
        )
    place(base_path(root, "new", 1, ARRIVED), ("caller",))
    await index_call(
        sessions,
        job_queuer(sessions, redis),
        call_id="new",
        city="xa",
        seat_id="1001",
        root=root,
        arrived_at=ARRIVED,
        started_at=ARRIVED,
    )
    async with sessions.begin() as s:
        for rec in (await s.scalars(select(Recording))).all():
            rec.qa_hold = rec.call_id == "qa"
        for call, status in (("ticket", "办理中"), ("closed", "办结")):
            s.add(
                Ticket(
                    call_id=call,
                    caller_number="13800000001",
                    category="c",
                    request_type="投诉",
                    summary="s",
                    location=None,
                    tier_days=3,
                    accepted_at=old,
                    due_at=old,
                    status=status,
                )
            )
    by_call = {r.call_id: Path(r.path) for r in await rows(sessions)}
    by_call["gone"].unlink()

    dry = await prune(sessions, days=180, now=ARRIVED, held=calls_with_open_tickets, dry_run=True)
    assert sorted(dry.deleted) == sorted(str(by_call[c]) for c in ("old", "closed", "gone"))
    assert all(p.exists() for c, p in by_call.items() if c != "gone")

    report = await prune(sessions, days=180, now=ARRIVED, held=calls_with_open_tickets)
    assert sorted(report.deleted) == sorted(str(by_call[c]) for c in ("old", "closed"))
    assert report.missing == [str(by_call["gone"])]
    assert (report.kept_qa, report.kept_ticket) == (1, 1)
    assert report.freed_bytes == 2 * SOURCE["caller"].stat().st_size
    assert {c: p.exists() for c, p in by_call.items()} == {
        "old": False,
        "qa": True,
        "ticket": True,
        "closed": False,
        "gone": False,
        "new": True,
    }
    deleted = {r.call_id for r in await rows(sessions) if r.deleted_at is not None}
    assert deleted == {"old", "closed", "gone"}
    again = await prune(sessions, days=180, now=ARRIVED, held=calls_with_open_tickets)
    assert again.deleted == [] and again.missing == []


async def test_controller_names_the_files_and_indexes_them_when_the_call_ends(
    tmp_path: Path, redis: Redis, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Through the simulator: HL_REC comes from the policy; the files MixMonitor would write
    (the simulator writes none; the test puts the real capture's files there) are indexed."""
    pbx = SimPbx("xa", {"1001": SeatBehaviour(answer_after_s=0.1, talk_s=0.6)})
    server = AmiServer(pbx, secret="sim")
    port = await server.start()
    city = City(name="xa", ami=AmiEndpoint(port=port, secret="sim"))
    settings = Settings(cities=[city], recordings_dir=tmp_path / "rec")
    acd = Acd(redis, cities=("xa",))
    await acd.login(SeatSpec("1001", "xa", {Skill.general: 1}, "PJSIP/1001"))
    await acd.ready("1001")
    runtime = build(city, settings, redis, sessions)
    link, controller = runtime.link, runtime.controller
    controller.settings = AcdSettings(
        recordings=str(settings.resolved_recordings_dir), wrapup_s={"general": 0}
    )
    await link.start()
    await link.wait_up(20)
    runner = asyncio.create_task(runtime.run(tick_s=0.1))
    placed = datetime.now(UTC)
    chan = pbx.place_call(CallerScript("13800000001", "1", patience_s=30))
    loop = asyncio.get_running_loop()
    end = loop.time() + 30
    while "HL_REC" not in chan.variables:
        assert loop.time() < end, "no HL_REC set"
        await asyncio.sleep(0.02)
    hl_rec = chan.variables["HL_REC"]
    place(hl_rec)
    while not pbx.finished:
        assert loop.time() < end, "call did not finish"
        await asyncio.sleep(0.05)
    # The jobs are queued after the rows are committed: wait for them, not for the rows.
    while len(await jobs(redis)) < 2:
        assert loop.time() < end, "nothing indexed and queued"
        await asyncio.sleep(0.05)
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)
    await link.close()
    await server.stop()

    # The UTC day of arrival (the test may run across midnight).
    days = (placed, datetime.now(UTC))
    assert hl_rec in {base_path(tmp_path / "rec", chan.linkedid, 1, d) for d in days}
    got = await rows(sessions)
    assert sorted((r.speaker, r.call_id, r.seat_id, r.city) for r in got) == [
        (s, chan.linkedid, "1001", "xa") for s in ("caller", "mixed", "seat")
    ]
    assert sorted(j.speaker for j in await jobs(redis)) == ["caller", "seat"]
