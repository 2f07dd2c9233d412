"""One call's transcript for review: the caller's and the seat's transcripts (each speaker's
side is transcribed on its own) interleaved on the timeline of the recording being played."""

from __future__ import annotations

from dataclasses import dataclass

from api.services import calls
from asr.models import Transcript
from recording.models import Recording
from store.errors import NotFound
from store.sessions import Sessions

# At equal start times the caller's line first: the seat usually answers what was said.
_ORDER = {"caller": 0, "seat": 1, "mixed": 2}


@dataclass(frozen=True)
class Line:
    speaker: str  # caller | seat | mixed (a mono mixed file cannot tell the two apart)
    start_s: float  # on the played recording's timeline
    end_s: float
    text: str
    confidence: float
    recording_id: int


@dataclass(frozen=True)
class CallTranscript:
    recording_id: int  # the recording the times refer to (the one the page plays)
    lines: list[Line]
    sources: list[int]  # recordings whose transcripts were read (for the audit log)
    pending: list[str]  # speakers recorded whose transcript is not there yet


def playable(recordings: list[Recording], recording_id: int | None) -> Recording:
    """The recording to play: the one asked for, else the mixed file (one whose audio is still
    stored first), else the first."""
    if not recordings:
        raise NotFound("该通话没有录音")
    if recording_id is not None:
        for rec in recordings:
            if rec.id == recording_id:
                return rec
        raise NotFound(f"recording {recording_id} is not of this call")
    ranked = sorted(recordings, key=lambda r: (r.speaker != "mixed", r.deleted_at is not None))
    return ranked[0]


def interleave(
    played: Recording, recordings: list[Recording], transcripts: list[Transcript]
) -> CallTranscript:
    """Segments of the played attempt's transcripts, shifted by when each file started
    relative to the played one, in time order. A mixed file's transcript is used only when
    neither speaker's is there (else every line would be shown twice)."""
    same = {r.id: r for r in recordings if r.attempt == played.attempt}
    texts = {t.recording_id: t for t in transcripts if t.recording_id in same}
    by_speaker = {same[rid].speaker: t for rid, t in texts.items()}
    sides = [t for sp, t in by_speaker.items() if sp in ("caller", "seat")]
    chosen = sides or ([by_speaker["mixed"]] if "mixed" in by_speaker else [])
    lines: list[Line] = []
    for t in chosen:
        shift = (same[t.recording_id].started_at - played.started_at).total_seconds()
        lines.extend(
            Line(
                speaker=seg.speaker,
                start_s=round(seg.start_s + shift, 3),
                end_s=round(seg.end_s + shift, 3),
                text=seg.text,
                confidence=seg.confidence,
                recording_id=t.recording_id,
            )
            for seg in t.segments
        )
    lines.sort(key=lambda ln: (ln.start_s, _ORDER.get(ln.speaker, 3), ln.end_s))
    recorded = {r.speaker for r in same.values()}
    wanted = ("caller", "seat") if recorded & {"caller", "seat"} else ("mixed",)
    pending = [sp for sp in wanted if sp in recorded and sp not in by_speaker]
    return CallTranscript(
        recording_id=played.id,
        lines=lines,
        sources=[t.recording_id for t in chosen],
        pending=pending,
    )


async def of_call(sessions: Sessions, call_id: str, recording_id: int | None) -> CallTranscript:
    recordings = await calls.recordings_of_call(sessions, call_id)
    played = playable(recordings, recording_id)
    transcripts = await calls.transcripts_of_call(sessions, call_id)
    return interleave(played, recordings, transcripts)
