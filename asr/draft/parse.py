"""Plain-text transcripts: one utterance per line, `caller:` or `seat:` first."""

from __future__ import annotations

from asr.draft.model import Speaker, Utterance

_PREFIXES: dict[str, Speaker] = {"caller": "caller", "seat": "seat"}


class TranscriptError(ValueError):
    """A transcript line cannot be read; the message names the line."""


def parse_transcript(text: str, source: str = "transcript") -> list[Utterance]:
    out: list[Utterance] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        head, sep, body = line.replace("：", ":", 1).partition(":")
        speaker = _PREFIXES.get(head.strip().lower())
        if not sep or speaker is None:
            raise TranscriptError(
                f"{source}:{number}: line must start with 'caller:' or 'seat:' ({line[:30]!r})"
            )
        out.append(Utterance(speaker, body.strip()))
    if not out:
        raise TranscriptError(f"{source}: no utterances")
    return out
