"""Reading what Asterisk writes: PCM, μ-law and GSM WAV; broken files give clear errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pydub import AudioSegment

from recording.audio import AudioError, load, probe, to_pcm16
from tests.asr_support import SENTENCES, sox, synth
from tests.conftest import AMI_FIXTURES

MIXMON = {s: AMI_FIXTURES / f"mixmonitor_per_speaker-{s}.wav" for s in ("in", "out", "mixed")}


def test_asterisk_files_are_16bit_pcm_8k() -> None:
    for path in MIXMON.values():
        info = probe(path)
        assert (info.format, info.channels, info.sample_rate, info.bits) == (
            "wav-pcm16",
            1,
            8000,
            16,
        )
        assert info.duration_s == pytest.approx(10.44)


def test_resampled_to_the_model_rate() -> None:
    (pcm,) = to_pcm16(load(MIXMON["in"]), 16000)
    assert len(pcm) == pytest.approx(10.44 * 16000 * 2, abs=4)


@pytest.mark.parametrize(("encoding", "fmt"), [("u-law", "wav-ulaw"), ("gsm-full-rate", "wav-gsm")])
def test_compressed_wav_goes_through_ffmpeg(tmp_path: Path, encoding: str, fmt: str) -> None:
    path = synth(SENTENCES["weather"], tmp_path / "x.wav", 8000, encoding)
    info = probe(path)
    assert info.format == fmt
    segment = load(path)
    assert segment.frame_rate == 8000
    assert abs(len(segment) / 1000 - info.duration_s) < 0.05


def test_compressed_wav_without_ffmpeg_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = synth(SENTENCES["weather"], tmp_path / "x.wav", 8000, "u-law")
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # this machine, as if ffmpeg were not installed
    monkeypatch.setattr(AudioSegment, "converter", "ffmpeg")
    with pytest.raises(AudioError, match=r"needs ffmpeg.*make sysdeps"):
        load(path)
    # PCM needs no ffmpeg at all.
    assert len(load(MIXMON["out"])) == 10440


def test_stereo_is_split(tmp_path: Path) -> None:
    stereo = tmp_path / "st.wav"
    sox("-M", str(MIXMON["in"]), str(MIXMON["out"]), str(stereo))
    left, right = to_pcm16(load(stereo), 8000)
    assert left == bytes(load(MIXMON["in"]).raw_data)
    assert right == bytes(load(MIXMON["out"]).raw_data)


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "e.wav").write_bytes(b"")
    with pytest.raises(AudioError, match="empty file"):
        load(tmp_path / "e.wav")


def test_not_audio(tmp_path: Path) -> None:
    (tmp_path / "n.wav").write_text("this is a ticket, not a recording\n" * 20)
    with pytest.raises(AudioError, match="not a WAV file"):
        load(tmp_path / "n.wav")


def test_truncated_wav(tmp_path: Path) -> None:
    blob = MIXMON["in"].read_bytes()
    (tmp_path / "t.wav").write_bytes(blob[: len(blob) // 3])
    with pytest.raises(AudioError, match=r"truncated WAV \(header says 167040 bytes"):
        load(tmp_path / "t.wav")
    (tmp_path / "h.wav").write_bytes(blob[:30])  # cut inside the header
    with pytest.raises(AudioError, match=r"truncated|format chunk"):
        load(tmp_path / "h.wav")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="cannot read"):
        load(tmp_path / "gone.wav")


def test_header_without_audio(tmp_path: Path) -> None:
    blob = MIXMON["in"].read_bytes()
    silent = tmp_path / "s.wav"
    shutil.copy(MIXMON["in"], silent)
    # RIFF header + fmt chunk + an empty data chunk: what MixMonitor leaves when no frame flowed.
    data_at = blob.index(b"data")
    silent.write_bytes(blob[:data_at] + b"data" + (0).to_bytes(4, "little"))
    with pytest.raises(AudioError, match="no audio"):
        load(silent)
