"""Mirror the ACD's seat states to app_queue's fallback queues (AMI QueuePause).

The dialplan's fallback Queue() rings the static members of queues.conf. app_queue knows
nothing of the ACD, so without this a seat paused (小休) or logged out in the ACD, or one in
wrap-up, would be rung by the fallback (issue 13). Every seat that is not ``ready`` in the ACD
is paused in every queue it belongs to, and unpaused when it is ready again. With no
controller running nothing is paused, so the fallback still rings every member: Asterisk
starts its static members unpaused (persistentmembers = no).

What was last sent is remembered per seat; after a reconnect everything is sent again (an
Asterisk that restarted has forgotten its pauses).
"""

from __future__ import annotations

import logging
from typing import Any

from acd.queue.types import SeatState
from pbx import actions as act
from pbx.link import AmiLink
from store import keys

log = logging.getLogger(__name__)


class QueueMirror:
    def __init__(self, city: str, link: AmiLink, redis: Any) -> None:
        self.city = city
        self.link = link
        self.redis = redis
        self._sent: dict[str, bool] = {}  # endpoint -> paused, as app_queue last heard it
        self._not_member: set[str] = set()  # endpoints app_queue has in no queue

    def forget(self) -> None:
        """The link (re)connected: app_queue may have restarted; send everything again."""
        self._sent.clear()
        self._not_member.clear()

    async def sync(self) -> None:
        seat_ids = sorted(await self.redis.smembers(keys.acd_city_seats(self.city)))
        if not seat_ids:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for seat_id in seat_ids:
                pipe.hmget(keys.acd_seat(seat_id), ["state", "endpoint", "reason"])
            rows = await pipe.execute()
        for seat_id, (state, endpoint, reason) in zip(seat_ids, rows, strict=True):
            if not endpoint or not state or endpoint in self._not_member:
                continue
            paused = state != SeatState.ready
            if self._sent.get(endpoint) is paused:
                continue
            try:
                action = act.queue_pause(endpoint, paused, reason=reason or state)
            except act.ActionValueError as exc:
                log.warning("acd %s: seat %s not mirrored: %s", self.city, seat_id, exc)
                self._not_member.add(endpoint)
                continue
            try:
                await self.link.send(action)
            except act.AmiError as exc:
                # "Interface not found": the seat is in no fallback queue; do not ask again.
                log.info("acd %s: seat %s not in a fallback queue: %s", self.city, seat_id, exc)
                self._not_member.add(endpoint)
                continue
            except (act.ActionNotSent, TimeoutError) as exc:
                log.warning("acd %s: QueuePause for seat %s not sent: %s", self.city, seat_id, exc)
                return  # the link is down; the next sync after the reconnect sends it
            self._sent[endpoint] = paused
