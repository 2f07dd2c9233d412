"""The menu schema refuses every malformed menu with a message that names the problem."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from ivr.menu import MenuError, load_menu

ROOT = Path(__file__).resolve().parents[1]
MAIN = ROOT / "ivr" / "menus" / "12345.yaml"


def base() -> dict[str, Any]:
    return yaml.safe_load(MAIN.read_text(encoding="utf-8"))


def refused(tmp_path: Path, data: dict[str, Any]) -> str:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(MenuError) as exc:
        load_menu(path)
    assert str(path) in str(exc.value)
    return str(exc.value)


def test_main_menu_is_valid_and_shallow() -> None:
    menu = load_menu(MAIN)
    digits = {d: b.skill for b in menu.branches for d in b.digits}
    assert digits == {"1": "general", "0": "general", "2": "enterprise", "9": "foreign"}
    assert menu.default == "general"
    assert menu.branch("enterprise").always_open  # 政企通 7x24 by default
    assert all("\u4e00" <= t[0] <= "\u9fff" for t in menu.prompts.values())  # Chinese text


def test_duplicate_digit(tmp_path: Path) -> None:
    data = base()
    data["branches"][2]["digits"] = ["2"]
    assert "digit 2 used by 'enterprise' and 'foreign'" in refused(tmp_path, data)


def test_unknown_skill(tmp_path: Path) -> None:
    data = base()
    data["branches"][1]["skill"] = "vip"
    assert "unknown skill 'vip'" in refused(tmp_path, data)


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ({"days": "mon-fri", "time": "08:30-25:00"}, "use HH:MM-HH:MM"),
        ({"days": "mon-fri", "time": "17:30-08:30"}, "must end after it starts"),
        ({"days": "monday", "time": "08:30-17:30"}, "use a day or a range"),
        ({"days": "mon-fri", "time": "0830-1730"}, "use HH:MM-HH:MM"),
    ],
)
def test_bad_hours(tmp_path: Path, window: dict[str, str], message: str) -> None:
    data = base()
    data["branches"][1]["hours"] = [window]
    assert message in refused(tmp_path, data)


def test_hours_need_a_closed_action(tmp_path: Path) -> None:
    data = base()
    del data["branches"][2]["closed"]
    assert "has opening hours but no `closed` action" in refused(tmp_path, data)


def test_closed_goto_must_be_always_open(tmp_path: Path) -> None:
    data = base()
    data["branches"][2]["closed"]["goto"] = "foreign"
    assert "closed.goto must be another branch open 7x24" in refused(tmp_path, data)
    data = base()
    data["branches"][2]["closed"]["goto"] = "nowhere"
    assert "closed.goto 'nowhere' unknown" in refused(tmp_path, data)


def test_default_branch(tmp_path: Path) -> None:
    data = base()
    data["default"] = "foreign"
    assert "default branch 'foreign' must be open 7x24" in refused(tmp_path, data)
    data["default"] = "missing"
    assert "default branch 'missing' does not exist" in refused(tmp_path, data)


def test_prompts(tmp_path: Path) -> None:
    data = base()
    del data["prompts"]["callback_ok"]
    assert "needs prompt 'callback_ok'" in refused(tmp_path, data)
    data = base()
    data["prompts"]["welcome"] = "欢迎, 致电"  # an ASCII comma would split dialplan arguments
    assert "reserved by the dialplan" in refused(tmp_path, data)
    data = base()
    del data["prompts"]["menu"]
    assert "prompt 'menu' is required" in refused(tmp_path, data)


def test_typos_and_garbage(tmp_path: Path) -> None:
    data = base()
    data["branches"][0]["skil"] = "general"
    assert "branches.0.skil" in refused(tmp_path, data)
    data = copy.deepcopy(base())
    data["branches"][0]["digits"] = ["x"]
    assert "branches.0.digits.0" in refused(tmp_path, data)
    path = tmp_path / "list.yaml"
    path.write_text("- 1\n- 2\n")
    with pytest.raises(MenuError, match="expected a mapping"):
        load_menu(path)
    with pytest.raises(MenuError, match="cannot read"):
        load_menu(tmp_path / "missing.yaml")
