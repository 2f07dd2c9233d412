"""留言 batches from other platforms (人民网领导留言板, the provincial platform, ...) as CSV,
JSON or XLSX files. Every row is read on its own: a bad one is reported with its line and
reason and the others go on; a message id the platform sent before is reported as a duplicate
with the ticket it already became, so importing the same file twice makes no new ticket."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from intake.service import Drafter, Duplicate, IntakeError, Submission, accept
from tickets import channels
from tickets.service import TicketError
from tickets.workdays import CITY_TZ, WorkCalendar

FORMATS = ("csv", "json", "xlsx")
MAX_ROWS = 5000
PLATFORM = re.compile(r"^[a-z0-9_\-]{1,32}$")
# Column names as platforms export them, in English or Chinese.
ALIASES = {
    "message_id": ("message_id", "id", "留言编号", "编号"),
    "text": ("text", "content", "留言内容", "内容"),
    "phone": ("phone", "mobile", "联系电话", "电话"),
    "name": ("name", "姓名", "留言人"),
    "location": ("location", "address", "地点", "地址"),
    "received_at": ("received_at", "time", "留言时间", "时间"),
}


@dataclass(frozen=True)
class BadRow:
    line: int  # the file's line (CSV, XLSX: the header is line 1) or the item's number (JSON)
    reason: str


@dataclass
class Report:
    created: list[int] = field(default_factory=list)  # ticket ids
    duplicates: list[tuple[int, str, int]] = field(default_factory=list)  # line, id, ticket
    bad: list[BadRow] = field(default_factory=list)


class BatchError(ValueError):
    """The file as a whole cannot be read (format, header, size); no row was imported."""

    code = "intake_batch_refused"


def _pick(row: dict[str, Any], name: str) -> str:
    for alias in ALIASES[name]:
        value = row.get(alias)
        if value is not None and str(value).strip():
            return str(value).strip()
    return ""


def _csv_rows(data: bytes) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BatchError("CSV 须为 UTF-8 编码") from None
    reader = csv.DictReader(io.StringIO(text))
    for row in reader:
        yield reader.line_num, row


def _json_rows(data: bytes) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        parsed = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BatchError(f"JSON 无法解析: {exc}") from None
    items = parsed.get("messages") if isinstance(parsed, dict) else parsed
    if not isinstance(items, list):
        raise BatchError("JSON 须为留言数组，或含 messages 数组的对象")
    for i, item in enumerate(items, 1):
        yield i, item if isinstance(item, dict) else {}


def _xlsx_rows(data: bytes) -> Iterator[tuple[int, dict[str, Any]]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile, KeyError and its own errors alike
        raise BatchError(f"XLSX 无法读取: {type(exc).__name__}") from None
    rows = book.worksheets[0].iter_rows(values_only=True)
    header = [str(c).strip() if c is not None else "" for c in next(rows, ())]
    for line, values in enumerate(rows, 2):
        if any(v is not None for v in values):
            yield line, dict(zip(header, values, strict=False))
    book.close()


def rows_of(data: bytes, fmt: str) -> list[tuple[int, dict[str, Any]]]:
    readers = {"csv": _csv_rows, "json": _json_rows, "xlsx": _xlsx_rows}
    if fmt not in readers:
        raise BatchError(f"格式须为 {' / '.join(FORMATS)}")
    rows = list(readers[fmt](data))
    if len(rows) > MAX_ROWS:
        raise BatchError(f"一次最多导入 {MAX_ROWS} 条")
    return rows


def _raw(row: dict[str, Any], name: str) -> Any:
    return next((row[a] for a in ALIASES[name] if row.get(a) not in (None, "")), None)


def _when(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        # A spreadsheet's cell has no time zone: it is the city's time.
        return value if value.tzinfo else value.replace(tzinfo=CITY_TZ)
    if not str(value or "").strip():
        return None
    else:
        try:
            parsed = datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise IntakeError(f"留言时间不是日期时间: {str(value)[:40]!r}") from None
    if parsed.tzinfo is None:
        raise IntakeError("留言时间须带时区，例如 2026-12-01T09:30:00+08:00")
    return parsed


def submission(platform: str, row: dict[str, Any]) -> Submission:
    message_id = _pick(row, "message_id")
    if not message_id:
        raise IntakeError("缺少留言编号")
    if len(message_id) > 64:
        raise IntakeError("留言编号超过 64 个字符")
    phone = _pick(row, "phone")
    if not re.fullmatch(r"\+?[0-9\-]{3,32}", phone):
        raise IntakeError("联系电话缺失或格式不正确")
    sub = Submission(
        channel=channels.PLATFORM,
        text=_pick(row, "text"),
        phone=phone,
        name=_pick(row, "name"),
        location=_pick(row, "location")[:200] or None,
        platform=platform,
        message_id=message_id,
        received_at=_when(_raw(row, "received_at")),
    )
    sub.check()
    return sub


async def import_batch(
    session: AsyncSession,
    drafter: Drafter,
    platform: str,
    data: bytes,
    fmt: str,
    calendar: WorkCalendar,
) -> Report:
    if not PLATFORM.fullmatch(platform):
        raise BatchError("平台名须为 1-32 个小写字母、数字、- 或 _")
    report = Report()
    for line, row in rows_of(data, fmt):
        try:
            ticket = await accept(session, drafter, submission(platform, row), calendar)
        except Duplicate as dup:
            report.duplicates.append((line, _pick(row, "message_id"), dup.ticket_id))
        except (IntakeError, TicketError) as exc:
            report.bad.append(BadRow(line, str(exc)))
        else:
            report.created.append(ticket.id)
    return report
