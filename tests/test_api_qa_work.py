"""QA work through the ASGI app: the interleaved call transcript, per-item remarks, holding
recordings from (real) retention, sampling and assignment, seats' appeals and their
resolution by a QA lead."""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from acd.calls.tables import CallRecord
from api.services import users
from asr.models import Transcript, TranscriptSegment
from recording.models import Recording
from recording.retention import prune
from tests.api_support import CHEAP_HASH, PASSWORD, Api, api, backend  # noqa: F401
from tests.test_api_qa import wav
from tickets.service import calls_with_open_tickets

T0 = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
DAY = date(2026, 11, 30)  # T0 is 10:00 in Shanghai on that day


async def add_lead(api: Api, name: str = "lead", role: str = "qa_lead") -> dict[str, str]:
    await users.create(api.sessions, name, PASSWORD, role, None, password_hash=CHEAP_HASH)
    resp = await api.login(name)
    assert resp.status_code == 200, resp.text
    api.tokens[name] = resp.json()["token"]
    return api.as_(name)


async def add_call(
    api: Api, call_id: str, seat: str | None, at: datetime = T0, city: str = "xa"
) -> None:
    async with api.sessions.begin() as session:
        session.add(
            CallRecord(
                call_id=call_id,
                city=city,
                caller_num="13800000000",
                skill="general",
                entered_at=at,
                answered_at=at if seat else None,
                ended_at=at + timedelta(minutes=2),
                seat_id=seat,
                answer_city=city if seat else None,
                outcome="completed" if seat else "abandoned",
            )
        )


def _facts(path: Path) -> tuple[int, str]:
    return path.stat().st_size, hashlib.sha256(path.read_bytes()).hexdigest()


async def add_recording(
    api: Api,
    call_id: str,
    speaker: str,
    path: Path,
    lines: list[tuple[str, float, float, str]] | None,
    started_at: datetime = T0,
) -> int:
    size, digest = _facts(path)
    async with api.sessions.begin() as session:
        rec = Recording(
            call_id=call_id,
            city="xa",
            seat_id="1001",
            speaker=speaker,
            path=str(path),
            format="wav-pcm16",
            duration_s=12.0,
            size_bytes=size,
            sha256=digest,
            started_at=started_at,
        )
        session.add(rec)
        await session.flush()
        if lines is not None:
            session.add(
                Transcript(
                    recording_id=rec.id,
                    call_id=call_id,
                    speaker=speaker,
                    text=" ".join(t for *_, t in lines),
                    model="test",
                    audio_s=12.0,
                    segments=[
                        TranscriptSegment(speaker=sp, start_s=a, end_s=b, text=t)
                        for sp, a, b, t in lines
                    ],
                )
            )
        return rec.id


async def rubric(api: Api) -> dict[str, Any]:
    resp = await api.client.get("/api/qa/rubric", headers=api.role("qa"))
    body: dict[str, Any] = resp.json()
    return body


async def score(api: Api, call_id: str, who: str = "qa", minus: int = 0) -> dict[str, Any]:
    form = await rubric(api)
    full = {i["key"]: i["max"] for i in form["items"]}
    full["greeting"] -= minus
    resp = await api.client.post(
        f"/api/qa/calls/{call_id}/scores",
        json={"rubric_id": form["id"], "scores": full},
        headers=api.as_(who),
    )
    assert resp.status_code == 201, resp.text
    out: dict[str, Any] = resp.json()
    return out


