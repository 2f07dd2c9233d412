"""Rows and domain objects → response bodies."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from acd.callbacks.store import OUTCOME_LABELS
from acd.callbacks.tables import CallbackTask
from acd.calls.tables import CallRecord, CallTransfer
from acd.queue.types import SeatView
from api import schemas as s
from api.models import AuditEntry, QaAppeal, QaAssignment, QaComment, QaScore, SeatProfile, User
from asr.draft.model import Draft
from asr.models import CallDraft, Transcript
from recording.models import Recording
from tickets.models import Department, Ticket


def seat_state(view: SeatView) -> s.SeatStateOut:
    return s.SeatStateOut(
        seat_id=view.seat_id,
        city=view.city,
        state=view.state.value,
        reason=view.reason,
        skills={k.value: v for k, v in view.skills.items()},
        call_id=view.call_id,
        since_ms=view.since_ms,
    )


def offline_seat(seat_id: str) -> s.SeatStateOut:
    return s.SeatStateOut(
        seat_id=seat_id,
        city=None,
        state="offline",
        reason=None,
        skills={},
        call_id=None,
        since_ms=0,
    )


def call(row: CallRecord) -> s.CallOut:
    return s.CallOut(
        call_id=row.call_id,
        city=row.city,
        caller_num=row.caller_num,
        skill=row.skill,
        entered_at=row.entered_at,
        answered_at=row.answered_at,
        ended_at=row.ended_at,
        seat_id=row.seat_id,
        answer_city=row.answer_city,
        overflowed=row.overflowed,
        outcome=row.outcome,
    )


def live_call(call_id: str, info: dict[str, str]) -> s.CallOut:
    """A call the ACD holds whose record is not written yet."""
    return s.CallOut(
        call_id=call_id,
        city=info.get("city", ""),
        caller_num=info.get("caller", ""),
        skill=info.get("skill"),
        state=info.get("state"),
        seat_id=info.get("seat"),
    )


def ticket(row: Ticket) -> s.TicketOut:
    return s.TicketOut(
        id=row.id,
        number=row.number,
        call_id=row.call_id,
        category=row.category,
        request_type=row.request_type,
        summary=row.summary,
        status=row.status,
        accepted_at=row.accepted_at,
        due_at=row.due_at,
    )


def draft_from_json(data: dict[str, Any]) -> Draft:
    names = {f.name for f in dataclasses.fields(Draft)}
    values = {k: v for k, v in data.items() if k in names}
    for key in ("urgency_words", "emotion_trend"):
        values[key] = tuple(values.get(key) or ())
    due = values.get("due_at")
    values["due_at"] = datetime.fromisoformat(due) if isinstance(due, str) else None
    return Draft(**values)


def draft(row: CallDraft) -> s.DraftOut:
    try:
        labelled = draft_from_json(row.draft).labelled()
    except (TypeError, ValueError):  # a draft of an older shape: show the raw fields
        labelled = [(str(k), str(v)) for k, v in row.draft.items()]
    return s.DraftOut(
        call_id=row.call_id,
        draft=row.draft,
        labelled=labelled,
        source=row.source,
        updated_at=row.updated_at,
    )


def callback(row: CallbackTask, last_outcome: str | None = None) -> s.CallbackOut:
    return s.CallbackOut(
        id=row.id,
        number=row.number,
        city=row.city,
        skill=row.skill,
        source=row.source,
        call_id=row.call_id,
        waited_s=row.waited_s,
        created_at=row.created_at,
        status=row.status,
        attempts=row.attempts,
        reason=row.reason,
        last_outcome=last_outcome,
        last_outcome_label=OUTCOME_LABELS.get(last_outcome, last_outcome) if last_outcome else None,
    )


def transfer(row: CallTransfer) -> s.TransferOut:
    return s.TransferOut(
        id=row.id,
        kind=row.kind,
        department_id=row.department_id,
        number=row.number,
        seat_id=row.seat_id,
        stay=row.stay,
        result=row.result,
        requested_at=row.requested_at,
        answered_at=row.answered_at,
        seat_left_at=row.seat_left_at,
        ended_at=row.ended_at,
    )


def recording(row: Recording) -> s.RecordingOut:
    return s.RecordingOut(
        id=row.id,
        call_id=row.call_id,
        attempt=row.attempt,
        speaker=row.speaker,
        format=row.format,
        duration_s=row.duration_s,
        started_at=row.started_at,
        seat_id=row.seat_id,
    )


def transcript(row: Transcript) -> s.TranscriptOut:
    return s.TranscriptOut(
        recording_id=row.recording_id,
        call_id=row.call_id,
        speaker=row.speaker,
        text=row.text,
        segments=[
            s.SegmentOut(
                speaker=seg.speaker,
                start_s=seg.start_s,
                end_s=seg.end_s,
                text=seg.text,
                confidence=seg.confidence,
            )
            for seg in row.segments
        ],
    )


def score(row: QaScore) -> s.ScoreOut:
    return s.ScoreOut(
        id=row.id,
        call_id=row.call_id,
        rubric_id=row.rubric_id,
        reviewer=row.reviewer,
        scores=row.scores,
        total=row.total,
        max_total=row.max_total,
        remark=row.remark,
        item_remarks=dict(row.item_remarks or {}),
        created_at=row.created_at,
    )


def assignment(row: QaAssignment, record: CallRecord | None = None) -> s.AssignmentOut:
    return s.AssignmentOut(
        id=row.id,
        call_id=row.call_id,
        seat_id=row.seat_id,
        reviewer=row.reviewer,
        assigned_by=row.assigned_by,
        assigned_at=row.assigned_at,
        status=row.status,
        score_id=row.score_id,
        done_at=row.done_at,
        call=call(record) if record is not None else None,
    )


def appeal(row: QaAppeal, of: QaScore | None = None) -> s.AppealOut:
    return s.AppealOut(
        id=row.id,
        score_id=row.score_id,
        call_id=row.call_id,
        seat_id=row.seat_id,
        appellant=row.appellant,
        reason=row.reason,
        created_at=row.created_at,
        status=row.status,
        resolved_by=row.resolved_by,
        resolved_at=row.resolved_at,
        resolution=row.resolution,
        old_scores=row.old_scores,
        old_total=row.old_total,
        score=score(of) if of is not None else None,
    )


def comment(row: QaComment) -> s.CommentOut:
    return s.CommentOut(
        id=row.id,
        call_id=row.call_id,
        author=row.author,
        at_s=row.at_s,
        text=row.text,
        created_at=row.created_at,
    )


def user(row: User) -> s.UserOut:
    return s.UserOut(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        role=row.role,
        seat_id=row.seat_id,
        active=row.active,
        cities=list(row.cities or ()),
    )


def seat_profile(row: SeatProfile) -> s.SeatProfileOut:
    return s.SeatProfileOut(
        seat_id=row.seat_id, city=row.city, skills=dict(row.skills), endpoint=row.endpoint
    )


def department(row: Department) -> s.DepartmentOut:
    return s.DepartmentOut(
        id=row.id,
        name=row.name,
        number=row.number,
        duty_hours=row.duty_hours,
        categories=list(row.categories),
    )


def audit(row: AuditEntry) -> s.AuditOut:
    return s.AuditOut(
        id=row.id,
        at=row.at,
        username=row.username,
        action=row.action,
        target=row.target,
        call_id=row.call_id,
        detail=row.detail,
    )
