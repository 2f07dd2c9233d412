"""A Redis client's retry that waits out a server restart, bounded by time.

In store/ (the lowest layer) because the controller process (hotline/) and the chaos rows'
seat operators (chaos/, which may not import hotline/) both use it."""

from __future__ import annotations

import time
from typing import Any

from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

# How long a controller's Redis command waits for the server to come back (a restart, a
# failover) before it fails; tries at most every OUTAGE_STEP_S.
OUTAGE_RETRY_S = 30.0
OUTAGE_STEP_S = 0.5


class OutageRetry(Retry):
    """redis-py's Retry, bounded by time instead of a count: each command (and each
    connection attempt) is tried again on ConnectionError/TimeoutError, backing off from
    50 ms to OUTAGE_STEP_S, until ``within_s`` have passed since its first try."""

    def __init__(self, within_s: float = OUTAGE_RETRY_S) -> None:
        super().__init__(ExponentialBackoff(cap=OUTAGE_STEP_S, base=0.025), retries=-1)
        self.within_s = within_s

    async def call_with_retry(
        self,
        do: Any,
        fail: Any,
        is_retryable: Any = None,
        with_failure_count: bool = False,
    ) -> Any:
        end = time.monotonic() + self.within_s

        def still(error: Exception) -> bool:
            return time.monotonic() < end and (is_retryable is None or is_retryable(error))

        return await super().call_with_retry(do, fail, still, with_failure_count)


def outage_retry(within_s: float = OUTAGE_RETRY_S) -> Retry:
    """For the controller's connections: a Redis restart is waited out (the routing pass,
    an ACD script, a call's record go through when the server is back) instead of failing
    every loop at once. Not for the API, whose requests should fail fast."""
    return OutageRetry(within_s)
