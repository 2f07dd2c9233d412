"""asterisk_conf/ as a real Asterisk would load it: asterisklint, AMI exposure, seats, queues."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ivr.compile import compile_menu
from ivr.menu import MenuError, load_menu
from ivr.seats import compile_pjsip, compile_queues, load_seats
from sim.dialplan import Call, parse, walk

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "asterisk_conf"
LINT = Path(sys.executable).parent / "asterisklint"


def lint(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT), "dialplan-check", "extensions.conf"],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def sections(path: Path) -> list[str]:
    return re.findall(r"^\[([^\]]+)\]", path.read_text(encoding="utf-8"), re.M)


def test_asterisklint_is_clean() -> None:
    out = lint(CONF)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout + out.stderr == ""  # no warnings either (none to justify)


def test_asterisklint_catches_mistakes_in_the_generated_part(tmp_path: Path) -> None:
    shutil.copytree(CONF, tmp_path / "conf")
    ivr = tmp_path / "conf" / "extensions_ivr.conf"
    ivr.write_text(ivr.read_text().replace("Goto(acd-wait,s,1)", "Goto(acd-wiat,s,1)", 1))
    out = lint(tmp_path / "conf")
    assert out.returncode == 1 and "E_DP_GOTO_NOCONTEXT" in out.stdout + out.stderr


def test_second_menu_passes_asterisklint(tmp_path: Path) -> None:
    shutil.copytree(CONF, tmp_path / "conf")
    other = compile_menu(load_menu(ROOT / "tests" / "data" / "ivr" / "other.yaml"))
    # [from-pstn] jumps to ivr-12345; point it at the other menu to lint that one alone
    ext = tmp_path / "conf" / "extensions.conf"
    ext.write_text(ext.read_text().replace("Goto(ivr-12345,s,1)", "Goto(ivr-county,s,1)"))
    (tmp_path / "conf" / "extensions_ivr.conf").write_text(other)
    out = lint(tmp_path / "conf")
    assert out.returncode == 0, out.stdout + out.stderr


def test_manager_conf_is_loopback_and_least_privilege() -> None:
    text = (CONF / "manager.conf").read_text()
    cfg = configparser.ConfigParser(strict=False, inline_comment_prefixes=(";",))
    cfg.read_string(text)
    assert cfg["general"]["bindaddr"] == "127.0.0.1"
    assert cfg["general"]["webenabled"] == "no"
    assert cfg["general"]["timestampevents"] == "yes"  # the controller's waits (pbx/stamps.py)
    user = cfg["hotline"]
    assert user["deny"] == "0.0.0.0/0.0.0.0"
    assert user["permit"] == "127.0.0.1/255.255.255.255"
    read = set(user["read"].split(","))
    write = set(user["write"].split(","))
    assert read == {"system", "call", "user", "agent"}
    assert write == {"call", "originate", "reporting"}
    assert not {"all", "system", "command", "config"} & write
    assert "toll fraud" in text and "originate" in text


def test_seat_list_compiles_to_endpoints_and_fallback_queues() -> None:
    seats = load_seats()
    pjsip = compile_pjsip(seats, "secret-a")
    assert pjsip != compile_pjsip(seats, "secret-b")  # passwords come from the secret
    assert "secret-a" not in pjsip
    for seat in seats.seats:
        assert f"[{seat.id}](hl-seat)" in pjsip and f"[{seat.id}](hl-seat-aor)" in pjsip
    queues = compile_queues(seats)
    assert "[xa-general](hl-fallback)" in queues
    assert "member => PJSIP/1004,0,政企通1004" in queues.split("[xa-enterprise]")[1]
    # every fallback queue [acd-wait] can ask for exists; none is called `general`
    all_queues = sections(CONF / "queues.conf") + sections(CONF / "queues_seats.conf")
    assert all_queues.count("general") == 1  # the global section only
    assert {"xa-general", "xa-enterprise", "xa-foreign"} <= {q.split("]")[0] for q in all_queues}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "city: xa\nseats:\n  - {id: '1001', name: a, skills: [general]}\n"
            "  - {id: '1001', name: b, skills: [general]}\n",
            "seat defined twice: 1001",
        ),
        ("city: xa\nseats:\n  - {id: '1001', name: a, skills: [vip]}\n", "unknown skill vip"),
        ("city: xa\nseats:\n  - {id: '12', name: a, skills: [general]}\n", "must be four digits"),
        ("city: XA\nseats:\n  - {id: '1001', name: a, skills: [general]}\n", "city 'XA'"),
        ("city: xa\nseats:\n  - {id: '1001', name: 'a;b', skills: [general]}\n", "reserved"),
    ],
)
def test_bad_seat_lists(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "seats.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(MenuError, match=message):
        load_seats(path)


def test_pjsip_templates_defined_before_use() -> None:
    base = sections(CONF / "pjsip.conf")
    for template in ("hl-seat](!", "hl-seat-auth](!", "hl-seat-aor](!"):
        assert template.split("]")[0] in [s.split("]")[0] for s in base]
    text = (CONF / "pjsip.conf").read_text()
    assert text.rstrip().endswith("#include pjsip_seats.conf")


def wait_plan() -> dict[str, dict[str, list[tuple[str, str, str]]]]:
    return parse((CONF / "extensions.conf").read_text(encoding="utf-8"))


GLOBALS = {"FALLBACK_AFTER": "60", "QUEUE_TIMEOUT": "600", "ANNOUNCE_EVERY": "30"}


def test_acd_wait_announces_then_falls_back_to_queue() -> None:
    call = Call(globals=GLOBALS)
    call.vars.update({"SKILL": "enterprise", "HL_POS": "3", "HL_EWT": "2"})
    start = call.clock
    walk(wait_plan(), call, "acd-wait")
    assert call.end == "hangup"
    # announcements every 30 s of music; the fallback check comes first at 60 s
    assert call.played == ["hl-queue-pos-3", "hl-queue-ewt-2", "hl-queue-sorry"]
    fallback = next(e for e in call.events if e["Event"] == "HotlineFallback")
    assert fallback == {
        "Event": "HotlineFallback",
        "City": "xa",
        "CallId": "1700000000.1",
        "Waited": "60",
        "Queue": "xa-enterprise",
    }
    assert call.queued == ["xa-enterprise,,,,600", "xa-general,,,,600"]
    assert call.clock - start == 60


def test_acd_wait_keeps_the_original_place_and_caps_numbers() -> None:
    call = Call(globals={**GLOBALS, "FALLBACK_AFTER": "50"})
    # back from a seat that did not answer: WAIT_START is the first arrival, 35 s ago
    call.vars.update({"SKILL": "general", "HL_POS": "25", "HL_EWT": "40"})
    call.vars["WAIT_START"] = str(call.clock - 35)
    call.vars["HL_LAST_ANN"] = str(call.clock - 30)
    walk(wait_plan(), call, "acd-wait")
    assert call.played == ["hl-queue-pos-over", "hl-queue-ewt-over", "hl-queue-sorry"]
    assert call.queued == ["xa-general,,,,600"]  # general already: no second queue
    assert next(e for e in call.events if e["Event"] == "HotlineFallback")["Waited"] == "55"


def test_acd_wait_silent_until_the_controller_sets_a_position() -> None:
    call = Call(globals=GLOBALS)
    call.vars["SKILL"] = "foreign"
    walk(wait_plan(), call, "acd-wait")
    assert call.played == ["hl-queue-sorry"]


@pytest.mark.parametrize(("status", "end"), [("NOANSWER", "parked"), ("ANSWER", "hangup")])
def test_acd_connect(status: str, end: str) -> None:
    call = Call(dial_status=status)
    call.vars.update({"SEAT": "PJSIP/1001", "RING_TIMEOUT": "15", "HL_REC": "/rec/xa/c1-a2"})
    walk(wait_plan(), call, "acd-connect")
    assert call.end == end
    assert call.apps[:2] == [
        "MixMonitor(/rec/xa/c1-a2.wav,r(/rec/xa/c1-a2-in.wav)t(/rec/xa/c1-a2-out.wav))",
        "Dial(PJSIP/1001,15,U(hl-journal-answered))",
    ]
    names = [e["Event"] for e in call.events]
    if status == "ANSWER":
        assert names == ["SeatDial"] and len(call.apps) == 2
    else:
        assert names == ["SeatDial", "SeatResult"] and call.apps[2] == "StopMixMonitor()"
        assert call.events[1]["DialStatus"] == "NOANSWER"
        assert call.events[1]["Seat"] == "PJSIP/1001"


# --- [callback] and [transfer]: a result after every way out (issue 13, item 3) ---------------
CB_VARS = {
    "HL_IDEMPOTENCY": "cb-17-1",
    "HL_TASK": "17-1",
    "HL_REC": "",
    "RING_TIMEOUT": "20",
}


def _callback(status: str, seat_hangs_up: bool, astdb: dict[str, str] | None = None) -> Call:
    call = Call(dial_status=status, hangs_up_in_dial=seat_hangs_up, astdb=dict(astdb or {}))
    call.vars.update(CB_VARS)
    return walk(wait_plan(), call, "callback", "13912345678")


@pytest.mark.parametrize(
    ("status", "seat_hangs_up", "result"),
    [
        ("ANSWER", False, "ANSWER"),  # the citizen talked and hung up first
        ("ANSWER", True, "ANSWER"),  # the seat hung up first, after the citizen answered
        ("NOANSWER", True, "CANCEL"),  # the seat hung up while the citizen's phone rang
        ("NOANSWER", False, "NOANSWER"),
        ("BUSY", False, "BUSY"),
    ],
)
def test_callback_reports_and_keeps_its_result_whoever_hangs_up(
    status: str, seat_hangs_up: bool, result: str
) -> None:
    call = _callback(status, seat_hangs_up)
    assert call.end == "hangup"
    assert call.apps == ["Dial(PJSIP/13912345678@pstn,20,g)"]
    assert [e["Event"] for e in call.events] == ["CallbackDial", "CallbackResult"]
    assert call.events[1] == {
        "Event": "CallbackResult",
        "City": "xa",
        "CallId": "1700000000.1",
        "Task": "17-1",
        "DialStatus": result,
    }
    # a restarted controller reads the outcome here: never left at DIALLING
    assert call.astdb == {"hlcb/cb-17-1": result}


def test_callback_second_run_of_a_key_touches_nothing() -> None:
    call = _callback("ANSWER", False, {"hlcb/cb-17-1": "DIALLING"})
    assert call.end == "hangup" and call.ran_h
    assert call.events == [] and call.apps == []
    assert call.astdb == {"hlcb/cb-17-1": "DIALLING"}  # the first run's entry is kept


def test_dial_without_g_ends_the_dialplan_after_an_answered_call() -> None:
    # The walker follows app_dial.c: what made CallbackResult vanish on the real PBX.
    plan = parse("[t]\nexten => s,1,Dial(PJSIP/1@pstn,20)\n same => n,UserEvent(After)\n")
    assert walk(plan, Call(dial_status="ANSWER"), "t").events == []
    assert walk(plan, Call(dial_status="NOANSWER"), "t").events == [{"Event": "After"}]
    with_g = parse("[t]\nexten => s,1,Dial(PJSIP/1@pstn,20,g)\n same => n,UserEvent(After)\n")
    assert walk(with_g, Call(dial_status="ANSWER"), "t").events == [{"Event": "After"}]
    gone = Call(dial_status="ANSWER", hangs_up_in_dial=True)
    assert walk(with_g, gone, "t").events == []


@pytest.mark.parametrize(
    ("status", "caller_hangs_up", "result"),
    [
        ("ANSWER", False, "ANSWER"),
        ("ANSWER", True, "ANSWER"),
        ("NOANSWER", True, "CANCEL"),
        ("NOANSWER", False, "NOANSWER"),
    ],
)
def test_transfer_reports_its_result_whoever_hangs_up(
    status: str, caller_hangs_up: bool, result: str
) -> None:
    call = Call(dial_status=status, hangs_up_in_dial=caller_hangs_up)
    call.vars["DIALSTATUS"] = "ANSWER"  # left by the caller's Dial of the seat
    walk(wait_plan(), call, "transfer", "057187000004")
    assert call.apps == ["Dial(PJSIP/057187000004@pstn,30,g)"]
    assert [e["Event"] for e in call.events] == ["DeptCall", "TransferResult"]
    assert call.events[1]["DialStatus"] == result
    assert call.events[1]["Number"] == "057187000004"


# --- ConfBridge profiles: who ends the room (issue 13, item 5) --------------------------------
def _confbridge() -> configparser.ConfigParser:
    cfg = configparser.ConfigParser(strict=False, inline_comment_prefixes=(";",))
    cfg.read_string((CONF / "confbridge.conf").read_text(encoding="utf-8"))
    return cfg


def test_caller_and_seat_are_marked_and_the_department_ends_with_them() -> None:
    cfg = _confbridge()
    party, dept = cfg["hotline_user"], cfg["hotline_dept"]
    assert (party["type"], party["marked"]) == ("user", "yes")
    assert party.get("end_marked", "no") == "no"
    assert (dept["type"], dept["marked"], dept["end_marked"]) == ("user", "no", "yes")
    # every profile [conference] names exists in confbridge.conf
    used = re.findall(
        r"ConfBridge\(\$\{EXTEN\},(\w+),(\w+)\)", (CONF / "extensions.conf").read_text()
    )
    assert sorted(used) == [("hotline_bridge", "hotline_dept"), ("hotline_bridge", "hotline_user")]
    assert all(b in cfg and u in cfg for b, u in used)


@pytest.mark.parametrize(
    ("role", "marked", "apps"),
    [
        ("", 0, ["ConfBridge(room1,hotline_bridge,hotline_user)"]),  # caller or seat
        ("department", 2, ["ConfBridge(room1,hotline_bridge,hotline_dept)"]),
        ("department", 0, []),  # caller and seat gone: it would wait alone
    ],
)
def test_conference_picks_the_profile(role: str, marked: int, apps: list[str]) -> None:
    call = Call(marked={"room1": marked})
    call.vars["HL_CONF_ROLE"] = role
    walk(wait_plan(), call, "conference", "room1")
    assert call.apps == apps and call.end == "hangup"


# --- pjsip.conf as Asterisk reads it: who is identified how (issue 13, items 6, 8, 11) ----------
def pjsip_objects(text: str) -> list[tuple[str, dict[str, str]]]:
    """(name, options) of every non-template section, templates applied (`[a](!,tpl)`,
    `[a](tpl)`), in file order; a name may appear several times (endpoint, auth, aor)."""
    templates: dict[str, dict[str, str]] = {}
    objects: list[tuple[str, dict[str, str]]] = []
    current: dict[str, str] | None = None
    for raw in text.splitlines():
        line = raw.split(";", 1)[0].strip()
        if not line or line.startswith("#include"):
            continue
        head = re.fullmatch(r"\[([^\]]+)\](?:\(([^)]*)\))?", line)
        if head is not None:
            name, args = head.group(1), [a.strip() for a in (head.group(2) or "").split(",") if a]
            current = {}
            for parent in (a for a in args if a != "!"):
                current.update(templates[parent])  # a template must be defined before use
            if "!" in args:
                templates[name] = current
            else:
                objects.append((name, current))
            continue
        key, _, value = line.partition("=")
        assert current is not None, f"option outside a section: {line}"
        current[key.strip().rstrip(">").strip()] = value.strip()
    return objects


def generated_pjsip() -> list[tuple[str, dict[str, str]]]:
    text = (CONF / "pjsip.conf").read_text(encoding="utf-8")
    seats = compile_pjsip(load_seats(), "a-deployment-secret-xyz")
    return pjsip_objects(text.replace("#include pjsip_seats.conf", seats))


def test_trunks_are_identified_by_address_only_and_phones_must_authenticate() -> None:
    objects = generated_pjsip()
    endpoints = {n: o for n, o in objects if o.get("type") == "endpoint"}
    auths = {n: o for n, o in objects if o.get("type") == "auth"}
    identifies = [o for _, o in objects if o.get("type") == "identify"]
    [order] = [o["endpoint_identifier_order"] for _, o in objects if o.get("type") == "global"]
    trunks = {n: o for n, o in endpoints.items() if "auth" not in o}
    phones = {n: o for n, o in endpoints.items() if "auth" in o}
    assert set(trunks) == {"pstn", "trunk-xy", "trunk-bj"}
    for name, trunk in trunks.items():
        # no inbound auth: identification by user name would let any host in (From: pstn)
        assert trunk.get("identify_by") == "ip", name
        assert any(i["endpoint"] == name and i.get("match") for i in identifies), name
    for name, phone in phones.items():
        auth = auths[phone["auth"]]
        assert auth["auth_type"] == "userpass" and len(auth["password"]) >= 16, name
        assert phone["context"] in ("seats", "supervisor-phone"), name
        assert phone.get("identify_by") == "username", name
    # Every identifier in the order is one that only authenticated endpoints answer to,
    # except ip, which only the trunks' identify sections use.
    assert order.split(",")[0] == "ip"
    assert {i["endpoint"] for i in identifies} <= set(trunks)
    for method in order.split(",")[1:]:
        assert method in ("username", "auth_username")
        assert all(method not in o.get("identify_by", "username,ip") for o in trunks.values())


def test_the_dispatchers_softphone_has_an_endpoint_that_reaches_seats_only() -> None:
    endpoints = {n: o for n, o in generated_pjsip() if o.get("type") == "endpoint"}
    assert endpoints["9001"]["context"] == "supervisor-phone"
    assert endpoints["9001"]["auth"] == "9001"
    plan = wait_plan()
    assert list(plan["supervisor-phone"]) == ["_XXXX"]
    assert plan["supervisor-phone"]["_XXXX"] == [("", "Goto", "seats,${EXTEN},1")]


def test_the_carrier_is_never_re_invited_for_caller_id_updates() -> None:
    [pstn] = [o for n, o in generated_pjsip() if n == "pstn" and o.get("type") == "endpoint"]
    for option in ("send_rpid", "send_pai", "send_connected_line", "trust_connected_line"):
        assert pstn[option] == "no", option


def test_a_supervisor_cannot_take_a_seats_id(tmp_path: Path) -> None:
    path = tmp_path / "seats.yaml"
    path.write_text(
        "city: xa\nseats:\n  - {id: '1001', name: a, skills: [general]}\n"
        "supervisors:\n  - {id: '1001', name: b}\n",
        encoding="utf-8",
    )
    with pytest.raises(MenuError, match="seat defined twice: 1001"):
        load_seats(path)


def test_compile_refuses_the_default_secret_in_production(tmp_path: Path) -> None:
    from ivr.generate import DEV_SECRET, render_all

    with pytest.raises(MenuError, match="refuses the default seat secret"):
        render_all(secret=DEV_SECRET, out_dir=tmp_path, production=True)
    with pytest.raises(MenuError, match="at least 16"):
        render_all(secret="short", out_dir=tmp_path, production=True)
    assert render_all(secret="a-deployment-secret-xyz", out_dir=tmp_path, production=True)
    assert render_all(secret=DEV_SECRET, out_dir=tmp_path)  # development keeps working


# --- modules.conf: only what is used, and everything that is used (issue 13, item 12) ---------
BUILTIN_APPS = {"Answer", "Background", "Goto", "GotoIf", "GotoIfTime", "Hangup", "NoOp", "Set"}
BUILTIN_APPS |= {"WaitExten"}
MODULE_OF_APP = {
    "ChanSpy": "app_chanspy",
    "ConfBridge": "app_confbridge",
    "DBdeltree": "app_db",
    "Dial": "app_dial",
    "ExecIf": "app_exec",
    "MixMonitor": "app_mixmonitor",
    "StopMixMonitor": "app_mixmonitor",
    "MusicOnHold": "res_musiconhold",
    "Playback": "app_playback",
    "Queue": "app_queue",
    "Return": "app_stack",
    "UserEvent": "app_userevent",
}
MODULE_OF_FUNCTION = {
    "CALLERID": "func_callerid",
    "CHANNEL": "func_channel",
    "CONFBRIDGE_INFO": "app_confbridge",
    "DB": "func_db",
    "DB_EXISTS": "func_db",
    "FILTER": "func_strings",
    "GLOBAL": "func_global",
    "IF": "func_logic",
    "MASTER_CHANNEL": "func_channel",
    "STRFTIME": "func_strings",
    "TOUPPER": "func_strings",
}


def test_modules_conf_loads_what_the_dialplan_uses_and_no_shell() -> None:
    text = (CONF / "modules.conf").read_text(encoding="utf-8")
    loaded = set(re.findall(r"^load => (\w+)\.so", text, re.M))
    assert re.search(r"^autoload = no$", text, re.M)
    dialplan = "".join((CONF / f).read_text() for f in ("extensions.conf", "extensions_ivr.conf"))
    apps = set(
        re.findall(r"^\s*(?:exten => [^,]+,1|same => n)(?:\(\w+\))?,(\w+)\(", dialplan, re.M)
    )
    assert apps - BUILTIN_APPS <= set(MODULE_OF_APP), "map the new application to its module"
    functions = set(re.findall(r"(?:\$\{|Set\()([A-Z_]+)\(", dialplan))
    assert functions <= set(MODULE_OF_FUNCTION), "map the new function to its module"
    needed = {MODULE_OF_APP[a] for a in apps - BUILTIN_APPS} | {
        MODULE_OF_FUNCTION[f] for f in functions
    }
    assert needed <= loaded, needed - loaded
    assert {"pbx_config", "chan_pjsip", "res_pjsip_endpoint_identifier_ip"} <= loaded
    assert not {"app_system", "func_shell", "res_ari", "res_http_websocket"} & loaded
    for name in ("asterisk.conf", "logger.conf", "cdr.conf", "cel.conf", "pjproject.conf"):
        assert (CONF / name).is_file(), name
    assert re.search(r"^systemname = \w+$", (CONF / "asterisk.conf").read_text(), re.M)
