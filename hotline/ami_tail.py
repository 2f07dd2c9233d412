"""`hotline ami tail CITY`: live high-level call events of one PBX, one JSON line each."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys

from hotline.controller import link_for
from hotline.settings import load_settings
from pbx.callevents import CallEvent


def _print(event: CallEvent) -> None:
    sys.stdout.write(json.dumps(event.to_json(), ensure_ascii=False) + "\n")
    sys.stdout.flush()


async def _tail(city_name: str) -> None:
    settings = load_settings()
    city = settings.city(city_name)
    link = link_for(city, None)
    link.pipeline.tracker.subscribe(_print)
    await link.start()
    try:
        await asyncio.Event().wait()
    finally:
        await link.close()


def tail(city: str) -> None:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_tail(city))
