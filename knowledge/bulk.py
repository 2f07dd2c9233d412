"""Import and export of entries: CSV (one row each) and Markdown (a section each). An import
creates pending revisions for review, or publishes at once where the caller says so (the demo's
seed); a bad row is reported with its line and reason and the good rows are kept."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.models import KbEntry, KbRevision
from knowledge.service import Draft, KnowledgeError, publish
from store.base import utcnow

# A day without a time in a Markdown file is the city's (tickets' CITY_TZ; not imported: the
# two areas are independent).
CITY_TZ = ZoneInfo("Asia/Shanghai")
COLUMNS = ("title", "body", "category", "department", "valid_from", "valid_to", "source", "tags")


@dataclass(frozen=True)
class BadRow:
    line: int
    reason: str


def _when(value: str, line: int, name: str) -> datetime | None:
    if not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise KnowledgeError(f"{name} 不是日期时间: {value!r}") from None
    if parsed.tzinfo is None:
        raise KnowledgeError(f"{name} 须带时区，例如 2026-01-01T00:00:00+08:00")
    return parsed


def parse_csv(text: str) -> tuple[list[Draft], list[BadRow]]:
    reader = csv.DictReader(io.StringIO(text))
    missing = [
        c for c in ("title", "body", "category", "valid_from") if c not in (reader.fieldnames or [])
    ]
    if missing:
        return [], [BadRow(1, f"缺少列: {', '.join(missing)}")]
    good, bad = [], []
    for row in reader:
        line = reader.line_num
        try:
            valid_from = _when(row.get("valid_from") or "", line, "valid_from")
            if valid_from is None:
                raise KnowledgeError("valid_from 不能为空")
            draft = Draft(
                title=(row.get("title") or "").strip(),
                body=(row.get("body") or "").strip(),
                category=(row.get("category") or "").strip(),
                valid_from=valid_from,
                valid_to=_when(row.get("valid_to") or "", line, "valid_to"),
                department=(row.get("department") or "").strip() or None,
                source=(row.get("source") or "").strip(),
                tags=tuple(t for t in (row.get("tags") or "").split(";") if t.strip()),
            )
            if not draft.category:
                raise KnowledgeError("category 不能为空")
            draft.check()
            good.append(draft)
        except KnowledgeError as exc:
            bad.append(BadRow(line, str(exc)))
    return good, bad


def to_csv(entries: Sequence[KbEntry]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for e in entries:
        writer.writerow(
            [
                e.title, e.body, e.category, e.department or "", e.valid_from.isoformat(),
                e.valid_to.isoformat() if e.valid_to else "", e.source, ";".join(e.tags),
            ]
        )  # fmt: skip
    return out.getvalue()


def to_markdown(entries: Sequence[KbEntry]) -> str:
    parts = []
    for e in entries:
        # Days in the city's time: a policy valid from 1 January is not "31 December" in UTC.
        since = e.valid_from.astimezone(CITY_TZ)
        meta = [f"- 分类: {e.category}", f"- 版本: {e.version}", f"- 生效: {since:%Y-%m-%d}"]
        if e.department:
            meta.append(f"- 部门: {e.department}")
        if e.valid_to:
            meta.append(f"- 失效: {e.valid_to.astimezone(CITY_TZ):%Y-%m-%d}")
        if e.tags:
            meta.append(f"- 标签: {'、'.join(e.tags)}")
        if e.source:
            meta.append(f"- 来源: {e.source}")
        parts.append(f"## {e.title}\n\n" + "\n".join(meta) + f"\n\n{e.body}\n")
    return "\n".join(parts)


_MD_FIELDS = {
    "分类": "category", "部门": "department", "生效": "valid_from", "失效": "valid_to",
    "标签": "tags", "来源": "source", "版本": "version",
}  # fmt: skip


def _day(value: str, name: str) -> datetime:
    """A day of the Markdown export (``2026-01-01``) is midnight in the city's time; a full
    time with its zone is taken as it is."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise KnowledgeError(f"{name} 不是日期: {value[:40]!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=CITY_TZ)


def _md_section(title: str, lines: list[str]) -> Draft:
    meta: dict[str, str] = {}
    body: list[str] = []
    for raw in lines:
        line = raw.strip()
        key, _, value = line[2:].partition(":") if line.startswith("- ") else ("", "", "")
        if not body and key.strip() in _MD_FIELDS and value:
            meta[_MD_FIELDS[key.strip()]] = value.strip()
        elif line or body:
            body.append(raw.rstrip())
    if "category" not in meta or "valid_from" not in meta:
        raise KnowledgeError("缺少“- 分类:”或“- 生效:”")
    draft = Draft(
        title=title.strip(),
        body="\n".join(body).strip(),
        category=meta["category"],
        valid_from=_day(meta["valid_from"], "生效"),
        valid_to=_day(meta["valid_to"], "失效") if meta.get("valid_to") else None,
        department=meta.get("department") or None,
        source=meta.get("source", ""),
        tags=tuple(t for t in re.split(r"[、;,，]", meta.get("tags", "")) if t.strip()),
    )
    draft.check()
    return draft


def parse_markdown(text: str) -> tuple[list[Draft], list[BadRow]]:
    """The sections of ``to_markdown``'s form: ``## title``, ``- 分类: ...`` lines, the body.
    A bad section is reported with the line of its title."""
    good, bad = [], []
    sections: list[tuple[int, str, list[str]]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("## "):
            sections.append((number, line[3:], []))
        elif sections:
            sections[-1][2].append(line)
        elif line.strip():
            bad.append(BadRow(number, "条目须以“## 标题”开始"))
    for number, title, lines in sections:
        try:
            good.append(_md_section(title, lines))
        except KnowledgeError as exc:
            bad.append(BadRow(number, str(exc)))
    return good, bad


async def import_drafts(
    session: AsyncSession, drafts: Sequence[Draft], author: str, *, publish_now: bool = False
) -> int:
    now = utcnow()
    for d in drafts:
        rev = KbRevision(
            title=d.title, body=d.body, category=d.category, department=d.department,
            valid_from=d.valid_from, valid_to=d.valid_to, source=d.source, tags=list(d.tags),
            author=author, state="pending",
        )  # fmt: skip
        session.add(rev)
        if publish_now:
            entry = await publish(session, rev, None, now)
            rev.entry_id, rev.state, rev.reviewer, rev.decided_at = (
                entry.id,
                "approved",
                author,
                now,
            )
    await session.commit()
    return len(drafts)


async def published(session: AsyncSession) -> list[KbEntry]:
    rows = await session.scalars(
        select(KbEntry).where(KbEntry.withdrawn.is_(False)).order_by(KbEntry.id)
    )
    return list(rows.all())
