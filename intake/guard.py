"""The abuse guard of the public intake, without a CAPTCHA: submissions per client address and
per phone number in a window (Redis counters), and a code sent to the phone that the citizen
types back before the message becomes a ticket. The sender is pluggable; the default writes
the code to the log (the demo, and a city that has not wired an SMS gateway yet)."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from dataclasses import dataclass
from typing import Any, Protocol

from redis.asyncio import Redis

from store import keys

log = logging.getLogger(__name__)


class TooMany(Exception):
    """Past a limit; ``code`` (stable for clients) names which: the address's or the phone's."""

    def __init__(self, message: str, retry_after_s: int, kind: str = "phone") -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.code = f"intake_too_many_{kind}"


class CodeRefused(ValueError):
    """A confirmation code refused; ``code`` is stable for clients, one per reason, so a page
    can tell the citizen whether to retype the code or ask for a new one."""

    code = "intake_code_refused"


class CodeWrong(CodeRefused):
    code = "intake_code_wrong"


class CodeExpired(CodeRefused):
    """Expired, or never held: the two look the same once the key has expired."""

    code = "intake_code_expired"


class CodeTries(CodeRefused):
    code = "intake_code_tries"


class CodeUsed(CodeRefused):
    code = "intake_code_used"


@dataclass(frozen=True)
class Limits:
    per_ip: int = 10  # submissions of one client address per window
    per_phone: int = 3  # submissions for one phone number per window
    window_s: int = 3600
    code_ttl_s: int = 600
    code_tries: int = 5


class CodeSender(Protocol):
    async def send(self, phone: str, text: str) -> None: ...


def masked(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 7 else "****"


class LogSender:
    """Writes the message to the log instead of sending it (the phone number masked)."""

    async def send(self, phone: str, text: str) -> None:
        log.info("intake code to %s: %s", masked(phone), text)


def _r(redis: Redis) -> Any:
    return redis  # redis-py's async stubs are unions of every reply shape


async def spend(redis: Redis, kind: str, who: str, limit: int, window_s: int) -> None:
    """Count one submission of ``who``; TooMany past ``limit`` in the window."""
    key = keys.intake_budget(kind, who)
    pipe = _r(redis).pipeline(transaction=True)
    pipe.set(key, 0, ex=window_s, nx=True)  # the window starts at the first submission
    pipe.incr(key)
    pipe.ttl(key)
    _, used, ttl = await pipe.execute()
    if int(used) > limit:
        what = "该网络地址" if kind == "ip" else "该手机号"
        raise TooMany(f"{what}提交过于频繁，请稍后再试", max(int(ttl), 1), kind)


def _digest(pending_id: str, code: str) -> str:
    return hashlib.sha256(f"{pending_id}:{code}".encode()).hexdigest()


async def _keep(
    redis: Redis, pending_id: str, code: str, payload: dict[str, Any], ttl_s: int
) -> None:
    key = keys.intake_pending(pending_id)
    pipe = _r(redis).pipeline(transaction=True)
    pipe.hset(key, mapping={"payload": json.dumps(payload), "digest": _digest(pending_id, code)})
    pipe.expire(key, ttl_s)
    await pipe.execute()


async def hold(
    redis: Redis, payload: dict[str, Any], phone: str, sender: CodeSender, limits: Limits
) -> str:
    """Keep the submission until its code comes back; send the code; the pending id."""
    pending_id = secrets.token_urlsafe(16)
    code = f"{secrets.randbelow(10**6):06d}"
    await _keep(redis, pending_id, code, payload, limits.code_ttl_s)
    minutes = limits.code_ttl_s // 60
    await sender.send(phone, f"【12345热线】您的验证码为 {code}，{minutes} 分钟内有效。")
    return pending_id


async def confirm(redis: Redis, pending_id: str, code: str, limits: Limits) -> dict[str, Any]:
    """The held submission, once: the DEL that removes it decides, so two confirmations at
    the same moment make one ticket. Each wrong code uses up a try."""
    key = keys.intake_pending(pending_id)
    r = _r(redis)
    tries = int(await r.hincrby(key, "tries", 1))
    stored = await r.hmget(key, "digest", "payload")
    if stored[0] is None:
        await r.delete(key)  # HINCRBY made a bare hash of an unknown or expired id
        raise CodeExpired("验证码已过期或提交不存在，请重新提交")
    if tries > limits.code_tries:
        await r.delete(key)
        raise CodeTries("验证码错误次数过多，请重新提交")
    if not hmac.compare_digest(stored[0], _digest(pending_id, code)):
        raise CodeWrong("验证码不正确")
    if not await r.delete(key):
        raise CodeUsed("该提交已确认")
    payload: dict[str, Any] = json.loads(stored[1])
    return payload


async def restore(
    redis: Redis, pending_id: str, code: str, payload: dict[str, Any], limits: Limits
) -> None:
    """Hold a submission again, under its id and code, for a whole code window: its code was
    right but what came after failed (the database, the disk), and that must not cost the
    citizen the message. The same code confirms it again."""
    await _keep(redis, pending_id, code, payload, limits.code_ttl_s)
