"""Actions refuse CR, LF and NUL in every field, and bad channels/contexts; nothing is sent."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest

from pbx import actions as act
from pbx.link import AmiLink, Backoff
from tests.ami_peer import AmiPeer

VALID: dict[str, dict[str, Any]] = {
    "originate": {
        "channel": "PJSIP/1001",
        "context": "callback",
        "exten": "13800000001",
        "caller_id": '"12345回访" <12345>',
        "variables": {"HL_TASK": "t1"},
        "idempotency_key": "cb-1",
    },
    "redirect": {
        "channel": "Local/wait@sim-callers3-000000f7;1",
        "context": "acd-connect",
        "exten": "s",
        "extra_channel": "PJSIP/1001-0000000a",
    },
    "hangup": {"channel": "PJSIP/1001-0000000a"},
    "setvar": {"variable": "SEAT", "value": "PJSIP/1001", "channel": "PJSIP/trunk-00000001"},
    "getvar": {"variable": "OVERLOAD_XA", "channel": "PJSIP/trunk-00000001"},
    "atxfer": {"channel": "PJSIP/1001-0000000a", "context": "dept-ext", "exten": "8001"},
    "blind_transfer": {"channel": "PJSIP/1001-0000000a", "context": "dept-ext", "exten": "8001"},
    "mixmonitor": {
        "channel": "PJSIP/1001-0000000a",
        "file": "/var/spool/x.wav",
        "options": "r(/var/spool/x-in.wav)t(/var/spool/x-out.wav)",
    },
    "stop_mixmonitor": {"channel": "PJSIP/1001-0000000a"},
    "confbridge_list": {"conference": "room12345"},
    "confbridge_kick": {"conference": "room12345", "channel": "PJSIP/8001-00000001"},
    "queue_status": {"queue": "xa-general"},
}
BUILDERS: dict[str, Callable[..., act.Action]] = {name: getattr(act, name) for name in VALID}
INJECTIONS = ["\r\nAction: Originate", "a\nb", "x\x00y", "\r"]


def cases() -> list[tuple[str, str, str]]:
    out = []
    for name, kwargs in VALID.items():
        for field in kwargs:
            for bad in INJECTIONS:
                out.append((name, field, bad))
        assert set(kwargs) <= set(inspect.signature(BUILDERS[name]).parameters)
    return out


def inject(kwargs: dict[str, Any], field: str, bad: str) -> dict[str, Any]:
    changed = dict(kwargs)
    value = changed[field]
    if isinstance(value, dict):
        key, val = next(iter(value.items()))
        changed[field] = {key: val + bad}
    else:
        changed[field] = str(value) + bad
    return changed


@pytest.mark.parametrize(("name", "field", "bad"), cases())
def test_every_field_refuses_line_breakers(name: str, field: str, bad: str) -> None:
    with pytest.raises(act.ActionValueError):
        BUILDERS[name](**inject(VALID[name], field, bad))


def test_variable_names_and_keys_checked() -> None:
    with pytest.raises(act.ActionValueError, match="Variable"):
        act.originate("PJSIP/1", context="c", exten="1", variables={"A\r\nAction: X": "1"})
    with pytest.raises(act.ActionValueError):
        act.originate(
            "PJSIP/1", context="c", exten="1", variables={"OK": "1"}, idempotency_key="bad key\n"
        )


@pytest.mark.parametrize(
    ("builder", "kwargs"),
    [
        (act.redirect, {"channel": "not a channel", "context": "acd-connect", "exten": "s"}),
        (act.redirect, {"channel": "PJSIP/1", "context": "acd connect", "exten": "s"}),
        (act.redirect, {"channel": "PJSIP/1", "context": "acd-connect", "exten": "s,1"}),
        (act.setvar, {"variable": "SEAT=1", "value": "x"}),
        (act.originate, {"channel": "PJSIP/1"}),
        (
            act.originate,
            {"channel": "PJSIP/1", "application": "ChanSpy", "context": "x", "exten": "1"},
        ),
    ],
)
def test_patterns(builder: Callable[..., act.Action], kwargs: dict[str, Any]) -> None:
    with pytest.raises(act.ActionValueError):
        builder(**kwargs)


def test_encoding_of_a_valid_action() -> None:
    action = act.originate(**VALID["originate"])
    text = action.encode("hl-orig-cb-1").decode()
    assert text.startswith("Action: Originate\r\nActionID: hl-orig-cb-1\r\n")
    assert "Variable: HL_TASK=t1\r\nVariable: HL_IDEMPOTENCY=cb-1\r\n" in text
    assert text.endswith("\r\n\r\n") and text.count("\r\n\r\n") == 1
    global_set = act.setvar("OVERLOAD_XA", "1").encode("hl-2").decode()
    assert "Channel" not in global_set


def test_error_answers_become_typed_exceptions() -> None:
    assert isinstance(act.error_for("Setvar", "No such channel"), act.NoSuchChannel)
    assert isinstance(
        act.error_for("Redirect", "Channel does not exist: Local/x;1"), act.NoSuchChannel
    )
    assert isinstance(act.error_for("Originate", "Originate failed"), act.OriginateFailed)
    err = act.error_for("Login", "Permission denied")
    assert isinstance(err, act.PermissionDenied) and err.message == "Permission denied"


async def test_refused_actions_never_reach_the_socket() -> None:
    peer = AmiPeer()
    port = await peer.start()
    link = AmiLink(
        "xa", "127.0.0.1", port, "hotline", "s3cret", backoff=Backoff(base=0.01, cap=0.05)
    )
    await link.start()
    await link.wait_up(20)
    before = list(peer.received)
    for name, field, bad in cases():
        with pytest.raises(act.ActionValueError):
            await link.send(BUILDERS[name](**inject(VALID[name], field, bad)))
    await link.send(act.ping())  # a round trip: everything sent before it has arrived
    await link.close()
    await peer.stop()
    after = peer.received[len(before) :]
    assert [m["Action"] for m in after] == ["Ping"]
    assert all("Originate" not in str(m.as_dict()) for m in after)
