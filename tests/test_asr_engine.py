"""The transcription pipeline (pydub, resampling, splitting, chunking) against raw Vosk.

With dither off, decoding is deterministic: what the pipeline returns must be word for word
what Vosk returns when it is fed the same samples directly. The character error rate against
the synthesized text is printed, not asserted (espeak-ng's Korean is hard for the model).
"""

from __future__ import annotations

import audioop
import wave
from pathlib import Path

import pytest

from asr.engine import ChannelResult, Transcriber, model_rate
from tests.asr_support import SENTENCES, cer, fresh_pipeline, raw_vosk, raw_vosk_fresh, sox

# One test worker runs every test that decodes (one model in memory, not one per worker).
# A kept Vosk recognizer's output can depend on what it decoded before, so the exact
# comparisons with raw Vosk give both sides the same history (tests/asr_support.py:
# fresh_pipeline, FreshEachFile, raw_vosk_fresh), whatever ran before them.
pytestmark = pytest.mark.xdist_group("vosk")


def _texts(channel: ChannelResult) -> list[str]:
    return [s.text for s in channel.segments]


def _upsample_like_the_model_hears(src: Path, dst: Path, rate: int) -> Path:
    """The stdlib's ratecv, written out as a WAV: raw Vosk then gets the model's rate."""
    with wave.open(str(src)) as w:
        frames, width, channels, src_rate = (
            w.readframes(w.getnframes()),
            w.getsampwidth(),
            w.getnchannels(),
            w.getframerate(),
        )
    data, _ = audioop.ratecv(frames, width, channels, src_rate, rate, None)
    with wave.open(str(dst), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(width)
        out.setframerate(rate)
        out.writeframes(data)
    return dst


def test_model_rate_is_read_from_its_config(asr_model_dir: Path) -> None:
    assert model_rate(asr_model_dir) == 16000


@pytest.mark.parametrize("name", ["noise", "weather"])
def test_16k_pipeline_equals_raw_vosk(
    transcriber: Transcriber, speech_dir: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = speech_dir / f"{name}-16k.wav"
    result = fresh_pipeline(transcriber).transcribe_file(path)
    [raw] = raw_vosk_fresh(transcriber.model, [path])
    assert len(result.channels) == 1
    assert _texts(result.channels[0]) == raw
    assert raw, "the model heard nothing at all: the test audio is broken"
    with capsys.disabled():  # reported, not asserted: shown without -s
        print(f"\nCER 16 kHz {name}: {cer(SENTENCES[name], result.text):.2f}  ({result.text})")


@pytest.mark.parametrize("name", ["noise", "thanks"])
def test_8k_pipeline_resamples_explicitly(
    transcriber: Transcriber,
    speech_dir: Path,
    tmp_path: Path,
    name: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = speech_dir / f"{name}-8k.wav"
    result = fresh_pipeline(transcriber).transcribe_file(path)
    same_samples = _upsample_like_the_model_hears(path, tmp_path / "up.wav", 16000)
    assert [_texts(result.channels[0])] == raw_vosk_fresh(transcriber.model, [same_samples])
    # A recognizer opened at 8 kHz lets Kaldi fit the 8 kHz spectrum to the 16 kHz model's
    # filter bank (allow-upsample) instead: other features, other words. Reported only.
    kaldi = " ".join(raw_vosk(transcriber.model, path))
    with capsys.disabled():
        print(
            f"\nCER 8 kHz {name}: pipeline {cer(SENTENCES[name], result.text):.2f}, "
            f"recognizer at 8 kHz {cer(SENTENCES[name], kaldi):.2f}"
        )


def test_word_timings_and_confidence(transcriber: Transcriber, speech_dir: Path) -> None:
    result = transcriber.transcribe_file(speech_dir / "noise-8k.wav")
    segments = result.channels[0].segments
    assert segments
    for seg in segments:
        assert 0 <= seg.start < seg.end <= result.duration_s + 0.1
        assert 0 < seg.confidence <= 1
        assert [w.word for w in seg.words] == seg.text.split()
        assert all(a.start <= b.start for a, b in zip(seg.words, seg.words[1:], strict=False))


def test_stereo_is_split_per_channel(
    transcriber: Transcriber, speech_dir: Path, tmp_path: Path
) -> None:
    left, right = speech_dir / "weather-16k.wav", speech_dir / "thanks-16k.wav"
    # Pad the shorter side so sox -M can merge; silence adds no words.
    stereo = tmp_path / "stereo.wav"
    sox("-M", str(left), str(right), str(stereo))
    result = fresh_pipeline(transcriber).transcribe_file(stereo)
    assert [c.channel for c in result.channels] == [0, 1]
    padded_left, padded_right = tmp_path / "l.wav", tmp_path / "r.wav"
    sox(str(stereo), str(padded_left), "remix", "1")
    sox(str(stereo), str(padded_right), "remix", "2")
    # One recognizer hears the left channel, then the right: so does raw Vosk's here.
    assert [_texts(c) for c in result.channels] == raw_vosk_fresh(
        transcriber.model, [padded_left, padded_right]
    )
    assert _texts(result.channels[0]) != _texts(result.channels[1])


def test_threads_share_one_model(transcriber: Transcriber, speech_dir: Path) -> None:
    """Two threads decode at once on one loaded model, each with a recognizer of its own, and
    get what a recognizer gets alone. Recognizers that never decoded before on both sides: a
    kept recognizer's output can depend on what it decoded earlier (README, known limits)."""
    from concurrent.futures import ThreadPoolExecutor

    def unused() -> Transcriber:  # the session's model, none of its recognizers
        return fresh_pipeline(transcriber)

    files = [speech_dir / "weather-16k.wav", speech_dir / "thanks-16k.wav"]
    alone = [unused().transcribe_file(f).text for f in files]
    shared = unused()
    with ThreadPoolExecutor(2) as pool:
        together = list(pool.map(lambda f: shared.transcribe_file(f).text, files))
    assert together == alone
    assert len(shared._idle) == 2  # two recognizers decoded at the same time
