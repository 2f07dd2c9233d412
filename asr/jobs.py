"""ASR jobs on a Redis Stream: one entry per recording to transcribe.

Any number of workers on any number of machines read the stream in one consumer group; an
entry a dead worker held is claimed again with XAUTOCLAIM once it has been idle long enough.
Finishing is idempotent (the transcript is unique per recording), so a job finished twice
still leaves one transcript.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from store import keys

STREAM_MAXLEN = 100_000  # trimmed approximately; acknowledged entries are history only


class JobError(ValueError):
    """A stream entry that is not a job (written by something else, or damaged)."""


@dataclass(frozen=True)
class Job:
    recording_id: int
    call_id: str
    city: str
    speaker: str
    path: str

    def fields(self) -> dict[str, str]:
        return {
            "recording_id": str(self.recording_id),
            "call_id": self.call_id,
            "city": self.city,
            "speaker": self.speaker,
            "path": self.path,
        }

    @classmethod
    def parse(cls, fields: dict[str, str]) -> Job:
        try:
            return cls(
                int(fields["recording_id"]),
                fields["call_id"],
                fields.get("city", ""),
                fields["speaker"],
                fields["path"],
            )
        except (KeyError, ValueError) as exc:
            raise JobError(f"not an ASR job: {fields!r} ({exc})") from None


async def enqueue(redis: Redis, job: Job) -> str:
    return (await enqueue_all(redis, [job]))[0]


async def enqueue_all(redis: Redis, jobs: list[Job]) -> list[str]:
    """Add the jobs in one MULTI/EXEC: all of them go on the stream, or none."""
    if not jobs:
        return []
    async with redis.pipeline(transaction=True) as pipe:
        for job in jobs:
            pipe.xadd(
                keys.ASR_STREAM,
                job.fields(),  # type: ignore[arg-type]
                maxlen=STREAM_MAXLEN,
                approximate=True,
            )
        return [str(entry_id) for entry_id in await pipe.execute()]


async def ensure_group(redis: Redis) -> None:
    try:
        await redis.xgroup_create(keys.ASR_STREAM, keys.ASR_GROUP, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise
