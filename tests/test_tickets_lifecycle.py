"""The 工单 state machine: every state × action, and random action sequences (hypothesis)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tickets.lifecycle import (
    Action,
    BadArgument,
    Command,
    Facts,
    LifecycleError,
    Role,
    Satisfaction,
    State,
    WrongRole,
    WrongState,
    decide,
)

# Written out by hand from the lifecycle, not derived from the module's tables.
ALLOWED_FROM = {
    ("受理", "direct_answer"),
    ("受理", "dispatch"),
    ("已退单", "dispatch"),
    ("已派单", "dispatch"),
    ("已派单", "sign"),
    ("已派单", "return"),
    ("办理中", "return"),
    ("办理中", "request_extension"),
    ("办理中", "decide_extension"),
    ("办理中", "reply"),
    ("已办结", "visit"),
    ("已派单", "supervise"),
    ("办理中", "supervise"),
    ("已退单", "supervise"),
    ("已办结", "close"),
    ("已回访", "close"),
    ("待审核", "close"),
    ("受理", "merge"),
}
ACTORS = {
    "direct_answer": {"seat", "dispatcher", "admin"},
    "dispatch": {"dispatcher", "admin"},
    "sign": {"unit"},
    "return": {"unit"},
    "request_extension": {"unit"},
    "decide_extension": {"dispatcher", "admin"},
    "reply": {"unit"},
    "visit": {"seat", "dispatcher", "system", "admin"},
    "supervise": {"dispatcher", "admin"},
    "close": {"dispatcher", "admin"},
    "merge": {"dispatcher", "admin"},
}
EXPECTED_NEXT = {
    ("受理", "direct_answer"): "已办结",
    ("受理", "dispatch"): "已派单",
    ("已退单", "dispatch"): "已派单",
    ("已派单", "dispatch"): "已派单",
    ("已派单", "sign"): "办理中",
    ("已派单", "return"): "已退单",
    ("办理中", "return"): "已退单",
    ("办理中", "request_extension"): "办理中",
    ("办理中", "decide_extension"): "办理中",
    ("办理中", "reply"): "已办结",
    ("已办结", "visit"): "已回访",
    ("已派单", "supervise"): "已派单",
    ("办理中", "supervise"): "办理中",
    ("已退单", "supervise"): "已退单",
    ("已办结", "close"): "已销号",
    ("已回访", "close"): "已销号",
    ("待审核", "close"): "已销号",
    ("受理", "merge"): "已销号",
}


def good_command(action: Action, role: Role) -> Command:
    """A command with valid arguments, so only state and role decide."""
    return Command(
        action,
        role,
        reason="理由",
        units=(1, 2),
        approve=True,
        extension_days=3,
        satisfaction=Satisfaction.SATISFIED,
        into=7,
    )


def facts_for(state: State, action: Action) -> Facts:
    """Facts under which the action's own extra condition holds in that state."""
    return Facts(
        state,
        visit_required=False,
        extension_pending=action is Action.DECIDE_EXTENSION,
        overdue=True,
    )


@pytest.mark.parametrize("state", list(State))
@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("role", list(Role))
def test_every_state_action_role(state: State, action: Action, role: Role) -> None:
    facts, cmd = facts_for(state, action), good_command(action, role)
    if (state.value, action.value) not in ALLOWED_FROM:
        with pytest.raises(WrongState):
            decide(facts, cmd)
    elif role.value not in ACTORS[action.value]:
        with pytest.raises(WrongRole):
            decide(facts, cmd)
    else:
        assert decide(facts, cmd).facts.state.value == EXPECTED_NEXT[(state.value, action.value)]


def test_codes_are_stable() -> None:
    assert WrongState.code == "ticket_wrong_state"
    assert WrongRole.code == "ticket_wrong_role"
    assert BadArgument.code == "ticket_bad_argument"


def test_a_required_visit_blocks_closing_until_it_happens() -> None:
    finished = Facts(State.FINISHED, visit_required=True)
    with pytest.raises(WrongState, match="须回访"):
        decide(finished, Command(Action.CLOSE, Role.DISPATCHER))
    visited = decide(finished, good_command(Action.VISIT, Role.SYSTEM)).facts
    assert decide(visited, Command(Action.CLOSE, Role.DISPATCHER)).facts.state is State.CLOSED


def test_unsatisfied_reopens_to_the_same_unit_then_goes_to_review() -> None:
    unhappy = Command(Action.VISIT, Role.SYSTEM, satisfaction=Satisfaction.UNSATISFIED)
    step = decide(Facts(State.FINISHED, visit_required=True), unhappy)
    assert step.reopened and step.new_deadline
    assert (step.facts.state, step.facts.reopen_count) == (State.IN_PROGRESS, 1)
    again = decide(step.facts, Command(Action.REPLY, Role.UNIT, reason="已重新处理")).facts
    review = decide(again, unhappy).facts
    assert review.state is State.REVIEW
    with pytest.raises(BadArgument, match="审核意见"):
        decide(review, Command(Action.CLOSE, Role.DISPATCHER))
    closed = decide(review, Command(Action.CLOSE, Role.DISPATCHER, reason="已核实，诉求不合理"))
    assert closed.facts.state is State.CLOSED


def test_one_visit_per_reply() -> None:
    visited = Facts(State.FINISHED, visited=True)
    with pytest.raises(WrongState, match="已回访"):
        decide(visited, good_command(Action.VISIT, Role.SEAT))


