"""Domain errors every package may raise; the API maps them to HTTP status codes in one place."""

from __future__ import annotations


class DomainError(Exception):
    """Base: a request the domain refuses. The message is safe to show to staff."""


class NotFound(DomainError):
    pass


class Conflict(DomainError):
    pass


class InvalidState(DomainError):
    """The thing exists but cannot do that now (a seat that is busy cannot go on break)."""


class Invalid(DomainError, ValueError):
    """A request whose fields are wrong (a missing field, a malformed id): the caller's
    mistake, shown to staff as such. A ValueError too, so validation code catches it as one."""
