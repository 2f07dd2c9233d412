"""QA through the ASGI app: search, recordings with Range, transcripts, audit, scores, comments."""

from __future__ import annotations

import hashlib
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from acd.calls.tables import CallRecord
from asr.models import Transcript, TranscriptSegment
from recording.models import Recording
from tests.api_support import Api, api, backend  # noqa: F401

T0 = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


def wav(path: Path, seconds: float = 4.0) -> Path:
    """A real 8 kHz telephone WAV (sox)."""
    subprocess.run(
        [
            "sox",
            "-n",
            "-r",
            "8000",
            "-c",
            "1",
            "-b",
            "16",
            str(path),
            "synth",
            str(seconds),
            "sine",
            "440",
        ],
        check=True,
    )
    return path


async def seed_calls(api: Api, tmp_path: Path) -> dict[str, int]:
    """Three calls; the first two recorded and transcribed. Returns recording ids by call."""
    ids: dict[str, int] = {}
    async with api.sessions.begin() as session:
        for n, (call_id, city, seat, skill, outcome, over, text) in enumerate(
            [
                ("xa-1", "xa", "1001", "general", "completed", False, "小区噪音扰民 夜间施工"),
                ("xa-2", "xa", "1002", "enterprise", "completed", True, "营业执照办理 进度如何"),
                ("xy-3", "xy", None, "general", "abandoned", False, None),
            ]
        ):
            at = T0 + timedelta(hours=n)
            session.add(
                CallRecord(
                    call_id=call_id,
                    city=city,
                    caller_num=f"1380000000{n}",
                    skill=skill,
                    entered_at=at,
                    answered_at=at if seat else None,
                    ended_at=at + timedelta(minutes=3),
                    seat_id=seat,
                    answer_city="xy" if over else city,
                    overflowed=over,
                    outcome=outcome,
                )
            )
            if text is None:
                continue
            path = wav(tmp_path / f"{call_id}.wav")
            rec = Recording(
                call_id=call_id,
                city=city,
                seat_id=seat,
                speaker="mixed",
                path=str(path),
                format="wav-pcm16",
                duration_s=4.0,
                size_bytes=path.stat().st_size,
                sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
                started_at=at,
            )
            session.add(rec)
            await session.flush()
            ids[call_id] = rec.id
            words = text.split()
            session.add(
                Transcript(
                    recording_id=rec.id,
                    call_id=call_id,
                    speaker="mixed",
                    text=text,
                    model="vosk-test",
                    audio_s=4.0,
                    segments=[
                        TranscriptSegment(
                            speaker=sp,
                            start_s=float(i * 1.5),
                            end_s=float(i * 1.5 + 1.2),
                            text=w,
                            confidence=0.9,
                        )
                        for i, (sp, w) in enumerate(zip(["caller", "seat"], words, strict=True))
                    ],
                )
            )
    return ids


async def search(api: Api, query: str = "", role: str = "qa") -> list[str]:
    resp = await api.client.get(f"/api/qa/calls?{query}", headers=api.role(role))
    assert resp.status_code == 200, resp.text
    return [c["call_id"] for c in resp.json()]


async def test_search_by_every_filter(api: Api, tmp_path: Path) -> None:
    await seed_calls(api, tmp_path)
    assert await search(api) == ["xy-3", "xa-2", "xa-1"]  # newest first
    assert await search(api, "city=xa") == ["xa-2", "xa-1"]
    assert await search(api, "seat_id=1002") == ["xa-2"]
    assert await search(api, "skill=enterprise") == ["xa-2"]
    assert await search(api, "outcome=abandoned") == ["xy-3"]
    assert await search(api, "overflowed=true") == ["xa-2"]
    assert await search(api, "overflowed=false") == ["xy-3", "xa-1"]
    assert await search(api, "q=噪音") == ["xa-1"]
    assert await search(api, "q=%25") == []  # a wildcard is searched as text
    assert await search(api, "date_from=2026-11-30T02:30:00Z&date_to=2026-11-30T03:30:00Z") == [
        "xa-2"
    ]
    assert await search(api, "city=xa&limit=1") == ["xa-2"]
    assert await search(api, "city=xa&limit=1&offset=1", role="admin") == ["xa-1"]
    for bad in ("overflowed=perhaps", "date_from=yesterday", "limit=0", "limit=10000", "city=%00"):
        resp = await api.client.get(f"/api/qa/calls?{bad}", headers=api.role("qa"))
        assert resp.status_code == 422, bad