def test_extensions_move_the_deadline_only_when_approved() -> None:
    signed = Facts(State.IN_PROGRESS)
    ask = Command(Action.REQUEST_EXTENSION, Role.UNIT, reason="需协调", extension_days=5)
    pending = decide(signed, ask)
    assert pending.move_deadline_days == 0 and pending.facts.extension_pending
    with pytest.raises(WrongState, match="待审批"):
        decide(pending.facts, ask)
    refused = decide(
        pending.facts, Command(Action.DECIDE_EXTENSION, Role.DISPATCHER, approve=False)
    )
    assert refused.move_deadline_days == 0 and not refused.facts.extension_pending
    approved = decide(
        pending.facts,
        Command(Action.DECIDE_EXTENSION, Role.DISPATCHER, approve=True, extension_days=5),
    )
    assert approved.move_deadline_days == 5
    with pytest.raises(WrongState, match="没有待审批"):
        decide(refused.facts, Command(Action.DECIDE_EXTENSION, Role.DISPATCHER, approve=True))


@pytest.mark.parametrize(
    ("facts", "cmd", "message"),
    [
        (Facts(State.ACCEPTED), Command(Action.DISPATCH, Role.DISPATCHER), "承办单位"),
        (Facts(State.ACCEPTED), Command(Action.DISPATCH, Role.DISPATCHER, units=(3, 3)), "重复"),
        (Facts(State.DISPATCHED), Command(Action.RETURN, Role.UNIT, reason="  "), "理由"),
        (Facts(State.IN_PROGRESS), Command(Action.REPLY, Role.UNIT), "办理结果"),
        (Facts(State.ACCEPTED), Command(Action.DIRECT_ANSWER, Role.SEAT), "答复内容"),
        (Facts(State.FINISHED), Command(Action.VISIT, Role.SEAT), "满意度"),
        (
            Facts(State.IN_PROGRESS),
            Command(Action.REQUEST_EXTENSION, Role.UNIT, reason="x", extension_days=31),
            "延期天数",
        ),
        (
            Facts(State.IN_PROGRESS, overdue=True),
            Command(Action.SUPERVISE, Role.DISPATCHER),
            "督办意见",
        ),
    ],
)
def test_bad_arguments_are_refused_with_a_reason(facts: Facts, cmd: Command, message: str) -> None:
    with pytest.raises(BadArgument, match=message):
        decide(facts, cmd)


def test_supervision_needs_an_overdue_or_twice_returned_ticket() -> None:
    cmd = Command(Action.SUPERVISE, Role.DISPATCHER, reason="请尽快办理")
    with pytest.raises(WrongState, match="督办"):
        decide(Facts(State.IN_PROGRESS), cmd)
    assert decide(Facts(State.RETURNED, returns=2), cmd).supervised
    assert decide(Facts(State.IN_PROGRESS, overdue=True), cmd).supervised


# --- random sequences --------------------------------------------------------------------
commands = st.builds(
    Command,
    action=st.sampled_from(list(Action)),
    role=st.sampled_from(list(Role)),
    reason=st.sampled_from(["", "理由"]),
    units=st.sampled_from([(), (1,), (1, 2), (2, 2)]),
    approve=st.sampled_from([None, True, False]),
    extension_days=st.integers(min_value=0, max_value=40),
    satisfaction=st.sampled_from([None, *Satisfaction]),
    into=st.sampled_from([None, 7]),
)


@settings(max_examples=400, deadline=None)
@given(
    visit_required=st.booleans(),
    max_reopens=st.integers(min_value=0, max_value=2),
    overdue=st.booleans(),
    sequence=st.lists(commands, max_size=60),
)
def test_random_sequences_keep_the_invariants(
    visit_required: bool, max_reopens: int, overdue: bool, sequence: list[Command]
) -> None:
    facts = Facts(
        State.ACCEPTED, visit_required=visit_required, max_reopens=max_reopens, overdue=overdue
    )
    signed_since_dispatch = False
    satisfied_or_reviewed = False  # a visit since the last reply allows closing
    for cmd in sequence:
        try:
            step = decide(facts, cmd)
        except LifecycleError:
            continue
        if step.move_deadline_days:
            assert cmd.action is Action.DECIDE_EXTENSION and cmd.approve is True
            assert cmd.role in (Role.DISPATCHER, Role.ADMIN)
        if step.new_deadline:
            assert step.reopened and cmd.action is Action.VISIT
        if cmd.action is Action.DISPATCH:
            signed_since_dispatch = False
        elif cmd.action is Action.SIGN:
            signed_since_dispatch = True
        elif cmd.action is Action.REPLY:
            assert signed_since_dispatch, "a unit replied to a ticket it never signed"
            satisfied_or_reviewed = False
        elif cmd.action is Action.DIRECT_ANSWER:
            satisfied_or_reviewed = False
        elif cmd.action is Action.VISIT and step.facts.state in (State.VISITED, State.REVIEW):
            satisfied_or_reviewed = True
        if step.facts.state is State.CLOSED and visit_required and cmd.action is not Action.MERGE:
            assert satisfied_or_reviewed, "closed without the required return visit"
        assert step.facts.reopen_count <= max_reopens
        facts = replace(step.facts, overdue=overdue)
        if facts.state is State.CLOSED:
            break
