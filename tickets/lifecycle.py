"""The 工单 closed loop as one pure state machine: 受理 → 派单 → 签收 → 办理 → 办结 → 回访 → 销号.

No I/O here: :func:`decide` takes what the rules need to know about a ticket (:class:`Facts`),
who acts (:class:`Role`) and what they ask (:class:`Action`), and returns the next state with
the bookkeeping the step implies (:class:`Step`), or raises :class:`WrongState` (the API's 409)
or :class:`WrongRole` (403). The service applies a step to the row and writes the audit event;
deadlines are computed there, on the working-day calendar, because they need the clock.

The guarantees the tests hold it to, over every state × action and random action sequences:
- a unit replies only to a ticket it has signed (no ticket skips 签收);
- a ticket that needs a return visit (every 政企通 ticket, a share of the others) is closed only
  after one: satisfied, or reviewed by a dispatcher after an unsatisfied one;
- a deadline moves only when a dispatcher approves an extension (or a reopen starts a new one).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum


class State(StrEnum):
    ACCEPTED = "受理"  # taken in: waiting for a dispatcher (or answered directly)
    DISPATCHED = "已派单"  # sent to a unit: waiting for it to sign
    IN_PROGRESS = "办理中"  # signed by the unit
    RETURNED = "已退单"  # the unit says it is not its matter: back to the dispatcher
    FINISHED = "已办结"  # the unit (or the seat, for a direct answer) replied
    VISITED = "已回访"  # the citizen was satisfied (满意 / 基本满意)
    REVIEW = "待审核"  # unsatisfied again after the last allowed reopen: a dispatcher decides
    CLOSED = "已销号"


class Action(StrEnum):
    DIRECT_ANSWER = "direct_answer"  # 直接答复
    DISPATCH = "dispatch"  # 派单 / 重新派单
    SIGN = "sign"  # 签收
    RETURN = "return"  # 退单
    REQUEST_EXTENSION = "request_extension"  # 申请延期
    DECIDE_EXTENSION = "decide_extension"  # 延期审批
    REPLY = "reply"  # 办结 (答复)
    VISIT = "visit"  # 回访
    SUPERVISE = "supervise"  # 督办
    CLOSE = "close"  # 销号
    MERGE = "merge"  # 合并: a duplicate of an open ticket is closed into it


LABELS = {
    Action.DIRECT_ANSWER: "直接答复",
    Action.DISPATCH: "派单",
    Action.SIGN: "签收",
    Action.RETURN: "退单",
    Action.REQUEST_EXTENSION: "申请延期",
    Action.DECIDE_EXTENSION: "审批延期",
    Action.REPLY: "办结",
    Action.VISIT: "回访",
    Action.SUPERVISE: "督办",
    Action.CLOSE: "销号",
    Action.MERGE: "合并",
}


class Role(StrEnum):
    SEAT = "seat"
    DISPATCHER = "dispatcher"
    UNIT = "unit"
    SYSTEM = "system"  # the automated IVR return visit
    ADMIN = "admin"


class Satisfaction(StrEnum):
    SATISFIED = "满意"
    BASICALLY = "基本满意"
    UNSATISFIED = "不满意"


OPEN_STATES = frozenset(State) - {State.CLOSED}

# Who may take each action. Admin may do what a dispatcher may (a city's supervisor at night).
ROLES: dict[Action, frozenset[Role]] = {
    Action.DIRECT_ANSWER: frozenset({Role.SEAT, Role.DISPATCHER, Role.ADMIN}),
    Action.DISPATCH: frozenset({Role.DISPATCHER, Role.ADMIN}),
    Action.SIGN: frozenset({Role.UNIT}),
    Action.RETURN: frozenset({Role.UNIT}),
    Action.REQUEST_EXTENSION: frozenset({Role.UNIT}),
    Action.DECIDE_EXTENSION: frozenset({Role.DISPATCHER, Role.ADMIN}),
    Action.REPLY: frozenset({Role.UNIT}),
    Action.VISIT: frozenset({Role.SEAT, Role.DISPATCHER, Role.SYSTEM, Role.ADMIN}),
    Action.SUPERVISE: frozenset({Role.DISPATCHER, Role.ADMIN}),
    Action.CLOSE: frozenset({Role.DISPATCHER, Role.ADMIN}),
    Action.MERGE: frozenset({Role.DISPATCHER, Role.ADMIN}),
}

# The states each action starts from; further conditions are checked in decide().
FROM: dict[Action, frozenset[State]] = {
    Action.DIRECT_ANSWER: frozenset({State.ACCEPTED}),
    # 改派: a dispatcher may correct a dispatch until the unit has signed.
    Action.DISPATCH: frozenset({State.ACCEPTED, State.RETURNED, State.DISPATCHED}),
    Action.SIGN: frozenset({State.DISPATCHED}),
    Action.RETURN: frozenset({State.DISPATCHED, State.IN_PROGRESS}),
    Action.REQUEST_EXTENSION: frozenset({State.IN_PROGRESS}),
    Action.DECIDE_EXTENSION: frozenset({State.IN_PROGRESS}),
    Action.REPLY: frozenset({State.IN_PROGRESS}),
    Action.VISIT: frozenset({State.FINISHED}),
    Action.SUPERVISE: frozenset({State.DISPATCHED, State.IN_PROGRESS, State.RETURNED}),
    Action.CLOSE: frozenset({State.FINISHED, State.VISITED, State.REVIEW}),
    Action.MERGE: frozenset({State.ACCEPTED}),
}


class LifecycleError(ValueError):
    """A step the rules refuse; ``code`` is stable for clients."""

    code = "ticket_refused"


class WrongState(LifecycleError):
    code = "ticket_wrong_state"


class WrongRole(LifecycleError):
    code = "ticket_wrong_role"


class BadArgument(LifecycleError):
    code = "ticket_bad_argument"


@dataclass(frozen=True)
class Facts:
    """What the rules need to know of a ticket."""

    state: State
    visit_required: bool = False
    visited: bool = False  # a return visit has been recorded for the current reply
    extension_pending: bool = False
    reopen_count: int = 0
    returns: int = 0
    overdue: bool = False
    max_reopens: int = 1


@dataclass(frozen=True)
class Command:
    action: Action
    role: Role
    reason: str = ""  # 退单 / 延期 / 督办 / 销号 after review: why
    units: tuple[int, ...] = ()  # 派单: the lead unit first, then the assisting units (协办)
    approve: bool | None = None  # 延期审批
    extension_days: int = 0  # 申请延期: working days asked for
    satisfaction: Satisfaction | None = None  # 回访
    into: int | None = None  # 合并: the open ticket this one duplicates
    kb_entry: int | None = None  # 直接答复: the 知识库 entry the answer came from


@dataclass(frozen=True)
class Step:
    """The outcome of an allowed command: the next facts and what the service must also do."""

    facts: Facts
    new_sign_deadline: bool = False  # 派单: the unit's window to sign starts now
    new_deadline: bool = False  # 重办: a new handling deadline starts now
    move_deadline_days: int = 0  # approved extension: working days added to the deadline
    reopened: bool = False
    supervised: bool = False


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise BadArgument(message)


def decide(facts: Facts, cmd: Command) -> Step:
    """The next step of a ticket, or the reason it is refused (state first, then role)."""
    if facts.state not in FROM[cmd.action]:
        raise WrongState(f"工单当前状态为{facts.state}，不能{LABELS[cmd.action]}")
    if cmd.role not in ROLES[cmd.action]:
        raise WrongRole(f"当前角色不能{LABELS[cmd.action]}")
    handler = _HANDLERS[cmd.action]
    return handler(facts, cmd)


def _direct_answer(f: Facts, c: Command) -> Step:
    _require(bool(c.reason.strip()), "直接答复须填写答复内容")
    return Step(replace(f, state=State.FINISHED, visited=False))


def _dispatch(f: Facts, c: Command) -> Step:
    _require(len(c.units) >= 1, "派单须指定承办单位")
    _require(len(set(c.units)) == len(c.units), "承办单位不能重复")
    return Step(replace(f, state=State.DISPATCHED), new_sign_deadline=True)


def _sign(f: Facts, c: Command) -> Step:
    # The handling deadline counts from 受理, not from signing: a slow signature eats into it.
    return Step(replace(f, state=State.IN_PROGRESS))


def _return(f: Facts, c: Command) -> Step:
    _require(bool(c.reason.strip()), "退单须说明理由")
    returned = replace(f, state=State.RETURNED, returns=f.returns + 1, extension_pending=False)
    return Step(returned)


def _request_extension(f: Facts, c: Command) -> Step:
    if f.extension_pending:
        raise WrongState("已有待审批的延期申请")
    _require(1 <= c.extension_days <= 30, "延期天数须在 1 到 30 个工作日之间")
    _require(bool(c.reason.strip()), "申请延期须说明理由")
    return Step(replace(f, extension_pending=True))


def _decide_extension(f: Facts, c: Command) -> Step:
    if not f.extension_pending:
        raise WrongState("没有待审批的延期申请")
    _require(c.approve is not None, "须选择同意或不同意")
    step = Step(replace(f, extension_pending=False))
    if c.approve:
        _require(c.extension_days >= 1, "同意延期须给出天数")
        step = replace(step, move_deadline_days=c.extension_days)
    return step


def _reply(f: Facts, c: Command) -> Step:
    if f.extension_pending:
        # A reply settles the matter; a pending request for more time no longer applies.
        f = replace(f, extension_pending=False)
    _require(bool(c.reason.strip()), "办结须填写办理结果")
    return Step(replace(f, state=State.FINISHED, visited=False))


def _visit(f: Facts, c: Command) -> Step:
    _require(c.satisfaction is not None, "回访须记录满意度")
    if f.visited:
        raise WrongState("本次办结已回访")
    if c.satisfaction is not Satisfaction.UNSATISFIED:
        return Step(replace(f, state=State.VISITED, visited=True))
    if f.reopen_count < f.max_reopens:
        reopened = replace(
            f, state=State.IN_PROGRESS, visited=False, reopen_count=f.reopen_count + 1
        )
        return Step(reopened, new_deadline=True, reopened=True)
    return Step(replace(f, state=State.REVIEW, visited=True))


def _supervise(f: Facts, c: Command) -> Step:
    if not (f.overdue or f.returns >= 2):
        raise WrongState("仅超期或两次以上退单的工单可以督办")
    _require(bool(c.reason.strip()), "督办须填写督办意见")
    return Step(f, supervised=True)


def _close(f: Facts, c: Command) -> Step:
    if f.state is State.FINISHED and f.visit_required:
        raise WrongState("该工单须回访后方可销号")
    if f.state is State.REVIEW:
        _require(bool(c.reason.strip()), "不满意工单销号须填写审核意见")
    return Step(replace(f, state=State.CLOSED))


def _merge(f: Facts, c: Command) -> Step:
    _require(c.into is not None, "合并须指定目标工单")
    return Step(replace(f, state=State.CLOSED))


_HANDLERS = {
    Action.DIRECT_ANSWER: _direct_answer,
    Action.DISPATCH: _dispatch,
    Action.SIGN: _sign,
    Action.RETURN: _return,
    Action.REQUEST_EXTENSION: _request_extension,
    Action.DECIDE_EXTENSION: _decide_extension,
    Action.REPLY: _reply,
    Action.VISIT: _visit,
    Action.SUPERVISE: _supervise,
    Action.CLOSE: _close,
    Action.MERGE: _merge,
}
