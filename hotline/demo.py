"""`make demo`: the product on embedded defaults (SQLite, embedded Redis).

Runs until Ctrl-C, or for DEMO_SECONDS seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys

from hotline.serve import serve
from hotline.settings import ConfigError, load_settings


async def _run(seconds: float | None) -> None:
    settings = load_settings()
    host, port = settings.api.host, settings.api.port
    print(f"API:    http://{host}:{port}/", flush=True)
    print(f"health: http://{host}:{port}/health", flush=True)
    task = asyncio.create_task(serve(settings, host, port, True, []))
    if seconds is None:
        await task
        return
    await asyncio.sleep(seconds)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def main() -> None:
    raw = os.environ.get("DEMO_SECONDS")
    try:
        seconds = float(raw) if raw else None
    except ValueError:
        sys.exit(f"demo: DEMO_SECONDS={raw!r} is not a number")
    try:
        asyncio.run(_run(seconds))
    except ConfigError as exc:
        sys.exit(f"demo: {exc}")
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
