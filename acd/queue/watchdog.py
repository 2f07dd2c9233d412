"""The stuck-seat watchdog: seats left ringing or busy past their limits are reset.

A lost event (a DialEnd during a link drop, a callback leg whose end never came) can leave a
seat ``ringing`` or ``busy`` for ever; seen: callback desks stuck more than 3.5 minutes. A
seat over its limit is checked against what the PBX really has (CoreShowChannels): a seat
with a channel up is really ringing or talking and is never touched. Otherwise its call is
let go (a ringing caller goes back to its place in line; a talking one is ended as the ACD
ends any call) and the seat goes through wrap-up to ready. Each reset is logged with the seat
and the city, counted in Redis (``hotline_seats_reset_total`` on /metrics) and published on
the wallboard stream (skill ``watchdog``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from acd.queue.service import Acd
from acd.queue.types import SeatState
from pbx import actions as act
from pbx.link import AmiLink
from store import keys

log = logging.getLogger(__name__)

EndCall = Callable[[str], Awaitable[None]]


def resets_key(city: str) -> str:
    return f"{keys.PREFIX}:watchdog:resets:{city}"


def channel_seat(channel: str) -> str:
    """``PJSIP/1001-0000000a`` -> ``1001`` ('' for anything that is not a seat's phone)."""
    name = channel.split(";", 1)[0].rsplit("-", 1)[0]
    seat = name.partition("/")[2].split("@", 1)[0]
    return seat if seat.isalnum() else ""


class SeatWatchdog:
    def __init__(
        self,
        city: str,
        link: AmiLink,
        acd: Acd,
        end_call: EndCall,
        *,
        ringing_s: float,
        busy_s: float,
    ) -> None:
        self.city = city
        self.link = link
        self.acd = acd
        self.end_call = end_call
        self.limits = {SeatState.ringing: ringing_s * 1000, SeatState.busy: busy_s * 1000}

    async def _stuck(self, now: int) -> list[tuple[str, str, str, int]]:
        redis = self.acd.redis
        seat_ids = sorted(await redis.smembers(keys.acd_city_seats(self.city)))
        out = []
        for seat_id in seat_ids:
            state, since, call = await redis.hmget(
                keys.acd_seat(seat_id), ["state", "since", "call"]
            )
            limit = self.limits.get(state)
            if limit is not None and since and now - int(since) > limit:
                out.append((seat_id, state, call or "", now - int(since)))
        return out

    async def check(self, now: int) -> list[str]:
        """Reset the seats stuck past their limits that the PBX shows in no call."""
        stuck = await self._stuck(now)
        if not stuck:
            return []
        try:
            items = await self.link.send_list(act.core_show_channels())
        except (act.AmiError, act.ActionNotSent, TimeoutError) as exc:
            log.warning("watchdog %s: cannot list channels, nothing reset: %s", self.city, exc)
            return []
        up = {channel_seat(m.get("Channel") or "") for m in items}
        done = []
        for seat_id, state, call_id, stuck_ms in stuck:
            if seat_id in up:
                continue  # really ringing or talking on the PBX: never reset
            await self._reset(seat_id, state, call_id, stuck_ms, now)
            done.append(seat_id)
        return done

    async def _reset(self, seat_id: str, state: str, call_id: str, stuck_ms: int, now: int) -> None:
        redis = self.acd.redis
        if call_id:
            info = await redis.hgetall(keys.acd_call(call_id))
            if info.get("state") == "ringing" and info.get("seat") == seat_id:
                await self.acd.seat_missed(call_id)  # the caller keeps its place in line
            elif info:
                await self.end_call(call_id)
        await self.acd.force_wrapup(seat_id)
        log.warning(
            "watchdog %s: seat %s reset: %s for %d s with no channel on the PBX (call %s)",
            self.city,
            seat_id,
            state,
            stuck_ms // 1000,
            call_id or "-",
        )
        await redis.incr(resets_key(self.city))
        body = {
            "type": "seat_reset",
            "city": self.city,
            "seat_id": seat_id,
            "state": state,
            "stuck_s": stuck_ms // 1000,
            "call_id": call_id or None,
            "at": datetime.fromtimestamp(now / 1000, UTC).isoformat(timespec="seconds"),
        }
        entry = {
            "city": self.city,
            "skill": "watchdog",
            "data": json.dumps(body, ensure_ascii=False),
        }
        await redis.xadd(keys.STATS_STREAM, entry, maxlen=5000, approximate=True)
