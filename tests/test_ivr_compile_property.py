"""Any valid menu compiles to a dialplan in which every key reaches its branch's skill."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.compile import compile_menu
from ivr.menu import SKILLS, Menu
from sim.dialplan import Call, parse, walk

KEYS = list("0123456789*#")


@st.composite
def menus(draw: st.DrawFn) -> Menu:
    count = draw(st.integers(1, 5))
    keys = draw(st.permutations(KEYS))
    per_branch = [draw(st.integers(1, 2)) for _ in range(count)]
    branches = []
    start = 0
    for n, size in enumerate(per_branch):
        closed = draw(st.booleans()) and n > 0
        branch: dict[str, object] = {
            "name": f"b{n}",
            "label": f"分支{n}",
            "digits": keys[start : start + size],
            "skill": draw(st.sampled_from(SKILLS)),
            "priority": draw(st.integers(0, 9)),
            "overload_offer": draw(st.booleans()),
        }
        if closed:
            branch["hours"] = [{"days": "mon-fri", "time": "09:00-17:00"}]
            action = draw(st.sampled_from(["goto", "callback"]))
            branch["closed"] = {"action": action, "prompt": "closed", "goto": "b0"}
        branches.append(branch)
        start += size
    return Menu.model_validate(
        {
            "id": draw(st.sampled_from(["m1", "county", "x9"])),
            "timeout": draw(st.integers(2, 30)),
            "max_invalid": draw(st.integers(1, 5)),
            "default": "b0",
            "prompts": {
                "welcome": "欢迎",
                "menu": "请选择",
                "invalid": "无效",
                "closed": "下班了",
                "callback_offer": "回拨请按一",
                "callback_ok": "好的",
            },
            "branches": branches,
        }
    )


@settings(max_examples=60, deadline=None)
@given(menus())
def test_every_key_reaches_its_skill(menu: Menu) -> None:
    plan = parse(compile_menu(menu))
    main = f"ivr-{menu.id}"
    for branch in menu.branches:
        for digit in branch.digits:
            call = walk(plan, Call(inputs=[digit]), main)
            route = next(e for e in call.events if e["Event"] == "HotlineRoute")
            assert (route["Skill"], route["Path"]) == (branch.skill, digit)
            assert route["CallPriority"] == str(branch.priority)
    # silence and too many wrong keys both end on the default branch
    default = menu.branch(menu.default)
    for inputs in (["t"], ["i-not-a-key"] * menu.max_invalid):
        call = walk(plan, Call(inputs=inputs), main)
        assert call.end == "parked"
        route = next(e for e in call.events if e["Event"] == "HotlineRoute")
        assert route["Skill"] == default.skill