async def test_call_detail_lists_recordings(api: Api, tmp_path: Path) -> None:
    ids = await seed_calls(api, tmp_path)
    resp = await api.client.get("/api/qa/calls/xa-1", headers=api.role("qa"))
    body = resp.json()
    assert body["call"]["seat_id"] == "1001"
    assert [r["id"] for r in body["recordings"]] == [ids["xa-1"]]
    assert (await api.client.get("/api/qa/calls/none", headers=api.role("qa"))).status_code == 404


async def test_audio_range_requests(api: Api, tmp_path: Path) -> None:
    ids = await seed_calls(api, tmp_path)
    data = (tmp_path / "xa-1.wav").read_bytes()
    url = f"/api/recordings/{ids['xa-1']}/audio"
    h = api.role("qa")
    full = await api.client.get(url, headers=h)
    assert full.status_code == 200 and full.content == data
    assert full.headers["accept-ranges"] == "bytes" and full.headers["content-type"] == "audio/wav"
    first = await api.client.get(url, headers=h | {"Range": "bytes=0-99"})
    assert first.status_code == 206 and first.content == data[:100]
    assert first.headers["content-range"] == f"bytes 0-99/{len(data)}"
    middle = await api.client.get(url, headers=h | {"Range": "bytes=1000-"})
    assert middle.status_code == 206 and middle.content == data[1000:]
    suffix = await api.client.get(url, headers=h | {"Range": "bytes=-500"})
    assert suffix.status_code == 206 and suffix.content == data[-500:]
    past = await api.client.get(url, headers=h | {"Range": f"bytes={len(data) + 10}-"})
    assert past.status_code == 416 and past.headers["content-range"] == f"bytes */{len(data)}"
    garbage = await api.client.get(url, headers=h | {"Range": "bytes=abc"})
    assert garbage.status_code in (400, 416)
    # <audio src> cannot send headers: a 5-minute token for this recording in the URL.
    minted = await api.client.post(f"/api/recordings/{ids['xa-1']}/token", headers=h)
    assert minted.status_code == 200 and minted.json()["expires_in_s"] == 300
    assert (await api.client.get(minted.json()["url"], headers={"Range": "bytes=0-9"})).content == (
        data[:10]
    )


async def test_every_playback_and_transcript_view_is_audited(api: Api, tmp_path: Path) -> None:
    ids = await seed_calls(api, tmp_path)
    rid = ids["xa-1"]
    await api.client.get(
        f"/api/recordings/{rid}/audio", headers=api.role("qa") | {"Range": "bytes=0-99"}
    )
    resp = await api.client.get(f"/api/recordings/{rid}/transcript", headers=api.role("qa"))
    assert resp.status_code == 200
    t = resp.json()
    assert [(s["speaker"], s["start_s"], s["text"]) for s in t["segments"]] == [
        ("caller", 0.0, "小区噪音扰民"),
        ("seat", 1.5, "夜间施工"),
    ]
    await api.client.get(f"/api/recordings/{rid}/audio", headers=api.as_("seat1"))
    log = (await api.client.get("/api/admin/audit?call_id=xa-1", headers=api.role("admin"))).json()
    assert [(e["username"], e["action"], e["target"]) for e in log] == [
        ("seat1", "recording.play", f"recording:{rid}"),
        ("qa", "transcript.view", f"recording:{rid}"),
        ("qa", "recording.play", f"recording:{rid}"),
    ]
    assert log[2]["detail"] == "bytes=0-99"
    by_user = (
        await api.client.get("/api/admin/audit?username=seat1", headers=api.role("admin"))
    ).json()
    assert len(by_user) == 1


async def test_a_seat_hears_only_its_own_calls(api: Api, tmp_path: Path) -> None:
    ids = await seed_calls(api, tmp_path)
    own = await api.client.get(f"/api/recordings/{ids['xa-1']}/audio", headers=api.as_("seat1"))
    assert own.status_code == 200
    other = await api.client.get(f"/api/recordings/{ids['xa-2']}/audio", headers=api.as_("seat1"))
    assert other.status_code == 403
    other_t = await api.client.get(
        f"/api/recordings/{ids['xa-2']}/transcript", headers=api.as_("seat1")
    )
    assert other_t.status_code == 403
    assert (
        await api.client.get(f"/api/recordings/{ids['xa-2']}/audio", headers=api.as_("seat2"))
    ).status_code == 200
    assert (
        await api.client.get(f"/api/recordings/{ids['xa-1']}/audio", headers=api.role("dispatcher"))
    ).status_code == 403
    # Refused requests leave no audit line claiming a playback.
    log = (await api.client.get("/api/admin/audit", headers=api.role("admin"))).json()
    assert {(e["username"], e["target"]) for e in log} == {
        ("seat1", f"recording:{ids['xa-1']}"),
        ("seat2", f"recording:{ids['xa-2']}"),
    }
    assert (
        await api.client.get("/api/recordings/9999/audio", headers=api.role("qa"))
    ).status_code == 404


