"""A one-shot AMI check for `hotline doctor`: reachable, banner, login accepted.

Deliberately tiny and independent of the live link, so it diagnoses exactly one thing.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from dataclasses import dataclass

_UNSAFE = re.compile(r"[\r\n\x00]")


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    detail: str


async def _read_message(reader: asyncio.StreamReader) -> dict[str, str]:
    fields: dict[str, str] = {}
    while True:
        line = (await reader.readline()).decode("utf-8", "replace").rstrip("\r\n")
        if not line:
            if fields:
                return fields
            if reader.at_eof():
                raise ConnectionError("connection closed by Asterisk")
            continue
        key, _, value = line.partition(": ")
        fields.setdefault(key, value)


async def probe(
    host: str,
    port: int,
    username: str,
    secret: str,
    timeout: float = 3.0,  # noqa: ASYNC109
) -> ProbeResult:
    if _UNSAFE.search(username) or _UNSAFE.search(secret):
        return ProbeResult(False, "username or secret contains CR, LF or NUL")
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (TimeoutError, OSError) as exc:
        if isinstance(exc, TimeoutError):
            reason = "timed out"
        elif isinstance(exc, ConnectionRefusedError):
            reason = "connection refused (nothing listens there)"
        else:
            reason = exc.strerror or str(exc)
        return ProbeResult(False, f"cannot connect to {host}:{port}: {reason}")
    try:
        banner = (await asyncio.wait_for(reader.readline(), timeout)).decode("utf-8", "replace")
        if not banner.startswith("Asterisk Call Manager/"):
            return ProbeResult(
                False, f"{host}:{port} is not an AMI endpoint (banner {banner.strip()!r})"
            )
        writer.write(
            (
                f"Action: Login\r\nActionID: doctor-1\r\nUsername: {username}\r\n"
                f"Secret: {secret}\r\nEvents: off\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        while True:
            msg = await asyncio.wait_for(_read_message(reader), timeout)
            if msg.get("ActionID") == "doctor-1" or "Response" in msg:
                break
        if msg.get("Response") != "Success":
            return ProbeResult(False, f"login refused: {msg.get('Message', 'no message')}")
        writer.write(b"Action: Logoff\r\nActionID: doctor-2\r\n\r\n")
        await writer.drain()
        return ProbeResult(True, f"{host}:{port} {banner.strip()}, login accepted")
    except (TimeoutError, ConnectionError, OSError) as exc:
        return ProbeResult(False, f"{host}:{port}: {exc or 'timed out'}")
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