# --- transcript -----------------------------------------------------------------------------
async def test_call_transcript_interleaves_caller_and_seat(api: Api, tmp_path: Path) -> None:
    await add_call(api, "c1", "1001")
    mixed = await add_recording(api, "c1", "mixed", wav(tmp_path / "m.wav", 12), None)
    caller = await add_recording(
        api,
        "c1",
        "caller",
        wav(tmp_path / "c.wav", 12),
        [("caller", 3.0, 6.0, "楼下工地晚上施工"), ("caller", 8.5, 10.0, "在长安路")],
    )
    # The seat's file started half a second after the mixed one: its times move by 0.5 s.
    seat = await add_recording(
        api,
        "c1",
        "seat",
        wav(tmp_path / "s.wav", 12),
        [("seat", 0.0, 2.0, "您好十二三四五"), ("seat", 6.5, 7.5, "请问地址")],
        started_at=T0 + timedelta(milliseconds=500),
    )
    resp = await api.client.get("/api/qa/calls/c1/transcript", headers=api.role("qa"))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["recording_id"] == mixed and body["pending"] == []
    assert [(ln["speaker"], ln["start_s"], ln["end_s"], ln["text"]) for ln in body["lines"]] == [
        ("seat", 0.5, 2.5, "您好十二三四五"),
        ("caller", 3.0, 6.0, "楼下工地晚上施工"),
        ("seat", 7.0, 8.0, "请问地址"),
        ("caller", 8.5, 10.0, "在长安路"),
    ]
    # On the seat file's own timeline instead (a page playing that file).
    own = await api.client.get(
        f"/api/qa/calls/c1/transcript?recording_id={seat}", headers=api.role("qa")
    )
    assert own.json()["lines"][0]["start_s"] == 0.0
    assert own.json()["lines"][1]["start_s"] == 2.5
    log = (await api.client.get("/api/admin/audit?call_id=c1", headers=api.role("admin"))).json()
    assert sorted((e["action"], e["target"]) for e in log[:2]) == [
        ("transcript.view", f"recording:{caller}"),
        ("transcript.view", f"recording:{seat}"),
    ]
    for bad, status in (
        ("/api/qa/calls/c1/transcript?recording_id=9999", 404),
        ("/api/qa/calls/c1/transcript?recording_id=0", 422),
        ("/api/qa/calls/nope/transcript", 404),
    ):
        assert (await api.client.get(bad, headers=api.role("qa"))).status_code == status, bad
    for role in ("seat", "dispatcher"):
        resp = await api.client.get("/api/qa/calls/c1/transcript", headers=api.role(role))
        assert resp.status_code == 403


async def test_call_transcript_says_what_is_still_pending(api: Api, tmp_path: Path) -> None:
    await add_call(api, "c2", "1001")
    await add_recording(api, "c2", "mixed", wav(tmp_path / "m.wav", 4), None)
    await add_recording(api, "c2", "caller", wav(tmp_path / "c.wav", 4), [("caller", 1, 2, "喂")])
    await add_recording(api, "c2", "seat", wav(tmp_path / "s.wav", 4), None)
    body = (await api.client.get("/api/qa/calls/c2/transcript", headers=api.role("qa"))).json()
    assert [ln["text"] for ln in body["lines"]] == ["喂"] and body["pending"] == ["seat"]
    # A call recorded only as one mixed file: its transcript is shown as is.
    await add_call(api, "c3", "1001")
    await add_recording(
        api, "c3", "mixed", wav(tmp_path / "m3.wav", 4), [("mixed", 0.2, 1.0, "你好")]
    )
    body = (await api.client.get("/api/qa/calls/c3/transcript", headers=api.role("qa"))).json()
    assert [(ln["speaker"], ln["text"]) for ln in body["lines"]] == [("mixed", "你好")]
    await add_call(api, "c4", "1001")
    resp = await api.client.get("/api/qa/calls/c4/transcript", headers=api.role("qa"))
    assert resp.status_code == 404 and resp.json()["detail"] == "该通话没有录音"


# --- scores ---------------------------------------------------------------------------------
async def test_per_item_remarks(api: Api) -> None:
    await add_call(api, "c1", "1001")
    form = await rubric(api)
    full = {i["key"]: i["max"] for i in form["items"]}
    resp = await api.client.post(
        "/api/qa/calls/c1/scores",
        json={
            "rubric_id": form["id"],
            "scores": full | {"closing": 2},
            "item_remarks": {"closing": "未询问是否还有其他诉求", "greeting": "  "},
        },
        headers=api.role("qa"),
    )
    assert resp.status_code == 201, resp.text
    assert resp.json()["item_remarks"] == {"closing": "未询问是否还有其他诉求"}
    detail = (await api.client.get("/api/qa/calls/c1", headers=api.role("qa"))).json()
    assert detail["scores"][0]["item_remarks"] == {"closing": "未询问是否还有其他诉求"}
    bad = {"rubric_id": form["id"], "scores": full, "item_remarks": {"nosuch": "x"}}
    resp = await api.client.post("/api/qa/calls/c1/scores", json=bad, headers=api.role("qa"))
    assert resp.status_code == 422 and "nosuch" in resp.json()["detail"]
    # Nothing chosen is nothing given: an empty score is refused, not taken as zero or full.
    empty = {"rubric_id": form["id"], "scores": {}}
    resp = await api.client.post("/api/qa/calls/c1/scores", json=empty, headers=api.role("qa"))
    assert resp.status_code == 422 and "missing" in resp.json()["detail"]
    detail = (await api.client.get("/api/qa/calls/c1", headers=api.role("qa"))).json()
    assert len(detail["scores"]) == 1