async def test_missing_audio_file_is_404(api: Api, tmp_path: Path) -> None:
    ids = await seed_calls(api, tmp_path)
    (tmp_path / "xa-1.wav").unlink()
    resp = await api.client.get(f"/api/recordings/{ids['xa-1']}/audio", headers=api.role("qa"))
    assert resp.status_code == 404 and "no longer stored" in resp.json()["detail"]


async def test_scores_follow_the_rubric(api: Api, tmp_path: Path) -> None:
    await seed_calls(api, tmp_path)
    rubric = (await api.client.get("/api/qa/rubric", headers=api.role("qa"))).json()
    assert rubric["items"][0]["label"] == "开场规范"
    full = {i["key"]: i["max"] for i in rubric["items"]}
    ok = await api.client.post(
        "/api/qa/calls/xa-1/scores",
        json={"rubric_id": rubric["id"], "scores": full | {"closing": 3}, "remark": "结束语不完整"},
        headers=api.role("qa"),
    )
    assert ok.status_code == 201, ok.text
    assert (
        ok.json()["total"] == 98 and ok.json()["max_total"] == 100 and ok.json()["reviewer"] == "qa"
    )
    for scores, word in (
        (full | {"closing": 6}, "between 0 and 5"),
        ({"greeting": 5}, "missing"),
        (full | {"extra": 1}, "unknown extra"),
    ):
        resp = await api.client.post(
            "/api/qa/calls/xa-1/scores",
            json={"rubric_id": rubric["id"], "scores": scores},
            headers=api.role("qa"),
        )
        assert resp.status_code == 422 and word in resp.json()["detail"], resp.text
    negative = {"rubric_id": rubric["id"], "scores": full | {"closing": -1}}
    assert (
        await api.client.post("/api/qa/calls/xa-1/scores", json=negative, headers=api.role("qa"))
    ).status_code == 422
    unknown = {"rubric_id": 999, "scores": full}
    assert (
        await api.client.post("/api/qa/calls/xa-1/scores", json=unknown, headers=api.role("qa"))
    ).status_code == 404
    # The admin configures a new rubric; the old score keeps its own.
    new = {"name": "简版", "items": [{"key": "overall", "label": "总体", "max": 10}]}
    saved = await api.client.put("/api/admin/rubric", json=new, headers=api.role("admin"))
    assert saved.status_code == 200
    assert (await api.client.get("/api/qa/rubric", headers=api.role("qa"))).json()["name"] == "简版"
    dup = {
        "name": "x",
        "items": [{"key": "a", "label": "A", "max": 1}, {"key": "a", "label": "B", "max": 1}],
    }
    assert (
        await api.client.put("/api/admin/rubric", json=dup, headers=api.role("admin"))
    ).status_code == 422
    assert (
        await api.client.put(
            "/api/admin/rubric", json={"name": "x", "items": []}, headers=api.role("admin")
        )
    ).status_code == 422
    detail = (await api.client.get("/api/qa/calls/xa-1", headers=api.role("qa"))).json()
    assert [s["rubric_id"] for s in detail["scores"]] == [rubric["id"]]


@pytest.mark.parametrize("at_s", [None, 1.5])
async def test_comments(api: Api, tmp_path: Path, at_s: float | None) -> None:
    await seed_calls(api, tmp_path)
    resp = await api.client.post(
        "/api/qa/calls/xa-1/comments",
        json={"text": "第二句应先确认地址", "at_s": at_s},
        headers=api.role("qa"),
    )
    assert resp.status_code == 201 and resp.json()["at_s"] == at_s
    listed = (await api.client.get("/api/qa/calls/xa-1/comments", headers=api.role("admin"))).json()
    assert [(c["author"], c["text"]) for c in listed] == [("qa", "第二句应先确认地址")]
    for body in ({"text": ""}, {"text": "x", "at_s": -1}, {}, {"text": "a\x00b"}):
        assert (
            await api.client.post("/api/qa/calls/xa-1/comments", json=body, headers=api.role("qa"))
        ).status_code == 422
    assert (
        await api.client.post(
            "/api/qa/calls/nope/comments", json={"text": "x"}, headers=api.role("qa")
        )
    ).status_code == 404
