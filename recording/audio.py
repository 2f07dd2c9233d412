"""Reading what Asterisk writes: WAV header facts, and PCM for the recognizer (pydub).

Asterisk writes 16-bit PCM WAV by default (``.wav``); ``.wav49``/GSM and μ-law WAV appear when
a site configures them. pydub reads PCM WAV itself and needs ffmpeg for the others, so the
header is read first: a compressed file without ffmpeg, a truncated file, an empty file or a
file that is not audio at all each get an error that says which.
"""

from __future__ import annotations

import io
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path

from pydub import AudioSegment

# WAVE format tags (mmreg.h); the ones Asterisk can write, plus A-law for completeness.
_FORMATS = {1: "wav-pcm16", 6: "wav-alaw", 7: "wav-ulaw", 49: "wav-gsm", 0xFFFE: "wav-ext"}
_NEEDS_FFMPEG = {"wav-alaw", "wav-ulaw", "wav-gsm"}


class AudioError(ValueError):
    """The file cannot be read as audio; the message names the file and the reason."""


@dataclass(frozen=True)
class WavInfo:
    format: str  # wav-pcm16, wav-ulaw, wav-gsm, ...
    channels: int
    sample_rate: int
    bits: int
    duration_s: float
    data_bytes: int


def _chunks(path: Path, blob: bytes) -> dict[bytes, tuple[int, int]]:
    """RIFF chunk id -> (offset of its data, declared size)."""
    if len(blob) == 0:
        raise AudioError(f"{path}: empty file")
    if len(blob) < 12 or blob[:4] != b"RIFF" or blob[8:12] != b"WAVE":
        raise AudioError(f"{path}: not a WAV file (no RIFF/WAVE header)")
    found: dict[bytes, tuple[int, int]] = {}
    at = 12
    while at + 8 <= len(blob):
        cid, size = blob[at : at + 4], struct.unpack_from("<I", blob, at + 4)[0]
        found.setdefault(cid, (at + 8, size))
        if cid == b"data":
            break  # the data runs to the end; a bad size there is judged by the caller
        at += 8 + size + (size & 1)
    return found


def being_written(path: Path) -> bool:
    """True while a writer still holds the file open, as far as its header tells: Asterisk's
    WAV writer puts a header with zero sizes at the start and fills them in when it closes
    the file (MixMonitor closes it after the hang-up, not at it). A file too short to hold
    a header counts as being written; a file that is not a WAV at all does not (reading it
    later will not help, and the ASR job records why)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(4096)
        size = path.stat().st_size
    except OSError:
        return False
    if len(head) < 44:
        return True
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return False
    riff_size = struct.unpack_from("<I", head, 4)[0]
    data = _chunks(path, head).get(b"data")
    if riff_size == 0:
        return True
    return data is not None and data[1] == 0 and size > data[0]


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise AudioError(f"{path}: cannot read: {exc.strerror or exc}") from None


def probe(path: Path, blob: bytes | None = None) -> WavInfo:
    """Facts from the header, checked against the file's real length."""
    if blob is None:
        blob = _read(path)
    chunks = _chunks(path, blob)
    if b"fmt " not in chunks or chunks[b"fmt "][1] < 16:
        raise AudioError(f"{path}: WAV without a format chunk")
    if chunks[b"fmt "][0] + 16 > len(blob):
        raise AudioError(f"{path}: truncated WAV (the file ends inside its header)")
    fmt_at, _ = chunks[b"fmt "]
    tag, channels, rate, byte_rate, _align, bits = struct.unpack_from("<HHIIHH", blob, fmt_at)
    if tag == 0xFFFE and chunks[b"fmt "][1] >= 26:
        tag = struct.unpack_from("<H", blob, fmt_at + 24)[0]  # WAVE_FORMAT_EXTENSIBLE subformat
    fmt = _FORMATS.get(tag, f"wav-tag{tag}")
    if tag == 1 and bits != 16:
        fmt = f"wav-pcm{bits}"
    if b"data" not in chunks:
        raise AudioError(f"{path}: truncated WAV (no data chunk)")
    data_at, declared = chunks[b"data"]
    present = len(blob) - data_at
    if declared > present:
        raise AudioError(
            f"{path}: truncated WAV (header says {declared} bytes of audio, file has {present})"
        )
    if channels < 1 or rate < 1 or byte_rate < 1:
        raise AudioError(f"{path}: WAV header with {channels} channels at {rate} Hz")
    return WavInfo(fmt, channels, rate, bits, declared / byte_rate, declared)


def ffmpeg_available() -> bool:
    return shutil.which(AudioSegment.converter) is not None


def load(path: Path) -> AudioSegment:
    """The file as a pydub segment; compressed WAV goes through ffmpeg."""
    blob = _read(path)
    info = probe(path, blob)
    if info.data_bytes == 0:
        raise AudioError(f"{path}: WAV with no audio")
    if info.format in _NEEDS_FFMPEG and not ffmpeg_available():
        raise AudioError(
            f"{path}: {info.format} audio needs ffmpeg to decode, and ffmpeg is not installed "
            "(`make sysdeps` installs it, or: apt-get install ffmpeg)"
        )
    try:
        return AudioSegment.from_file(io.BytesIO(blob), format="wav")
    except Exception as exc:  # pydub raises bare exceptions of several kinds (and ffmpeg's)
        reason = str(exc).strip().splitlines()[-1:] or [type(exc).__name__]
        raise AudioError(f"{path}: cannot decode {info.format}: {reason[0]}") from None


def to_pcm16(segment: AudioSegment, rate: int) -> list[bytes]:
    """One 16-bit mono little-endian PCM buffer at ``rate`` per channel (stereo is split)."""
    channels = segment.split_to_mono() if segment.channels > 1 else [segment]
    out: list[bytes] = []
    for mono in channels:
        mono = mono.set_sample_width(2)
        if mono.frame_rate != rate:
            mono = mono.set_frame_rate(rate)
        out.append(bytes(mono.raw_data))
    return out
