"""The compiler: committed output up to date, behaviour of the generated dialplan per branch,
a second menu of a different shape, and the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ivr.compile import TARGET, compile_menu, compile_menus, load_menus
from ivr.generate import render_all, stale
from ivr.menu import Menu, MenuError, load_menu
from sim.dialplan import Call, parse, walk

ROOT = Path(__file__).resolve().parents[1]
OTHER = ROOT / "tests" / "data" / "ivr" / "other.yaml"


def hotline(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    return subprocess.run(
        [sys.executable, "-m", "hotline", *args],
        env={**env, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def plan() -> dict[str, dict[str, list[tuple[str, str, str]]]]:
    return parse(TARGET.read_text(encoding="utf-8"))


def route(call: Call) -> dict[str, str]:
    assert call.end == "parked", call
    routes = [e for e in call.events if e["Event"] == "HotlineRoute"]
    assert len(routes) == 1
    return routes[0]


def test_committed_files_are_not_stale() -> None:
    assert stale(render_all()) == [], "run `hotline ivr compile` and commit the result"


def test_press_2_routes_to_enterprise(plan) -> None:
    call = walk(plan, Call(inputs=["2"]), "ivr-12345")
    assert route(call) == {
        "Event": "HotlineRoute",
        "City": "xa",
        "CallId": "1700000000.1",
        "Skill": "enterprise",
        "CallerNum": "13800001234",
        "Path": "2",
        "CallPriority": "0",
    }
    assert call.vars["SKILL"] == "enterprise"
    choice = next(e for e in call.events if e["Event"] == "IvrChoice")
    assert (choice["Menu"], choice["Digit"], choice["Branch"]) == ("12345", "2", "enterprise")
    assert call.played == ["hl-12345-welcome", "hl-12345-menu"]


@pytest.mark.parametrize(
    ("inputs", "skill", "path"),
    [
        (["1"], "general", "1"),
        (["0"], "general", "0"),
        (["t"], "general", "t"),
        (["9"], "foreign", "9"),
        (["5", "2"], "enterprise", "i2"),
    ],
)
def test_choices(plan, inputs: list[str], skill: str, path: str) -> None:
    got = route(walk(plan, Call(inputs=inputs), "ivr-12345"))
    assert (got["Skill"], got["Path"]) == (skill, path)


# A From header's user part is the caller's to write: a CR/LF there must not end the
# UserEvent's CallerNum line and add fields (a Skill, a priority) the controller acts on.
HOSTILE_CALLER = "13800001234\r\nSkill: foreign"


@pytest.mark.parametrize(
    ("inputs", "overload"), [(["2"], False), (["1"], True), (["2", "1"], True), (["9", "7"], True)]
)
def test_the_caller_number_reaches_user_events_as_digits_only(
    plan, inputs: list[str], overload: bool
) -> None:
    globals_ = {"OVERLOAD_XA": "1"} if overload else {}
    call = walk(plan, Call(inputs=inputs, caller=HOSTILE_CALLER, globals=globals_), "ivr-12345")
    carrying = [e for e in call.events if "CallerNum" in e]
    assert carrying, call.events
    assert {e["CallerNum"] for e in carrying} == {"13800001234"}


def test_the_caller_number_enters_as_digits_only() -> None:
    conf = "\n".join(
        (TARGET.parent / name).read_text(encoding="utf-8")
        for name in ("extensions.conf", TARGET.name)
    )
    call = walk(parse(conf), Call(caller="+8613800001234\r\nCity: xy"), "from-pstn", "12345")
    enter = next(e for e in call.events if e["Event"] == "HotlineEnter")
    assert (enter["CallerNum"], enter["City"]) == ("+8613800001234", "xa")


def test_invalid_three_times_goes_to_general(plan) -> None:
    call = walk(plan, Call(inputs=["7", "8", "*"]), "ivr-12345")
    assert (route(call)["Skill"], route(call)["Path"]) == ("general", "iii")
    assert call.played.count("hl-12345-invalid") == 2  # replayed twice, then handed over
    branches = [e["Branch"] for e in call.events if e["Event"] == "IvrChoice"]
    assert branches == ["replay", "replay", "general"]


def test_holiday_greeting(plan) -> None:
    call = walk(plan, Call(inputs=["1"], globals={"HL_HOLIDAY": "1"}), "ivr-12345")
    assert call.played[:3] == ["hl-12345-welcome", "hl-12345-holiday", "hl-12345-menu"]
    assert "hl-12345-holiday" not in walk(plan, Call(inputs=["1"]), "ivr-12345").played


def test_foreign_closed_goes_to_general(plan) -> None:
    call = walk(plan, Call(inputs=["9"], open_hours=False), "ivr-12345")
    assert "hl-12345-foreign_closed" in call.played
    assert (route(call)["Skill"], route(call)["Path"]) == ("general", "9")


def test_overload_offer_accepted(plan) -> None:
    call = walk(plan, Call(inputs=["2", "1"], globals={"OVERLOAD_XA": "1"}), "ivr-12345")
    assert call.end == "hangup"
    names = [e["Event"] for e in call.events]
    assert names == ["IvrChoice", "CallbackOffer", "CallbackAccepted"]
    accepted = call.events[-1]
    assert (accepted["Skill"], accepted["Path"], accepted["Reason"]) == (
        "enterprise",
        "2",
        "overload",
    )
    assert call.played[-2:] == ["hl-12345-callback_offer", "hl-12345-callback_ok"]


@pytest.mark.parametrize(("answer", "digit"), [("2", "i"), ("t", "t")])
def test_overload_offer_declined_queues(plan, answer: str, digit: str) -> None:
    call = walk(plan, Call(inputs=["1", answer], globals={"OVERLOAD_XA": "1"}), "ivr-12345")
    declined = next(e for e in call.events if e["Event"] == "CallbackDeclined")
    assert declined["Digit"] == digit
    assert route(call)["Skill"] == "general"


def test_overload_flag_is_per_city(plan) -> None:
    call = walk(plan, Call(inputs=["1"], globals={"OVERLOAD_XY": "1"}), "ivr-12345")
    assert "CallbackOffer" not in [e["Event"] for e in call.events]


def test_every_branch_ends_in_route_then_acd_wait(plan) -> None:
    for ctx, extens in plan.items():
        for steps in extens.values():
            for i, (_, app, args) in enumerate(steps):
                if app == "UserEvent" and args.startswith("HotlineRoute,"):
                    assert steps[i + 1][1:] == ("Goto", "acd-wait,s,1"), ctx


def test_second_menu_of_another_shape() -> None:
    menu = load_menu(OTHER)
    text = compile_menu(menu)
    plan = parse(text)
    assert set(plan) == {"ivr-county", "ivr-county-people", "ivr-county-complaints"}
    assert "WaitExten(8)" in text and "OVERLOAD" not in text and 'HL_HOLIDAY)}" !=' not in text
    assert text.count("GotoIfTime(") == 3
    assert "GotoIfTime(14:00-17:30,mon-fri,*,*,Asia/Shanghai?open)" in text
    got = route(walk(plan, Call(inputs=["4"]), "ivr-county"))
    assert (got["Skill"], got["CallPriority"], got["Path"]) == ("enterprise", "2", "4")
    # closed on holidays even inside opening hours; closed goes to the people's line
    call = walk(plan, Call(inputs=["4"], globals={"HL_HOLIDAY": "1"}), "ivr-county")
    assert "hl-county-closed" in call.played and route(call)["Skill"] == "general"
    assert route(walk(plan, Call(inputs=["#"]), "ivr-county"))["Path"] == "#"
    assert route(walk(plan, Call(inputs=["1", "1"]), "ivr-county"))["Path"] == "ii"


def test_duplicate_menu_ids_refused(tmp_path: Path) -> None:
    for name in ("a.yaml", "b.yaml"):
        (tmp_path / name).write_text(OTHER.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(MenuError, match="menu id defined twice: county"):
        load_menus(tmp_path)
    with pytest.raises(MenuError, match="no menu files"):
        load_menus(tmp_path / "a.yaml")


def test_output_is_deterministic() -> None:
    menus = load_menus()
    assert compile_menus(menus) == compile_menus(load_menus())


def test_cli_check_and_errors(tmp_path: Path) -> None:
    ok = hotline("ivr", "compile", "--check")
    assert ok.returncode == 0, ok.stderr
    other = tmp_path / "menus"
    other.mkdir()
    (other / "county.yaml").write_text(OTHER.read_text(encoding="utf-8"), encoding="utf-8")
    out = hotline("ivr", "compile", "--check", "--menus", str(other))
    assert out.returncode == 1 and "extensions_ivr.conf is stale" in out.stderr
    (other / "county.yaml").write_text("id: county\ndefault: x\n", encoding="utf-8")
    out = hotline("ivr", "compile", "--menus", str(other))
    assert out.returncode == 2 and "county.yaml: " in out.stderr and "Traceback" not in out.stderr
    assert not stale(render_all())  # a refused compile wrote nothing


def enterprise_office_hours() -> dict[str, dict[str, list[tuple[str, str, str]]]]:
    """The main menu with 政企通 limited to office hours: the closed action is a callback offer."""
    data = yaml.safe_load((ROOT / "ivr" / "menus" / "12345.yaml").read_text(encoding="utf-8"))
    data["branches"][1]["hours"] = [{"days": "mon-fri", "time": "08:30-17:30"}]
    return parse(compile_menu(Menu.model_validate(data)))


@pytest.mark.parametrize(
    ("answer", "end", "skill"), [("1", "hangup", None), ("2", "parked", "general")]
)
def test_closed_hours_callback_offer(answer: str, end: str, skill: str | None) -> None:
    plan = enterprise_office_hours()
    assert "ivr-12345-enterprise-closed" in plan
    call = walk(plan, Call(inputs=["2", answer], open_hours=False), "ivr-12345")
    assert call.end == end
    assert "hl-12345-enterprise_closed" in call.played
    offer = next(e for e in call.events if e["Event"] == "CallbackOffer")
    assert (offer["Reason"], offer["Skill"]) == ("closed", "enterprise")
    if skill is None:
        accepted = call.events[-1]
        assert (accepted["Event"], accepted["Reason"]) == ("CallbackAccepted", "closed")
    else:
        assert route(call)["Skill"] == skill and route(call)["Path"] == "2"
    # inside opening hours the same key reaches the enterprise desk
    opened = walk(plan, Call(inputs=["2"], open_hours=True), "ivr-12345")
    assert route(opened)["Skill"] == "enterprise"


def test_from_pstn_to_the_menu_and_the_acd() -> None:
    """[from-pstn] (hand-written) and the generated menu together, as Asterisk runs them."""
    conf = ROOT / "asterisk_conf"
    full = parse(
        (conf / "extensions.conf").read_text(encoding="utf-8") + TARGET.read_text(encoding="utf-8")
    )
    call = Call(inputs=["2"], globals={"HL_CITY": "xa", "FALLBACK_AFTER": "60", "HL_HOLIDAY": "1"})
    call.vars = {"UNIQUEID": "1795352683.495"}  # a PSTN channel: no CITY from the trunk
    walk(full, call, "from-pstn", "_X.")
    assert call.vars["CHANNEL(language)"] == "zh" and call.vars["FALLBACK_AFTER"] == "60"
    enter = call.events[0]
    assert enter == {
        "Event": "HotlineEnter",
        "City": "xa",
        "CallId": "1795352683.495",
        "CallerNum": "13800001234",
        "Holiday": "1",
    }
    assert route(call)["CallId"] == "1795352683.495" and route(call)["Skill"] == "enterprise"
    # a trunk that sets CITY (pjsip set_var) wins over the global
    call = Call(inputs=["1"], globals={"HL_CITY": "xa"})
    call.vars = {"UNIQUEID": "1795352683.7", "CITY": "xy"}
    walk(full, call, "from-pstn", "_X.")
    assert route(call)["City"] == "xy" and call.events[0]["Holiday"] == "0"


def test_cli_deployment_output(tmp_path: Path) -> None:
    out = hotline("ivr", "compile", "--out", str(tmp_path), "--secret", "deploy-secret-1")
    assert out.returncode == 0, out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "extensions_ivr.conf",
        "pjsip_seats.conf",
        "queues_seats.conf",
    ]
    committed = (ROOT / "asterisk_conf" / "pjsip_seats.conf").read_text(encoding="utf-8")
    deployed = (tmp_path / "pjsip_seats.conf").read_text(encoding="utf-8")
    assert deployed != committed and "deploy-secret-1" not in deployed
    assert (tmp_path / "extensions_ivr.conf").read_text() == TARGET.read_text()
    missing = hotline("ivr", "compile", "--out", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "no such directory" in missing.stderr


def test_unvalidated_menu_is_still_refused() -> None:
    menu = load_menu(ROOT / "ivr" / "menus" / "12345.yaml")
    foreign = menu.branch("foreign").model_copy(update={"closed": None})  # skips validation
    broken = menu.model_copy(update={"branches": [menu.branches[0], foreign]})
    with pytest.raises(MenuError, match="'foreign' has hours but no closed"):
        compile_menu(broken)
