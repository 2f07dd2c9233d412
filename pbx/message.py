"""One AMI message: ordered headers, repeated headers kept, missing ones loud."""

from __future__ import annotations

from collections.abc import Iterator


class MissingField(KeyError):
    """A header the code relies on is absent; names the message and the header."""

    def __init__(self, what: str, key: str) -> None:
        super().__init__(f"{what} has no {key!r} header")
        self.what = what
        self.key = key

    def __str__(self) -> str:
        return str(self.args[0])


class Message:
    """Headers of one message. First value per key in ``headers``; repeats in ``multi``.

    ``msg["Channel"]`` raises MissingField when absent (never an empty string standing in);
    ``msg.get("Channel")`` returns None.
    """

    __slots__ = ("headers", "multi")

    def __init__(self, headers: dict[str, str], multi: dict[str, list[str]] | None = None) -> None:
        self.headers = headers
        self.multi = multi

    @property
    def kind(self) -> str:
        h = self.headers
        if "Event" in h:
            return "event"
        if "Response" in h:
            return "response"
        if "Action" in h:
            return "action"
        return "unknown"

    @property
    def name(self) -> str:
        h = self.headers
        return h.get("Event") or h.get("Response") or h.get("Action") or ""

    @property
    def action_id(self) -> str | None:
        return self.headers.get("ActionID")

    def describe(self) -> str:
        return f"{self.kind} {self.name}".strip()

    def __getitem__(self, key: str) -> str:
        try:
            return self.headers[key]
        except KeyError:
            raise MissingField(self.describe(), key) from None

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.headers.get(key, default)

    def getall(self, key: str) -> list[str]:
        if self.multi and key in self.multi:
            return list(self.multi[key])
        value = self.headers.get(key)
        return [] if value is None else [value]

    def __contains__(self, key: object) -> bool:
        return key in self.headers

    def __iter__(self) -> Iterator[str]:
        return iter(self.headers)

    def items(self) -> list[tuple[str, str]]:
        """Every header in wire order, repeats included."""
        if not self.multi:
            return list(self.headers.items())
        out: list[tuple[str, str]] = []
        for key, value in self.headers.items():
            out.append((key, value))
            out.extend((key, extra) for extra in self.multi.get(key, [])[1:])
        return out

    def as_dict(self) -> dict[str, str | list[str]]:
        out: dict[str, str | list[str]] = dict(self.headers)
        if self.multi:
            out.update({k: list(v) for k, v in self.multi.items()})
        return out

    def __repr__(self) -> str:
        return f"Message({self.as_dict()!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Message) and self.as_dict() == other.as_dict()

    __hash__ = None  # type: ignore[assignment]


_STARTERS = ("Event", "Response")


def parse_block(text: str) -> tuple[list[Message], list[str]]:
    """Parse a block into messages.

    A block normally holds one message. When a blank line was lost, a second ``Event:`` or
    ``Response:`` line starts a new message instead of silently merging two into one.
    """
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    lines = text.split("\n")
    # Fast path, taken by almost every real message: every line is "Key: Value", no repeats.
    try:
        fast = dict(line.split(": ", 1) for line in lines)
    except ValueError:
        pass
    else:
        if len(fast) == len(lines) and "" not in fast:
            return [Message(fast)], []
    return _parse_slow(lines)


def _parse_slow(lines: list[str]) -> tuple[list[Message], list[str]]:
    messages: list[Message] = []
    bad: list[str] = []
    headers: dict[str, str] = {}
    multi: dict[str, list[str]] | None = None
    for line in lines:
        idx = line.find(": ")
        if idx > 0:
            key, value = line[:idx], line[idx + 2 :]
        elif idx == -1 and line.endswith(":") and len(line) > 1 and " " not in line:
            key, value = line[:-1], ""
        else:
            if line:
                bad.append(line)
            continue
        if key in _STARTERS and headers:
            messages.append(Message(headers, multi))
            headers, multi = {}, None
        if key in headers:
            if multi is None:
                multi = {}
            multi.setdefault(key, [headers[key]]).append(value)
        else:
            headers[key] = value
    if headers:
        messages.append(Message(headers, multi))
    return messages, bad
