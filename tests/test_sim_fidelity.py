"""The simulator against real Asterisk: every capture's scenario, run over a real socket.

What is compared (and what is left out, and why) is in tests/sim_compare.py and sim/FIDELITY.md.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loadgen import scenarios
from loadgen.record import RecordingClient
from pbx import actions as act
from pbx import callevents as ce
from pbx.pipeline import AmiPipeline
from sim.ami_server import AmiServer
from sim.engine import CallerScript, SeatBehaviour, SimPbx
from tests import sim_compare as compare
from tests.conftest import AMI_FIXTURES

SPEED = 0.05  # 1/20 of the captures' pace
FIDELITY = Path(__file__).resolve().parent.parent / "sim" / "FIDELITY.md"
RUNNABLE = sorted(n for n, s in scenarios.SCENARIOS.items() if s.run is not None)
CAPTURES = sorted(
    p.name.removesuffix(".ami")
    for p in AMI_FIXTURES.glob("*.ami")
    if not p.name.endswith(".after.ami")
)


@pytest.mark.parametrize("name", RUNNABLE)
async def test_scenario_matches_capture(name: str) -> None:
    sc = scenarios.SCENARIOS[name]
    client = await scenarios.run(name, SPEED)
    result = compare.compare(
        (AMI_FIXTURES / f"{name}.ami").read_bytes(),
        (AMI_FIXTURES / f"{name}.actions").read_bytes(),
        client.received(),
        not_simulated=sc.not_simulated,
        aliases=dict(sc.aliases),
    )
    assert result.capture.items, "nothing left to compare: the filter is wrong"
    assert result.equal, result.diff()
    # Every event the simulator sends carries at least the headers Asterisk's does.
    real = (AMI_FIXTURES / f"{name}.ami").read_bytes()
    sent = (AMI_FIXTURES / f"{name}.actions").read_bytes()
    assert compare.missing_headers(real, client.received(), sent) == {}


def test_every_capture_has_a_scenario_and_pending_ones_are_listed() -> None:
    assert set(CAPTURES) <= set(scenarios.SCENARIOS)
    listed = FIDELITY.read_text(encoding="utf-8")
    for name, sc in scenarios.SCENARIOS.items():
        if sc.run is None:
            assert f"`{name}`" in listed, f"{name} is pending but not in sim/FIDELITY.md"


def test_the_comparison_sees_a_difference() -> None:
    """A stream with one DialStatus changed must not pass."""
    real = (AMI_FIXTURES / "acd_redirect_answer.ami").read_bytes()
    sent = (AMI_FIXTURES / "acd_redirect_answer.actions").read_bytes()
    changed = real.replace(b"DialStatus: ANSWER", b"DialStatus: NOANSWER")
    assert compare.compare(real, sent, real).equal
    result = compare.compare(real, sent, changed)
    assert not result.equal
    assert "NOANSWER" in result.diff()


def test_record_writes_the_captures_format(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from hotline.cli import app

    out = tmp_path / "race.ami"
    res = CliRunner().invoke(
        app, ["sim", "record", "acd_redirect_race", "-o", str(out), "--speed", "0.05"]
    )
    assert res.exit_code == 0, res.output
    data = out.read_bytes()
    assert data.startswith(b"Asterisk Call Manager/11.0.0\r\nResponse: Success\r\n")
    assert b"Message: Channel does not exist: " in data
    lines = (tmp_path / "race.timeline.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines]
    recv = "".join(r["data"] for r in rows if r["dir"] == "recv").encode("utf-8")
    sent = "".join(r["data"] for r in rows if r["dir"] == "send").encode("utf-8")
    assert recv == data
    assert sent == (tmp_path / "race.actions").read_bytes()
    assert sent.startswith(b"Action: Login\r\n")
    pend = CliRunner().invoke(app, ["sim", "record", "sip_call", "-o", str(tmp_path / "x.ami")])
    assert pend.exit_code == 3 and "pending" in pend.output
    unknown = CliRunner().invoke(app, ["sim", "record", "nosuch", "-o", str(tmp_path / "y.ami")])
    assert unknown.exit_code == 2


async def _session(pbx: SimPbx) -> tuple[AmiServer, RecordingClient]:
    server = AmiServer(pbx, username=scenarios.USERNAME, secret=scenarios.SECRET)
    client = RecordingClient("t")
    await client.connect(await server.start())
    return server, client


async def test_refusals_use_asterisks_messages() -> None:
    """What the captures show Asterisk refusing, refused in the same words."""
    pbx = SimPbx("xa", {})
    server, client = await _session(pbx)
    try:
        denied = await client.send(act.ping())
        assert (denied["Response"], denied["Message"]) == ("Error", "Permission denied")
        await client.send(scenarios._login(scenarios.USERNAME, scenarios.SECRET))
        gone = "PJSIP/pstn-0000beef"
        answers = [
            await client.send(act.setvar("SEAT", "PJSIP/1001", channel=gone)),
            await client.send(act.getvar("SEAT", channel=gone)),
            await client.send(act.hangup(gone)),
            await client.send(act.redirect(gone, "acd-connect", "s")),
            await client.send(act.Action("FooBarBaz")),
        ]
        assert [(a["Response"], a["Message"]) for a in answers] == [
            ("Error", "No such channel"),
            ("Error", "No such channel"),
            ("Error", "No such channel"),
            ("Error", f"Channel does not exist: {gone}"),
            (
                "Error",
                "Invalid/unknown command: FooBarBaz. "
                "Use Action: ListCommands to show available commands.",
            ),
        ]
        # A caller who has hung up is gone for every action too (acd_redirect_race).
        chan = pbx.place_call(CallerScript("13800001111", patience_s=0.01, route_skill="general"))
        await client.wait_event("Hangup", Channel=chan.name)
        late = await client.send(act.redirect(chan.name, "acd-connect", "s"))
        assert late["Message"] == f"Channel does not exist: {chan.name}"
    finally:
        await client.close()
        await server.stop()


async def test_a_resync_sees_each_call_in_its_phase() -> None:
    """CoreShowChannels mid-call, read by the controller's own pipeline, as after a reconnect
    (reconnect_midcall.after): a talking call has a BridgeId, a parked one MusicOnHold."""
    pbx = SimPbx("xa", {"1001": SeatBehaviour(answer_after_s=0.02, talk_s=30)})
    server, client = await _session(pbx)
    try:
        await client.send(scenarios._login(scenarios.USERNAME, scenarios.SECRET))
        talking = pbx.place_call(CallerScript("13800000001", route_skill="general"))
        parked = pbx.place_call(CallerScript("13800000002", route_skill="general"))
        await client.wait_event("UserEvent", UserEvent="HotlineRoute", Channel=parked.name)
        for name, value in (("SEAT", "PJSIP/1001"), ("RING_TIMEOUT", "5")):
            await client.send(act.setvar(name, value, channel=talking.name))
        await client.send(act.redirect(talking.name, "acd-connect", "s"))
        await client.wait_event("BridgeEnter", Channel=talking.name)
        await client.send(act.core_show_channels())
        await client.wait_event("CoreShowChannelsComplete")
    finally:
        await client.close()
        await server.stop()
    phases = {
        e.call_id: (e.phase, e.channels)
        for e in AmiPipeline().feed(client.received())
        if isinstance(e, ce.CallResynced)
    }
    assert phases == {talking.linkedid: ("talking", 2), parked.linkedid: ("parked", 1)}
    shown = [m for m in client.messages if m.get("Event") == "CoreShowChannel"]
    apps = {m["Channel"]: (m["Application"], bool(m["BridgeId"])) for m in shown}
    seat_leg = next(c for c in apps if c.startswith("PJSIP/1001-"))
    assert apps == {
        talking.name: ("Dial", True),
        seat_leg: ("AppDial", True),
        parked.name: ("MusicOnHold", False),
    }