# --- hold -----------------------------------------------------------------------------------
async def test_a_held_call_survives_retention(api: Api, tmp_path: Path) -> None:
    old = T0 - timedelta(days=200)
    for call_id in ("keep", "drop"):
        await add_call(api, call_id, "1001", at=old)
        for speaker in ("mixed", "caller", "seat"):
            path = wav(tmp_path / f"{call_id}-{speaker}.wav", 1)
            await add_recording(api, call_id, speaker, path, None, started_at=old)
    resp = await api.client.put(
        "/api/qa/calls/keep/hold", json={"held": True}, headers=api.role("qa")
    )
    assert resp.status_code == 200 and resp.json() == {
        "call_id": "keep",
        "held": True,
        "recordings": 3,
    }
    detail = (await api.client.get("/api/qa/calls/keep", headers=api.role("qa"))).json()
    assert detail["held"] is True
    report = await prune(api.sessions, days=180, now=T0, held=calls_with_open_tickets)
    assert report.kept_qa == 3 and len(report.deleted) == 3
    assert all((tmp_path / f"keep-{sp}.wav").exists() for sp in ("mixed", "caller", "seat"))
    assert not any((tmp_path / f"drop-{sp}.wav").exists() for sp in ("mixed", "caller", "seat"))
    # Released: the next prune takes it.
    resp = await api.client.put(
        "/api/qa/calls/keep/hold", json={"held": False}, headers=api.role("qa")
    )
    assert resp.json()["held"] is False
    report = await prune(api.sessions, days=180, now=T0, held=calls_with_open_tickets)
    assert len(report.deleted) == 3 and not (tmp_path / "keep-mixed.wav").exists()
    log = (await api.client.get("/api/admin/audit?call_id=keep", headers=api.role("admin"))).json()
    assert [e["action"] for e in log] == ["recording.release", "recording.hold"]
    assert (
        await api.client.put("/api/qa/calls/nope/hold", json={"held": True}, headers=api.role("qa"))
    ).status_code == 404
    for body in ({}, {"held": "perhaps"}, {"held": True, "x": 1}):
        resp = await api.client.put("/api/qa/calls/keep/hold", json=body, headers=api.role("qa"))
        assert resp.status_code == 422
    resp = await api.client.put(
        "/api/qa/calls/keep/hold", json={"held": True}, headers=api.role("seat")
    )
    assert resp.status_code == 403


# --- sampling and assignment ----------------------------------------------------------------
async def seed_day(api: Api, counts: dict[str, int], at: datetime = T0) -> None:
    n = 0
    for seat, count in counts.items():
        for _ in range(count):
            await add_call(api, f"d-{n}", seat, at=at + timedelta(minutes=n))
            n += 1
    await add_call(api, "d-abandoned", None, at=at)  # never answered: never sampled
    await add_call(api, "d-before", "1001", at=datetime(2026, 11, 29, 15, 59, tzinfo=UTC))


