"""Prompts: every sound the dialplan plays exists in the right format, matches its YAML text,
and regenerating it with the real espeak-ng and sox gives the committed bytes."""

from __future__ import annotations

import re
import subprocess
import sys
import wave
from pathlib import Path

import pytest

from ivr.prompts import MANIFEST, SOUNDS_DIR, all_prompts, chinese_number, manifest, synthesize

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "asterisk_conf"


def referenced() -> set[str]:
    names: set[str] = set()
    for conf in ("extensions.conf", "extensions_ivr.conf"):
        text = (CONF / conf).read_text(encoding="utf-8")
        names |= {m.group(1) for m in re.finditer(r"(?:Playback|Background)\((hl-[^)$]*)\)", text)}
        # computed names: hl-queue-pos-${...} -> the family prefix
        names |= {m.group(1) + "*" for m in re.finditer(r"Playback\((hl-[a-z-]+-)\$\{", text)}
    return names


def test_every_referenced_prompt_exists() -> None:
    files = {p.stem for p in SOUNDS_DIR.glob("*.wav")}
    refs = referenced()
    assert "hl-12345-welcome" in refs and "hl-queue-pos-*" in refs and "hl-queue-ewt-*" in refs
    for ref in refs:
        if ref.endswith("*"):
            family = {f for f in files if f.startswith(ref[:-1])}
            assert f"{ref[:-1]}1" in family and f"{ref[:-1]}over" in family, ref
        else:
            assert ref in files, f"{ref}.wav missing: run `make prompts`"


def test_files_match_the_yaml_texts() -> None:
    prompts = all_prompts()
    assert (SOUNDS_DIR / MANIFEST).read_text(encoding="utf-8") == manifest(prompts), (
        "a prompt text changed: run `make prompts`"
    )
    assert {p.stem for p in SOUNDS_DIR.glob("*.wav")} == set(prompts)  # no orphans


def test_format_8khz_16bit_mono_unclipped() -> None:
    for path in sorted(SOUNDS_DIR.glob("*.wav")):
        assert path.read_bytes()[20:22] == b"\x01\x00", f"{path.name}: not plain PCM"
        with wave.open(str(path)) as w:
            assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (8000, 2, 1)
            frames = w.readframes(w.getnframes())
            assert w.getnframes() > 4000, f"{path.name}: shorter than 0.5 s"
        samples = memoryview(frames).cast("h")
        peak = max(max(samples), -min(samples))
        # normalised to -3 dBFS (0.708 of full scale): loud enough, never clipped
        assert 0.6 * 32767 < peak < 0.75 * 32767, f"{path.name}: peak {peak}"


def test_regenerating_gives_identical_bytes(tmp_path: Path) -> None:
    prompts = all_prompts()
    for name in ("hl-12345-menu", "hl-queue-ewt-2", "hl-queue-sorry"):
        synthesize(prompts[name], tmp_path / f"{name}.wav")
        assert (tmp_path / f"{name}.wav").read_bytes() == (SOUNDS_DIR / f"{name}.wav").read_bytes()


def test_different_text_gives_different_audio(tmp_path: Path) -> None:
    synthesize("民生诉求请按一", tmp_path / "a.wav")
    synthesize("民生诉求请按二", tmp_path / "b.wav")
    assert (tmp_path / "a.wav").read_bytes() != (tmp_path / "b.wav").read_bytes()


@pytest.mark.parametrize(
    ("n", "counting", "text"),
    [
        (1, False, "一"),
        (2, False, "二"),
        (2, True, "两"),
        (10, False, "十"),
        (12, False, "十二"),
        (20, False, "二十"),
        (23, True, "二十三"),
        (99, False, "九十九"),
    ],
)
def test_chinese_number(n: int, counting: bool, text: str) -> None:
    assert chinese_number(n, counting) == text


def test_chinese_number_range() -> None:
    with pytest.raises(ValueError, match="outside"):
        chinese_number(0)


def test_make_prompts_reproduces_every_committed_file(tmp_path: Path) -> None:
    """What `make prompts` runs, into a scratch directory: same files, same bytes."""
    (tmp_path / "hl-removed-prompt.wav").write_bytes(b"RIFF")  # a prompt deleted from the YAML
    out = subprocess.run(
        [sys.executable, "-m", "ivr.prompts", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    made = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    committed = {p.name: p.read_bytes() for p in SOUNDS_DIR.iterdir()}
    assert made.keys() == committed.keys()
    changed = sorted(name for name in made if made[name] != committed[name])
    assert changed == [], f"stale prompts, run `make prompts`: {changed}"
