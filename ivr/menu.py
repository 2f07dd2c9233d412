"""The menu schema: one YAML file per menu, validated before anything is compiled from it.

Menus stay one level deep (GB/T 33358 discourages deep IVR trees): a welcome, one choice,
then the caller is handed to the ACD. Everything callers hear is a prompt text in the YAML.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

# Skills the ACD knows (docs/dialplan-contract.md); `callback` is not a menu destination.
SKILLS = ("general", "enterprise", "foreign")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_ID = re.compile(r"^[a-z0-9][a-z0-9_]{0,23}$")
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_DAYS = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun)(-(mon|tue|wed|thu|fri|sat|sun))?$")
# Prompt texts become file names and espeak input; keep them free of dialplan syntax.
_UNSAFE_TEXT = re.compile(r"[,;()\[\]{}$\\|\r\n]")

Digit = Literal["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "#"]


class MenuError(ValueError):
    """A menu that cannot be compiled; the message names the file and every problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Window(_Strict):
    """One opening window: days `mon-fri` (or one day) and a time range `08:30-12:00`."""

    days: str = "mon-sun"
    time: str

    @field_validator("days")
    @classmethod
    def _days(cls, value: str) -> str:
        if not _DAYS.match(value):
            raise ValueError(
                f"days {value!r}: use a day or a range like mon-fri ({', '.join(DAYS)})"
            )
        return value

    @field_validator("time")
    @classmethod
    def _time(cls, value: str) -> str:
        start, sep, end = value.partition("-")
        if not sep or not _TIME.match(start) or not _TIME.match(end):
            raise ValueError(f"time {value!r}: use HH:MM-HH:MM, 24-hour clock")
        if start >= end:
            raise ValueError(f"time {value!r}: the window must end after it starts")
        return value


class ClosedAction(StrEnum):
    callback = "callback"  # offer a callback; declining goes to `goto`
    goto = "goto"  # play the closed prompt and go to the branch `goto`


class Closed(_Strict):
    action: ClosedAction
    prompt: str = Field(description="key in prompts: what callers hear outside opening hours")
    goto: str = Field(description="branch taken after the prompt or a declined callback offer")


class Branch(_Strict):
    name: str = Field(description="ascii id, part of context names and of IvrChoice Branch")
    label: str = Field(description="what staff read, e.g. 政企通")
    digits: list[Digit] = Field(min_length=1)
    skill: str
    priority: int = Field(0, ge=0, le=9)
    hours: list[Window] | None = Field(None, description="None: open 7x24")
    open_on_holidays: bool = True
    closed: Closed | None = None
    overload_offer: bool = Field(True, description="offer a callback when OVERLOAD_<CITY> is 1")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(f"branch name {value!r} must match {_ID.pattern}")
        return value

    @field_validator("skill")
    @classmethod
    def _skill(cls, value: str) -> str:
        if value not in SKILLS:
            raise ValueError(f"unknown skill {value!r}; known: {', '.join(SKILLS)}")
        return value

    @property
    def always_open(self) -> bool:
        return self.hours is None and self.open_on_holidays

    @model_validator(mode="after")
    def _closed_needed(self) -> Self:
        if not self.always_open and self.closed is None:
            raise ValueError(f"branch {self.name!r} has opening hours but no `closed` action")
        if self.hours is not None and not self.hours:
            raise ValueError(f"branch {self.name!r}: empty hours; omit `hours` for 7x24")
        return self


class Menu(_Strict):
    id: str = Field(description="ascii id: the dialplan context is ivr-<id>")
    timezone: str = "Asia/Shanghai"
    timeout: int = Field(5, ge=2, le=30, description="seconds WaitExten waits for a digit")
    max_invalid: int = Field(3, ge=1, le=5, description="invalid entries before the default")
    default: str = Field(description="branch for no input and after too many invalid entries")
    prompts: dict[str, Annotated[str, Field(min_length=1, max_length=200)]]
    branches: list[Branch] = Field(min_length=1, max_length=9)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(f"menu id {value!r} must match {_ID.pattern}")
        return value

    @field_validator("prompts")
    @classmethod
    def _prompts(cls, value: dict[str, str]) -> dict[str, str]:
        for key, text in value.items():
            if not _ID.match(key):
                raise ValueError(f"prompt key {key!r} must match {_ID.pattern}")
            if _UNSAFE_TEXT.search(text):
                raise ValueError(f"prompt {key!r} contains a character reserved by the dialplan")
        for key in ("welcome", "menu", "invalid"):
            if key not in value:
                raise ValueError(f"prompt {key!r} is required")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems: list[str] = []
        names = [b.name for b in self.branches]
        problems += [
            f"branch {n!r} defined twice" for n in sorted(set(names)) if names.count(n) > 1
        ]
        seen: dict[str, str] = {}
        for branch in self.branches:
            for digit in branch.digits:
                if digit in seen:
                    problems.append(f"digit {digit} used by {seen[digit]!r} and {branch.name!r}")
                seen[digit] = branch.name
        by_name = {b.name: b for b in self.branches}
        if self.default not in by_name:
            problems.append(f"default branch {self.default!r} does not exist")
        elif not by_name[self.default].always_open:
            problems.append(f"default branch {self.default!r} must be open 7x24")
        for branch in self.branches:
            problems += self._branch_refs(branch, by_name)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _branch_refs(self, branch: Branch, by_name: dict[str, Branch]) -> list[str]:
        problems: list[str] = []
        if branch.closed is not None:
            target = by_name.get(branch.closed.goto)
            if target is None:
                problems.append(
                    f"branch {branch.name!r}: closed.goto {branch.closed.goto!r} unknown"
                )
            elif target is branch or not target.always_open:
                problems.append(
                    f"branch {branch.name!r}: closed.goto must be another branch open 7x24"
                )
            if branch.closed.prompt not in self.prompts:
                problems.append(f"branch {branch.name!r}: no prompt {branch.closed.prompt!r}")
        needs = ["callback_offer", "callback_ok"] if self._offers_callback(branch) else []
        problems += [
            f"branch {branch.name!r} needs prompt {k!r}" for k in needs if k not in self.prompts
        ]
        return problems

    @staticmethod
    def _offers_callback(branch: Branch) -> bool:
        closed_cb = branch.closed is not None and branch.closed.action is ClosedAction.callback
        return branch.overload_offer or closed_cb

    def branch(self, name: str) -> Branch:
        for branch in self.branches:
            if branch.name == name:
                return branch
        raise KeyError(name)

    def prompt_file(self, key: str) -> str:
        """Sound name as the dialplan plays it (the channel language picks sounds/zh/)."""
        if key not in self.prompts:
            raise KeyError(f"menu {self.id}: no prompt {key!r}")
        return f"hl-{self.id}-{key}"


def load_menu(path: Path) -> Menu:
    """Read and validate one menu file; every problem is reported in one MenuError."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise MenuError(f"{path}: cannot read: {exc}") from None
    if not isinstance(data, dict):
        raise MenuError(f"{path}: expected a mapping at the top level")
    try:
        return Menu.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "menu"
            problems.append(f"{where}: {str(err['msg']).removeprefix('Value error, ')}")
        raise MenuError(f"{path}: " + "; ".join(problems)) from None
