"""Reports for dispatchers and leaders: the weekly report as JSON (the /reports page draws it)
and the documents the weekly job stored."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse

from api.auth import Principal, require
from api.deps import Deps, ReadSessionsDep
from api.errors import Invalid
from reports import archive
from reports.document import FORMATS
from reports.period import WEEK_RE, BadWeek, last_full_week, week_of
from reports.weekly import build_weekly, report_json
from store.errors import NotFound

router = APIRouter(prefix="/api/reports", tags=["reports"])
ReportUser = Annotated[Principal, Depends(require("dispatcher", "admin", "leader"))]
WeekParam = Annotated[str | None, Query(pattern=WEEK_RE.pattern, description="e.g. 2026-W48")]
MEDIA = {
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
assert set(MEDIA) == set(FORMATS)


@router.get("/weekly")
async def weekly(
    who: ReportUser, deps: Deps, sessions: ReadSessionsDep, week: WeekParam = None
) -> dict[str, Any]:
    """The weekly report (周报) of an ISO week; default: the last week that has ended."""
    try:
        tz = deps.city_timezone
        period = week_of(week, tz) if week else last_full_week(datetime.now(UTC), tz)
    except BadWeek as exc:
        raise Invalid(str(exc)) from None
    async with sessions() as session:
        return report_json(await build_weekly(session, period))


@router.get("/files")
async def files(who: ReportUser, deps: Deps) -> list[dict[str, Any]]:
    """The reports the weekly job stored, newest week first."""
    if deps.reports_dir is None:
        return []
    return [
        {
            "name": r.name,
            "week": r.week,
            "format": r.format,
            "size": r.size,
            "written_at": r.written_at.isoformat(timespec="seconds"),
        }
        for r in archive.listing(deps.reports_dir)
    ]


@router.get("/files/{name}")
async def stored(name: str, who: ReportUser, deps: Deps) -> FileResponse:
    path = archive.stored_path(deps.reports_dir, name) if deps.reports_dir else None
    if path is None:
        raise NotFound(f"no stored report {name}")
    fmt = path.suffix.lstrip(".")
    return FileResponse(path, media_type=MEDIA[fmt], filename=name)