async def test_sampling_per_seat_and_assignment(api: Api) -> None:
    lead = await add_lead(api)
    await add_lead(api, "qa2", "qa")
    await seed_day(api, {"1001": 7, "1002": 3, "1003": 1})
    body = {"day": DAY.isoformat(), "percent": 30, "reviewers": ["qa", "qa2"]}
    resp = await api.client.post("/api/qa/samples", json=body, headers=lead)
    assert resp.status_code == 201, resp.text
    out = resp.json()
    assert out["by_seat"] == {
        "1001": {"answered": 7, "sampled": math.ceil(7 * 0.3)},
        "1002": {"answered": 3, "sampled": 1},
        "1003": {"answered": 1, "sampled": 1},
    }
    assigned = out["assigned"]
    assert len(assigned) == 5 and len({a["call_id"] for a in assigned}) == 5
    assert Counter(a["seat_id"] for a in assigned) == {"1001": 3, "1002": 1, "1003": 1}
    assert sorted(Counter(a["reviewer"] for a in assigned).values()) == [2, 3]
    assert not {a["call_id"] for a in assigned} & {"d-abandoned", "d-before"}
    # The same sample again draws nothing new: each seat has its share already.
    again = (await api.client.post("/api/qa/samples", json=body, headers=lead)).json()
    assert again["assigned"] == [] and again["by_seat"]["1001"] == {"answered": 7, "sampled": 0}
    # A bigger share adds only the difference, and to the less loaded reviewer first.
    more = (
        await api.client.post("/api/qa/samples", json=body | {"percent": 100}, headers=lead)
    ).json()
    assert len(more["assigned"]) == 6
    mine = (
        await api.client.get("/api/qa/assignments?mine=true&limit=2", headers=api.role("qa"))
    ).json()
    qa_total = sum(1 for a in assigned + more["assigned"] if a["reviewer"] == "qa")
    assert mine["total"] == qa_total and len(mine["items"]) == 2 and mine["limit"] == 2
    assert all(a["reviewer"] == "qa" and a["call"]["city"] == "xa" for a in mine["items"])
    rest = (
        await api.client.get(
            "/api/qa/assignments?mine=true&limit=200&offset=2", headers=api.role("qa")
        )
    ).json()
    ids = [a["call_id"] for a in mine["items"] + rest["items"]]
    assert len(ids) == len(set(ids)) == qa_total
    # Scoring an assigned call takes it off the reviewer's pending list.
    first = mine["items"][0]["call_id"]
    scored = await score(api, first)
    pending = (
        await api.client.get("/api/qa/assignments?mine=true&status=pending", headers=api.role("qa"))
    ).json()
    assert pending["total"] == qa_total - 1 and first not in [
        a["call_id"] for a in pending["items"]
    ]
    done = (
        await api.client.get("/api/qa/assignments?mine=true&status=done", headers=api.role("qa"))
    ).json()
    assert [(a["call_id"], a["score_id"]) for a in done["items"]] == [(first, scored["id"])]
    # Roles: a reviewer sees only their own list and cannot sample; the lead sees anyone's.
    own = (await api.client.get("/api/qa/assignments", headers=api.role("qa"))).json()
    assert own["total"] == qa_total
    assert (
        await api.client.get("/api/qa/assignments?reviewer=qa2", headers=api.role("qa"))
    ).status_code == 403
    assert (await api.client.get("/api/qa/assignments?reviewer=qa2", headers=lead)).json()[
        "total"
    ] == 11 - qa_total
    assert (
        await api.client.post("/api/qa/samples", json=body, headers=api.role("qa"))
    ).status_code == 403
    assert (
        await api.client.post("/api/qa/samples", json=body, headers=api.role("seat"))
    ).status_code == 403


async def test_sampling_refuses_bad_requests(api: Api) -> None:
    lead = await add_lead(api)
    await seed_day(api, {"1001": 2})
    day = DAY.isoformat()
    for body, word in (
        ({"day": day, "percent": 10, "reviewers": ["seat1"]}, "seat1"),
        ({"day": day, "percent": 10, "reviewers": ["nobody"]}, "nobody"),
        ({"day": day, "percent": 10, "reviewers": ["qa", "qa"]}, "重复"),
    ):
        resp = await api.client.post("/api/qa/samples", json=body, headers=lead)
        assert resp.status_code == 422 and word in resp.json()["detail"], resp.text
    for body in (
        {"day": day, "percent": 0, "reviewers": ["qa"]},
        {"day": day, "percent": 101, "reviewers": ["qa"]},
        {"day": day, "percent": 10, "reviewers": []},
        {"day": "yesterday", "percent": 10, "reviewers": ["qa"]},
        {"day": "9999-12-31", "percent": 10, "reviewers": ["qa"]},  # no day after it
        {"day": day, "percent": 10, "reviewers": ["qa"], "city": "X'; --"},
    ):
        resp = await api.client.post("/api/qa/samples", json=body, headers=lead)
        assert resp.status_code == 422, body
    # Nothing was assigned by the refused requests.
    page = (await api.client.get("/api/qa/assignments", headers=lead)).json()
    assert page["total"] == 0


