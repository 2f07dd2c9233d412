"""MixMonitor in the simulator: three real WAV files per answered call, speech per speaker."""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path

from loadgen.record import RecordingClient
from pbx import actions as act
from recording.audio import being_written
from sim import recorder as rec
from sim.ami_server import AmiServer
from sim.engine import CallerScript, SeatBehaviour, SimPbx
from tests.conftest import AMI_FIXTURES


def _files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.rglob("*") if p.is_file())


def _read(path: Path) -> tuple[tuple[int, int, int], memoryview]:
    with wave.open(str(path), "rb") as w:
        shape = (w.getframerate(), w.getsampwidth(), w.getnchannels())
        return shape, memoryview(w.readframes(w.getnframes())).cast("h")


def test_three_files_in_the_captures_format_one_speaker_each(tmp_path: Path) -> None:
    real, _ = _read(AMI_FIXTURES / "mixmonitor_per_speaker-in.wav")
    main, caller, seat = rec.Recorder("zh").write_now(str(tmp_path / "c-1"), 12.0)
    assert [p.name for p in (main, caller, seat)] == ["c-1.wav", "c-1-in.wav", "c-1-out.wav"]
    (s_mix, mixed), (s_in, a), (s_out, b) = _read(main), _read(caller), _read(seat)
    assert s_mix == s_in == s_out == real == (8000, 2, 1)
    assert len(mixed) == len(a) == len(b) == 12 * 8000
    assert not any(x and y for x, y in zip(a, b, strict=True)), "both sides talk at once"
    assert all(m == x + y for m, x, y in zip(mixed, a, b, strict=True))
    # Each side has speech (at least a second of it), and the seat speaks first.
    assert sum(1 for x in a if x) > 8000 and sum(1 for y in b if y) > 8000
    first_a = next(i for i, x in enumerate(a) if x)
    first_b = next(i for i, y in enumerate(b) if y)
    assert first_b < first_a
    assert list(a[:first_b]) == [0] * first_b  # silence while the other side speaks


def test_clips_are_cached_on_disk(tmp_path: Path) -> None:
    one = rec.Recorder("ko", cache_dir=tmp_path)
    pcm = one.clip("감사합니다")
    files = list(tmp_path.glob("*.pcm"))
    assert len(files) == 1 and files[0].read_bytes() == pcm
    rec._CLIPS.clear()  # a new process: memory cache gone, disk cache kept
    files[0].write_bytes(pcm[: len(pcm) // 2])  # prove the second read comes from the disk
    assert rec.Recorder("ko", cache_dir=tmp_path).clip("감사합니다") == pcm[: len(pcm) // 2]
    rec._CLIPS.clear()


async def test_the_files_are_complete_when_the_caller_hangs_up(tmp_path: Path) -> None:
    pbx = SimPbx(
        "xa", {"1001": SeatBehaviour(answer_after_s=0.05, talk_s=1.5)}, recorder=rec.Recorder()
    )
    server = AmiServer(pbx, username="u", secret="s")
    client = RecordingClient("t")
    await client.connect(await server.start())
    try:
        login = act.Action("Login", (("Username", "u"), ("Secret", "s")))
        await client.send(login)
        chan = pbx.place_call(CallerScript("13800001111", route_skill="general")).name
        await client.wait_event("UserEvent", UserEvent="HotlineRoute")
        base = tmp_path / "rec" / "call-1"
        for name, value in (("SEAT", "PJSIP/1001"), ("RING_TIMEOUT", "5"), ("HL_REC", str(base))):
            await client.send(act.setvar(name, value, channel=chan))
        await client.send(act.redirect(chan, "acd-connect", "s"))
        start = await client.wait_event("MixMonitorStart")
        assert start["Channel"] == chan and "File" not in start  # as the real event
        await client.wait_event("BridgeEnter", Channel=chan)
        # While talking, as Asterisk's format_wav: the files are open, header sizes zero.
        names = ["call-1-in.wav", "call-1-out.wav", "call-1.wav"]
        assert _files(tmp_path) == names
        assert all(being_written(base.with_name(n)) for n in names)
        assert base.with_name("call-1.wav").read_bytes() == rec.open_header()
        await client.wait_event("Hangup", Channel=chan)
        await pbx.recordings_written()
        assert _files(tmp_path) == names
        assert not any(being_written(base.with_name(n)) for n in names)
        shape, samples = _read(base.with_name("call-1.wav"))
        assert shape == (8000, 2, 1)
        assert abs(len(samples) / 8000 - 1.5) < 0.3  # the talk time, not the ringing
    finally:
        await client.close()
        await server.stop()


async def test_no_audio_unless_asked(tmp_path: Path) -> None:
    pbx = SimPbx("xa", {"1001": SeatBehaviour(answer_after_s=0.01, talk_s=0.05)})
    chan = pbx.place_call(CallerScript("13800001111", patience_s=5, route_skill="general"))
    while chan.context != "acd-wait":  # parked: the Redirect has something to interrupt
        await asyncio.sleep(0.01)
    for name, value in (("SEAT", "PJSIP/1001"), ("HL_REC", str(tmp_path / "x"))):
        pbx.setvar(chan.name, name, value)
    assert pbx.redirect(chan.name, "acd-connect", "s")
    assert chan.task is not None
    await chan.task
    await pbx.recordings_written()
    assert pbx.finished[-1]["outcome"] == "answered"
    assert not _files(tmp_path)


def test_cli_writes_a_korean_call(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from hotline.cli import app

    base = tmp_path / "ko-call"
    res = CliRunner().invoke(
        app, ["sim", "recording", str(base), "--language", "ko", "--seconds", "6"]
    )
    assert res.exit_code == 0, res.output
    shape, samples = _read(tmp_path / "ko-call-in.wav")
    assert shape == (8000, 2, 1) and len(samples) == 6 * 8000 and any(samples)
    bad = CliRunner().invoke(app, ["sim", "recording", str(base), "--language", "fr"])
    assert bad.exit_code == 2
