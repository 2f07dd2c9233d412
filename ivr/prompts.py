"""Synthesize every prompt (menus and queue announcements) into asterisk_conf/sounds/zh/.

espeak-ng's `cmn-latn-pinyin` voice pronounces Chinese characters (the plain cmn/zh voices spell
them out as pinyin); sox converts to what Asterisk plays without transcoding: 8 kHz, 16-bit,
mono WAV. Without dithering (`-D`) and with fixed normalisation the output is byte-identical
from one run to the next, so the committed files can be checked. Run: `make prompts`.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from ivr.compile import MENUS_DIR, load_menus, prompt_files
from ivr.menu import MenuError
from ivr.revisit import load_revisit
from ivr.revisit import prompt_files as revisit_prompts

ROOT = Path(__file__).resolve().parents[1]
SOUNDS_DIR = ROOT / "asterisk_conf" / "sounds" / "zh"
ANNOUNCEMENTS = Path(__file__).resolve().parent / "announcements.yaml"
MANIFEST = "prompts.tsv"
VOICE = "cmn-latn-pinyin"
SPEED = 150  # words per minute; espeak's default 175 is hurried on a phone line
_DIGITS = "零一二三四五六七八九"


class PromptError(RuntimeError):
    """Synthesis failed (a tool is missing or refused the input)."""


class Counted(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    text: str = Field(pattern=r"\{n\}")
    max: int = Field(ge=1, le=99)
    over: str = Field(min_length=1)
    counting: bool = False


class Announcements(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    counted: dict[str, Counted]
    fixed: dict[str, str]


def chinese_number(n: int, counting: bool = False) -> str:
    """1..99 in characters as they are spoken: 二十三; with `counting`, 2 is 两 (两分钟)."""
    if not 1 <= n <= 99:
        raise ValueError(f"number {n} outside 1..99")
    if counting and n == 2:
        return "两"
    tens, ones = divmod(n, 10)
    head = "" if tens == 0 else ("十" if tens == 1 else _DIGITS[tens] + "十")
    return head + (_DIGITS[ones] if ones else "")


def announcement_prompts(path: Path = ANNOUNCEMENTS) -> dict[str, str]:
    spec = Announcements.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    out: dict[str, str] = {}
    for key, counted in spec.counted.items():
        for n in range(1, counted.max + 1):
            out[f"hl-queue-{key}-{n}"] = counted.text.format(n=chinese_number(n, counted.counting))
        out[f"hl-queue-{key}-over"] = counted.over
    out.update({f"hl-queue-{key}": text for key, text in spec.fixed.items()})
    return out


def all_prompts(menus_dir: Path = MENUS_DIR, announcements: Path = ANNOUNCEMENTS) -> dict[str, str]:
    """Sound name -> text, sorted by name."""
    prompts = {
        **prompt_files(load_menus(menus_dir)),
        **revisit_prompts(load_revisit()),
        **announcement_prompts(announcements),
    }
    return dict(sorted(prompts.items()))


def manifest(prompts: dict[str, str]) -> str:
    """name<TAB>text per line: lets a test see that a text changed without re-synthesizing."""
    return "".join(f"{name}\t{text}\n" for name, text in prompts.items())


def _run(cmd: list[str], stdin: bytes | None = None) -> None:
    if shutil.which(cmd[0]) is None:
        raise PromptError(f"{cmd[0]} is not installed (Debian: apt-get install espeak-ng sox)")
    done = subprocess.run(cmd, input=stdin, capture_output=True, timeout=60, check=False)
    if done.returncode != 0:
        raise PromptError(f"{cmd[0]} failed: {done.stderr.decode(errors='replace').strip()}")


def synthesize(text: str, target: Path) -> None:
    """One prompt: espeak-ng (22 kHz) -> sox (8 kHz, 16-bit, mono, peak -3 dBFS, no dither)."""
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        # text on stdin, so no prompt text can be taken for an option
        _run(["espeak-ng", "-v", VOICE, "-s", str(SPEED), "-w", str(raw)], text.encode())
        out = Path(tmp) / "out.wav"
        _run(["sox", "-D", str(raw), "-r", "8000", "-b", "16", "-c", "1", str(out),
              "gain", "-n", "-3"])  # fmt: skip
        shutil.move(out, target)


def write_all(directory: Path = SOUNDS_DIR) -> list[str]:
    prompts = all_prompts()
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in prompts.items():
        synthesize(text, directory / f"{name}.wav")
    for old in directory.glob("*.wav"):
        if old.stem not in prompts:
            old.unlink()  # a prompt removed from the YAML
    (directory / MANIFEST).write_text(manifest(prompts), encoding="utf-8")
    return list(prompts)


def main(argv: list[str]) -> int:
    """`python -m ivr.prompts [DIR]`: synthesize into DIR (default asterisk_conf/sounds/zh)."""
    if len(argv) > 1:
        print("usage: python -m ivr.prompts [DIR]", file=sys.stderr)
        return 2
    directory = Path(argv[0]) if argv else SOUNDS_DIR
    try:
        names = write_all(directory)
    except (PromptError, MenuError) as exc:
        print(f"prompts: {exc}", file=sys.stderr)
        return 1
    print(f"prompts: {len(names)} files in {directory}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