async def test_default_day_is_yesterday_in_shanghai(api: Api) -> None:
    lead = await add_lead(api)
    now = datetime.now(UTC)
    from zoneinfo import ZoneInfo

    tz = ZoneInfo("Asia/Shanghai")
    noon_yesterday = datetime.combine(
        now.astimezone(tz).date() - timedelta(days=1), datetime.min.time(), tz
    ) + timedelta(hours=12)
    await add_call(api, "y1", "1001", at=noon_yesterday.astimezone(UTC))
    await add_call(api, "t1", "1001", at=noon_yesterday.astimezone(UTC) + timedelta(days=1))
    resp = await api.client.post(
        "/api/qa/samples", json={"percent": 100, "reviewers": ["qa"]}, headers=lead
    )
    assert [a["call_id"] for a in resp.json()["assigned"]] == ["y1"]


async def test_assign_by_hand_and_hand_over(api: Api) -> None:
    lead = await add_lead(api)
    await add_lead(api, "qa2", "qa")
    await add_call(api, "c1", "1001")
    resp = await api.client.post(
        "/api/qa/assignments", json={"call_id": "c1", "reviewer": "qa"}, headers=lead
    )
    assert resp.status_code == 201 and resp.json()["reviewer"] == "qa"
    resp = await api.client.post(
        "/api/qa/assignments", json={"call_id": "c1", "reviewer": "qa2"}, headers=lead
    )
    assert resp.status_code == 201 and resp.json()["reviewer"] == "qa2"
    assert (await api.client.get("/api/qa/calls/c1", headers=lead)).json()["assignment"][
        "reviewer"
    ] == "qa2"
    await score(api, "c1", who="qa2")
    resp = await api.client.post(
        "/api/qa/assignments", json={"call_id": "c1", "reviewer": "qa"}, headers=lead
    )
    assert resp.status_code == 409
    resp = await api.client.post(
        "/api/qa/assignments", json={"call_id": "nope", "reviewer": "qa"}, headers=lead
    )
    assert resp.status_code == 404


