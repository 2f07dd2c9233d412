"""The AMI link against a real socket peer: login, resync, actions, 20 drops, no double send."""

from __future__ import annotations

import asyncio

import pytest

from pbx import actions as act
from pbx import callevents as ce
from pbx.link import DOWN, UP, AmiLink, Backoff, DuplicateOriginate
from tests.ami_peer import AmiPeer


def fast_backoff() -> Backoff:
    return Backoff(base=0.01, cap=0.05)


async def test_login_resync_and_actions() -> None:
    peer = AmiPeer()
    port = await peer.start()
    states: list[tuple[str, str]] = []
    seen: list[ce.CallEvent] = []
    link = AmiLink(
        "xa",
        "127.0.0.1",
        port,
        "hotline",
        "s3cret",
        on_state=lambda s, d: states.append((s, d)),
        backoff=fast_backoff(),
    )
    link.pipeline.tracker.subscribe(seen.append)
    await link.start()
    await link.wait_up(20)
    resynced = [e for e in seen if isinstance(e, ce.CallResynced)]
    assert sorted(e.phase for e in resynced) == ["ivr", "parked", "talking"]
    answer = await link.send(act.setvar("OVERLOAD_XA", "1"))
    assert answer["Response"] == "Success"
    with pytest.raises(act.NoSuchChannel, match="Channel does not exist"):
        await link.send(act.redirect("Local/gone@x-00000001;1", "acd-connect", "s"))
    assert [s for s, _ in states][:3] == ["connecting", "resyncing", "up"]
    await link.close()
    await peer.stop()


async def test_wrong_secret_is_reported_and_retried() -> None:
    peer = AmiPeer(secret="right")
    port = await peer.start()
    states: list[tuple[str, str]] = []
    link = AmiLink(
        "xa",
        "127.0.0.1",
        port,
        "hotline",
        "wrong",
        on_state=lambda s, d: states.append((s, d)),
        backoff=fast_backoff(),
    )
    await link.start()
    for _ in range(200):
        if peer.connections >= 3:
            break
        await asyncio.sleep(0.01)
    await link.close()
    await peer.stop()
    assert peer.connections >= 3  # it keeps trying, with backoff
    assert any("login refused: Authentication failed" in d for _, d in states)
    assert link.state == DOWN


async def test_twenty_drops_reconnect_resync_and_nothing_sent_twice() -> None:
    peer = AmiPeer(answer_originate=False)
    port = await peer.start()
    link = AmiLink(
        "xa", "127.0.0.1", port, "hotline", "s3cret", backoff=fast_backoff(), action_timeout=5
    )
    resyncs: list[ce.CallEvent] = []
    link.pipeline.tracker.subscribe(
        lambda e: resyncs.append(e) if isinstance(e, ce.CallResynced) else None
    )
    await link.start()
    for drop in range(20):
        await link.wait_up(20)
        key = f"cb-{drop}"
        originate = act.originate(
            "PJSIP/1001", context="callback", exten="13800000001", idempotency_key=key
        )
        sending = asyncio.create_task(link.send(originate))
        while (
            not peer.actions("Originate")
            or peer.actions("Originate")[-1]["ActionID"] != f"hl-orig-{key}"
        ):
            await asyncio.sleep(0.005)
        peer.drop_all()  # the answer never came
        with pytest.raises(act.ActionNotSent):
            await sending
        # Trying the same callback again after the drop is refused on this side.
        with pytest.raises(DuplicateOriginate):
            await link.send(originate)
    await link.wait_up(20)
    await link.close()
    await peer.stop()
    assert peer.connections == 21
    assert len(peer.actions("CoreShowChannels")) == 21  # a resync after every (re)connect
    assert len(resyncs) == 21 * 3
    ids = [m["ActionID"] for m in peer.actions("Originate")]
    assert len(ids) == 20 and len(set(ids)) == 20  # each callback reached Asterisk once


async def test_action_while_down_is_refused_not_queued() -> None:
    link = AmiLink("xa", "127.0.0.1", 1, "hotline", "x", backoff=fast_backoff())
    with pytest.raises(act.ActionNotSent, match="is down"):
        await link.send(act.ping())
    assert link.state == DOWN and not link.sent


async def test_a_link_that_may_not_send_sends_nothing() -> None:
    """A controller whose lease ran out (docs/failover.md): the link is up, yet no action
    leaves; the same link sends again once it may."""
    peer = AmiPeer()
    port = await peer.start()
    allowed = [True]  # the resync's CoreShowChannels is sent while the lease is held
    link = AmiLink(
        "xa",
        "127.0.0.1",
        port,
        "hotline",
        "s3cret",
        backoff=fast_backoff(),
        may_send=lambda: allowed[0],
    )
    await link.start()
    await link.wait_up(20)
    allowed[0] = False
    sent_before = list(link.sent)
    with pytest.raises(act.ActionNotSent, match="does not hold xa's lease"):
        await link.send(act.setvar("OVERLOAD_XA", "1"))
    assert list(link.sent) == sent_before and link.refused == 1
    allowed[0] = True
    assert (await link.send(act.setvar("OVERLOAD_XA", "1")))["Response"] == "Success"
    await link.close()
    await peer.stop()


def test_backoff_is_capped_exponential_with_jitter() -> None:
    b = Backoff(base=1, cap=8)
    delays = [b.next() for _ in range(8)]
    assert all(0.5 <= d <= 1 for d in delays[:1])
    assert all(4 <= d <= 8 for d in delays[4:])
    b.reset()
    assert b.next() <= 1


async def test_controller_link_state_reaches_redis(redis) -> None:
    from hotline.controller import link_for
    from hotline.settings import AmiEndpoint, City
    from store import keys

    peer = AmiPeer()
    port = await peer.start()
    city = City(name="xa", ami=AmiEndpoint(host="127.0.0.1", port=port, secret="s3cret"))
    link = link_for(city, redis)
    await link.start()
    await link.wait_up(20)
    for _ in range(100):
        state = await redis.hgetall(keys.ami_link("xa"))
        if state.get("state") == UP:
            break
        await asyncio.sleep(0.01)
    assert state["state"] == UP and "live channels" in state["detail"]
    await link.close()
    await peer.stop()
