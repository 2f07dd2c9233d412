"""政策知识库: suggestions for seats from the live draft, and for the `knowledge` role the
entries, proposals, approval (by another editor or an admin) and import/export."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from api import schemas_kb as sk
from api.auth import Principal, require
from api.deps import SessionsDep
from api.errors import Invalid
from api.services import knowledge as svc
from knowledge.models import KbEntry, KbRevision
from knowledge.service import Draft
from store.base import utcnow

router = APIRouter(prefix="/api/kb", tags=["knowledge"])
Reader = Annotated[Principal, Depends(require("seat", "knowledge", "dispatcher", "admin"))]
Editor = Annotated[Principal, Depends(require("knowledge", "admin"))]
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0)]
Format = Annotated[Literal["csv", "md"], Query()]


def _entry(e: KbEntry) -> sk.EntryOut:
    return sk.EntryOut(
        id=e.id, title=e.title, body=e.body, category=e.category, department=e.department,
        valid_from=e.valid_from, valid_to=e.valid_to, source=e.source, tags=list(e.tags),
        version=e.version, withdrawn=e.withdrawn,
    )  # fmt: skip


def _revision(r: KbRevision) -> sk.RevisionOut:
    return sk.RevisionOut(
        id=r.id, entry_id=r.entry_id, base_version=r.base_version, title=r.title, body=r.body,
        category=r.category, department=r.department, valid_from=r.valid_from,
        valid_to=r.valid_to, source=r.source, tags=list(r.tags), state=r.state,
        author=r.author, reviewer=r.reviewer, note=r.note, created_at=r.created_at,
        decided_at=r.decided_at,
    )  # fmt: skip


@router.get("/suggestions")
async def suggestions(
    who: Reader,
    sessions: SessionsDep,
    q: Annotated[str, Query(min_length=1, max_length=2000)],
    limit: Annotated[int, Query(ge=1, le=20)] = 5,
) -> sk.SuggestionsOut:
    """Entries that answer the words (a question, the live draft's summary, a transcript);
    expired, not yet valid and withdrawn entries never."""
    hint, hits = await svc.suggest(sessions, q, utcnow(), limit)
    return sk.SuggestionsOut(hint=hint, hits=[sk.HitOut(**h.__dict__) for h in hits])


@router.get("/entries")
async def entries(
    who: Reader,
    sessions: SessionsDep,
    limit: Limit = 50,
    offset: Offset = 0,
    category: Annotated[str | None, Query(max_length=64)] = None,
    title: Annotated[str | None, Query(max_length=200)] = None,
) -> list[sk.EntryOut]:
    """Entries not withdrawn (expired and not yet valid ones too), newest change first."""
    found = await svc.entries(sessions, limit, offset, category, title)
    return [_entry(e) for e in found]


@router.get("/entries/{entry_id}/revisions", responses={404: {}})
async def history(entry_id: RowId, who: Editor, sessions: SessionsDep) -> list[sk.RevisionOut]:
    """The entry's versions and proposals, newest first (the page diffs them)."""
    return [_revision(r) for r in await svc.history(sessions, entry_id)]


@router.get("/entries/{entry_id}", responses={404: {}})
async def entry(entry_id: RowId, who: Reader, sessions: SessionsDep) -> sk.EntryOut:
    return _entry(await svc.entry(sessions, entry_id))


@router.post("/entries/{entry_id}/withdraw", status_code=204, responses={404: {}})
async def withdraw(entry_id: RowId, who: Editor, sessions: SessionsDep) -> Response:
    """Take an entry out of search at once (a policy repealed)."""
    await svc.withdraw(sessions, entry_id)
    return Response(status_code=204)


@router.post("/revisions", status_code=201, responses={404: {}, 422: {}})
async def propose(body: sk.RevisionIn, who: Editor, sessions: SessionsDep) -> sk.RevisionOut:
    """A new entry, or a change of ``entry_id`` at its current version; pending review."""
    draft = Draft(
        title=body.title, body=body.body, category=body.category, valid_from=body.valid_from,
        valid_to=body.valid_to, department=body.department, source=body.source,
        tags=tuple(body.tags),
    )  # fmt: skip
    return _revision(await svc.propose(sessions, draft, who.username, body.entry_id))


@router.get("/revisions")
async def pending(
    who: Editor, sessions: SessionsDep, limit: Limit = 50, offset: Offset = 0
) -> list[sk.RevisionOut]:
    """Revisions waiting for review, oldest first."""
    return [_revision(r) for r in await svc.pending(sessions, limit, offset)]


@router.post("/revisions/{revision_id}/decision", responses={404: {}, 409: {}, 422: {}})
async def decide(
    revision_id: RowId, body: sk.DecisionIn, who: Editor, sessions: SessionsDep
) -> sk.RevisionOut:
    """Approve (publish: the version goes up, search follows) or reject; not one's own."""
    rev = await svc.decide(sessions, revision_id, who.username, body.approve, body.note)
    return _revision(rev)


@router.post("/import", responses={413: {}, 422: {}})
async def import_file(
    who: Editor, request: Request, sessions: SessionsDep, format: Format
) -> sk.KbImportOut:
    """A CSV or Markdown file as the body; each good entry becomes a pending revision, each
    bad one comes back with its line and reason."""
    try:
        text = (await request.body()).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Invalid("文件须为 UTF-8 编码") from None
    proposed, bad = await svc.import_file(sessions, text, format, who.username)
    return sk.KbImportOut(
        proposed=proposed, bad=[{"line": b.line, "reason": b.reason} for b in bad]
    )


@router.get("/export", response_class=Response)
async def export(who: Editor, sessions: SessionsDep, format: Format) -> Response:
    """Every published entry as CSV or Markdown."""
    body = await svc.export(sessions, format)
    media = "text/csv" if format == "csv" else "text/markdown"
    return Response(body, media_type=f"{media}; charset=utf-8")