# --- appeals --------------------------------------------------------------------------------
async def test_a_seat_appeals_once_and_the_lead_resolves(api: Api) -> None:
    lead = await add_lead(api)
    await add_call(api, "a1", "1001")
    await add_call(api, "a2", "1001", at=T0 + timedelta(hours=1))
    await add_call(api, "b1", "1002")
    s1 = await score(api, "a1", minus=4)
    s2 = await score(api, "a2")
    other = await score(api, "b1")
    mine = (await api.client.get("/api/seat/qa/scores", headers=api.as_("seat1"))).json()
    assert mine["total"] == 2 and [x["score"]["id"] for x in mine["items"]] == [s2["id"], s1["id"]]
    assert mine["items"][1]["labels"]["greeting"] == "开场规范"
    assert mine["items"][1]["appeal"] is None
    page = (
        await api.client.get("/api/seat/qa/scores?limit=1&offset=1", headers=api.as_("seat1"))
    ).json()
    assert [x["score"]["id"] for x in page["items"]] == [s1["id"]] and page["total"] == 2

    url = f"/api/seat/qa/scores/{s1['id']}/appeal"
    resp = await api.client.post(
        url, json={"reason": "开场白已按规范说明"}, headers=api.as_("seat1")
    )
    assert resp.status_code == 201, resp.text
    appeal = resp.json()
    assert appeal["status"] == "open" and appeal["seat_id"] == "1001"
    again = await api.client.post(url, json={"reason": "再次申诉"}, headers=api.as_("seat1"))
    assert again.status_code == 409 and "只能申诉一次" in again.json()["detail"]
    foreign = await api.client.post(
        f"/api/seat/qa/scores/{other['id']}/appeal", json={"reason": "x"}, headers=api.as_("seat1")
    )
    assert foreign.status_code == 403
    for body in ({"reason": ""}, {"reason": "   "}, {}, {"reason": "x" * 501}):
        resp = await api.client.post(
            f"/api/seat/qa/scores/{s2['id']}/appeal", json=body, headers=api.as_("seat1")
        )
        assert resp.status_code == 422, body
    assert (
        await api.client.post(
            "/api/seat/qa/scores/99999/appeal", json={"reason": "x"}, headers=api.as_("seat1")
        )
    ).status_code == 404
    assert (
        await api.client.post(url, json={"reason": "x"}, headers=api.role("qa"))
    ).status_code == 403

    open_ = (await api.client.get("/api/qa/appeals?status=open", headers=lead)).json()
    assert [a["id"] for a in open_["items"]] == [appeal["id"]] and open_["total"] == 1
    assert open_["items"][0]["score"]["total"] == 96

    resolve = f"/api/qa/appeals/{appeal['id']}/resolve"
    form = await rubric(api)
    full = {i["key"]: i["max"] for i in form["items"]}
    for body, status in (
        ({"decision": "changed", "note": "同意"}, 422),  # no new score
        ({"decision": "upheld", "note": "x", "scores": full}, 422),
        ({"decision": "changed", "note": "x", "scores": s1["scores"]}, 422),  # unchanged
        ({"decision": "changed", "note": "x", "scores": {"greeting": 10}}, 422),  # incomplete
        ({"decision": "maybe", "note": "x"}, 422),
        ({"decision": "upheld", "note": ""}, 422),
    ):
        resp = await api.client.post(resolve, json=body, headers=lead)
        assert resp.status_code == status, (body, resp.text)
    reviewer_try = await api.client.post(
        resolve, json={"decision": "upheld", "note": "x"}, headers=api.role("qa")
    )
    assert reviewer_try.status_code == 403
    done = await api.client.post(
        resolve,
        json={"decision": "changed", "note": "录音核实开场规范", "scores": full},
        headers=lead,
    )
    assert done.status_code == 200, done.text
    out = done.json()
    assert out["status"] == "changed" and out["resolved_by"] == "lead"
    assert out["old_total"] == 96 and out["old_scores"]["greeting"] == 6
    assert out["score"]["total"] == 100
    twice = await api.client.post(resolve, json={"decision": "upheld", "note": "x"}, headers=lead)
    assert twice.status_code == 409
    seen = (await api.client.get("/api/seat/qa/scores", headers=api.as_("seat1"))).json()
    changed = next(x for x in seen["items"] if x["score"]["id"] == s1["id"])
    assert changed["score"]["total"] == 100 and changed["appeal"]["status"] == "changed"
    assert changed["appeal"]["resolution"] == "录音核实开场规范"
    log = (await api.client.get("/api/admin/audit?call_id=a1", headers=api.role("admin"))).json()
    assert [(e["username"], e["action"]) for e in log] == [
        ("lead", "qa.appeal.resolve"),
        ("seat1", "qa.appeal"),
    ]
    assert log[0]["detail"].startswith("changed 96->100")
    # The second one upheld.
    resp = await api.client.post(
        f"/api/seat/qa/scores/{s2['id']}/appeal",
        json={"reason": "请复核"},
        headers=api.as_("seat1"),
    )
    kept = await api.client.post(
        f"/api/qa/appeals/{resp.json()['id']}/resolve",
        json={"decision": "upheld", "note": "评分无误"},
        headers=lead,
    )
    assert kept.json()["status"] == "upheld" and kept.json()["old_total"] is None
    assert kept.json()["score"]["total"] == 100
    closed = (await api.client.get("/api/qa/appeals?status=open", headers=lead)).json()
    assert closed["total"] == 0
    assert (await api.client.get("/api/seat/qa/scores", headers=api.role("qa"))).status_code == 403


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "offset=-1", "status=bogus"])
async def test_lists_refuse_bad_paging(api: Api, query: str) -> None:
    lead = await add_lead(api)
    for url in ("/api/qa/assignments", "/api/qa/appeals"):
        resp = await api.client.get(f"{url}?{query}", headers=lead)
        assert resp.status_code == 422, (url, query)
    if not query.startswith("status"):
        resp = await api.client.get(f"/api/seat/qa/scores?{query}", headers=api.as_("seat1"))
        assert resp.status_code == 422
