"""Admin routes (users, seats, cities, departments) and the `hotline users add` command."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api_support import Api, api, backend  # noqa: F401
from tests.test_cli import run


async def test_users_crud(api: Api) -> None:
    h = api.role("admin")
    body = {
        "username": "zhang.san",
        "password": "long-enough",
        "role": "qa",
        "display_name": "张三",
    }
    created = await api.client.post("/api/admin/users", json=body, headers=h)
    assert created.status_code == 201 and "password" not in created.text
    user = created.json()
    assert (user["username"], user["role"], user["active"]) == ("zhang.san", "qa", True)
    assert (await api.client.post("/api/admin/users", json=body, headers=h)).status_code == 409
    assert (await api.login("zhang.san", "long-enough")).status_code == 200
    for bad in (
        body | {"username": "bad name"},
        body | {"password": "short"},
        body | {"role": "boss"},
        body | {"username": "x", "role": "seat"},  # a seat user needs a seat
        body | {"is_admin": True},
    ):
        assert (
            await api.client.post("/api/admin/users", json=bad, headers=h)
        ).status_code == 422, bad
    patched = await api.client.patch(
        f"/api/admin/users/{user['id']}", json={"password": "another-one"}, headers=h
    )
    assert patched.status_code == 200
    assert (await api.login("zhang.san", "long-enough")).status_code == 401
    assert (await api.login("zhang.san", "another-one")).status_code == 200
    listed = (await api.client.get("/api/admin/users", headers=h)).json()
    assert "zhang.san" in [u["username"] for u in listed]
    assert (await api.client.delete(f"/api/admin/users/{user['id']}", headers=h)).status_code == 204
    assert (await api.client.delete(f"/api/admin/users/{user['id']}", headers=h)).status_code == 404
    assert (
        await api.client.patch("/api/admin/users/9999", json={"active": False}, headers=h)
    ).status_code == 404


async def test_seats_cities_departments(api: Api) -> None:
    h = api.role("admin")
    seat = {"city": "xy", "skills": {"general": 1, "foreign": 3}, "endpoint": "PJSIP/2001"}
    resp = await api.client.put("/api/admin/seats/2001", json=seat, headers=h)
    assert resp.status_code == 200 and resp.json()["skills"] == {"general": 1, "foreign": 3}
    assert [
        s["seat_id"] for s in (await api.client.get("/api/admin/seats?city=xy", headers=h)).json()
    ] == ["2001"]
    assert (
        await api.client.put("/api/admin/seats/2001", json=seat | {"city": "zz"}, headers=h)
    ).status_code == 404
    assert (
        await api.client.put(
            "/api/admin/seats/2001", json=seat | {"endpoint": "PJSIP/1\r\n"}, headers=h
        )
    ).status_code == 422
    assert (
        await api.client.put("/api/admin/seats/bad id", json=seat, headers=h)
    ).status_code == 422
    assert (await api.client.delete("/api/admin/seats/2001", headers=h)).status_code == 204

    cities = (await api.client.get("/api/admin/cities", headers=h)).json()
    assert [(c["city"], c["helpers"]) for c in cities] == [("xa", ["xy"]), ("xy", ["xa"])]
    rule = {"wait_s": 20, "ewt_s": None, "callers_per_ready": 2.5, "all_cities_wait_s": 60}
    resp = await api.client.put("/api/admin/cities/xa/rule", json=rule, headers=h)
    assert resp.json()["rule"] == {
        "wait_s": 20.0,
        "ewt_s": None,
        "callers_per_ready": 2.5,
        "all_cities_wait_s": 60.0,
    }
    assert (
        await api.client.put("/api/admin/cities/xa/rule", json={"wait_s": -1}, headers=h)
    ).status_code == 422

    dept = {
        "name": "市住建局",
        "number": "02912345",
        "duty_hours": "9:00-17:00",
        "categories": ["城乡建设"],
    }
    created = await api.client.post("/api/admin/departments", json=dept, headers=h)
    assert created.status_code == 201
    dept_id = created.json()["id"]
    assert (
        await api.client.post("/api/admin/departments", json=dept, headers=h)
    ).status_code == 409
    changed = await api.client.put(
        f"/api/admin/departments/{dept_id}", json=dept | {"number": "02954321"}, headers=h
    )
    assert changed.json()["number"] == "02954321"
    assert (
        await api.client.post("/api/admin/departments", json=dept | {"number": "x"}, headers=h)
    ).status_code == 422
    assert [
        d["name"] for d in (await api.client.get("/api/admin/departments", headers=h)).json()
    ] == ["市住建局"]
    assert (
        await api.client.delete(f"/api/admin/departments/{dept_id}", headers=h)
    ).status_code == 204
    assert (
        await api.client.put(f"/api/admin/departments/{dept_id}", json=dept, headers=h)
    ).status_code == 404


@pytest.mark.slow  # six subprocesses
def test_users_add_command(tmp_path: Path) -> None:
    env = {"HOTLINE_DATA_DIR": str(tmp_path), "NEW_PW": "first-admin-pw"}
    assert run(["db", "upgrade"], env, tmp_path).returncode == 0
    out = run(
        ["users", "add", "root", "--role", "admin", "--password-env", "NEW_PW"], env, tmp_path
    )
    assert out.returncode == 0, out.stderr
    assert "user root (admin) created" in out.stdout
    again = run(
        ["users", "add", "root", "--role", "admin", "--password-env", "NEW_PW"], env, tmp_path
    )
    assert again.returncode == 2 and "exists already" in again.stderr
    bad = run(["users", "add", "s1", "--role", "seat", "--password-env", "NEW_PW"], env, tmp_path)
    assert bad.returncode == 2 and "needs a seat id" in bad.stderr
    weak = run(["users", "add", "s1", "--role", "qa", "--password-env", "NOPE"], env, tmp_path)
    assert weak.returncode == 2 and "8 to 200" in weak.stderr
    role = run(["users", "add", "s1", "--role", "boss", "--password-env", "NEW_PW"], env, tmp_path)
    assert role.returncode == 2 and "invalid value" in role.stderr


@pytest.mark.slow  # subprocesses
def test_unit_accounts_from_the_command_line(tmp_path: Path) -> None:
    env = {"HOTLINE_DATA_DIR": str(tmp_path), "NEW_PW": "street-office-pw"}
    assert run(["db", "upgrade"], env, tmp_path).returncode == 0
    add = ["users", "add", "zbg", "--role", "unit", "--password-env", "NEW_PW"]
    missing = run([*add, "--unit", "雁塔区丈八沟街道"], env, tmp_path)
    assert missing.returncode == 2 and "no unit named" in missing.stderr
    seeded = run(["units", "seed"], env, tmp_path)
    assert seeded.returncode == 0 and "units in the directory" in seeded.stdout
    listed = run(["units", "list"], env, tmp_path)
    assert "乡镇街道\t雁塔区丈八沟街道\t雁塔区" in listed.stdout
    no_unit = run(add, env, tmp_path)
    assert no_unit.returncode == 2 and "--unit" in no_unit.stderr
    ok = run([*add, "--unit", "雁塔区丈八沟街道"], env, tmp_path)
    assert ok.returncode == 0 and "user zbg (unit) created" in ok.stdout, ok.stderr
    bad_file = tmp_path / "units.yaml"
    bad_file.write_text("- {name: 孤儿街道, level: 乡镇街道}\n", encoding="utf-8")
    refused = run(["units", "seed", "--file", str(bad_file)], env, tmp_path)
    assert refused.returncode == 2 and "needs a parent" in refused.stderr
