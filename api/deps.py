"""What the API needs from the process that runs it, and typed FastAPI dependencies on it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from acd.commands.stream import ANSWER_WITHIN_S
from intake.guard import CodeSender, Limits, LogSender
from store.sessions import Sessions
from tickets.attachments import Limits as AttachmentLimits
from tickets.workdays import WorkCalendar

REPLY_PATH = "/api/ticket-replies/"  # 办结 with attachments: multipart, larger than JSON


@dataclass(frozen=True)
class AppDeps:
    """Connections and settings handed in by the composition root; no API-owned state."""

    redis: Redis
    engine: AsyncEngine
    cities: tuple[str, ...]
    city_labels: dict[str, str] = field(default_factory=dict)
    partners: dict[str, tuple[str, ...]] = field(default_factory=dict)  # overflow defaults
    # How long a request waits for the city's controller: longer than it may need to answer.
    command_timeout_s: float = ANSWER_WITHIN_S + 3.0
    token_ttl_s: int = 12 * 3600
    login_failures: int = 5  # failed logins per (username, client address) per window: 429
    login_ip_failures: int = 20  # failed logins per client address, any username, per window
    login_window_s: int = 300
    # Production: no /docs, no demo passwords; the pages and API are the same otherwise.
    production: bool = False
    streams_per_user: int = 5  # live streams (SSE) one user may hold open at once
    max_body_bytes: int = 64 * 1024  # larger request bodies get a 413 before they are read
    # Audio is served only from inside this directory (a symlink out of it is refused);
    # None: no audio is served at all.
    recordings_dir: Path | None = None
    # The stored reports (data_dir/reports, written by `hotline report schedule`); None: none.
    reports_dir: Path | None = None
    city_timezone: str = "Asia/Shanghai"  # reports count weeks in it
    sessions: Sessions | None = None  # default: one factory on the engine
    # Reports and statistics read here (a replica, HOTLINE_DATABASE_READ_URL); None: sessions.
    read_sessions: Sessions | None = None
    # Working days for ticket deadlines (HOTLINE_HOLIDAYS_FILE for years the package lacks).
    calendar: WorkCalendar = field(default_factory=WorkCalendar)
    # Public intake: where photos are written (None: photos are refused), the confirmation
    # code's sender, the abuse limits, the SMS gateway's shared token (None: no gateway).
    intake_dir: Path | None = None
    intake_sender: CodeSender = field(default_factory=LogSender)
    intake_limits: Limits = field(default_factory=Limits)
    intake_gateway_token: str | None = None
    # 办结 attachments: where they are written (None: refused) and their limits; the reply
    # route's body cap follows the limits (body_caps).
    attachments_dir: Path | None = None
    attachment_limits: AttachmentLimits = field(default_factory=AttachmentLimits)
    # Bodies under these paths may be larger than max_body_bytes: photos, imported files.
    large_bodies: tuple[tuple[str, int], ...] = (
        ("/api/intake/imports", 8 * 1024 * 1024),
        ("/api/kb/import", 8 * 1024 * 1024),
        ("/api/intake/", 9 * 1024 * 1024),
    )

    def body_caps(self) -> tuple[tuple[str, int], ...]:
        """large_bodies and the 办结 reply with its files (its cap from the attachment limits)."""
        return ((REPLY_PATH, self.attachment_limits.body_cap()), *self.large_bodies)

    def session_factory(self) -> Sessions:
        if self.sessions is not None:
            return self.sessions
        return async_sessionmaker(self.engine, expire_on_commit=False)


def get_deps(request: Request) -> AppDeps:
    value: AppDeps = request.app.state.deps
    return value


def get_sessions(request: Request) -> Sessions:
    value: Sessions = request.app.state.sessions
    return value


def get_read_sessions(request: Request) -> Sessions:
    deps: AppDeps = request.app.state.deps
    return deps.read_sessions or get_sessions(request)


Deps = Annotated[AppDeps, Depends(get_deps)]
SessionsDep = Annotated[Sessions, Depends(get_sessions)]
# Read-only aggregates that may lag the primary by a replica's delay: reports, statistics.
ReadSessionsDep = Annotated[Sessions, Depends(get_read_sessions)]
