"""sim/ is a PBX: it imports pbx's wire code and nothing of the domain, and its feature
modules use the kernel's public API (sim/kernel.py), not SimPbx's internals."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

SIM = Path(__file__).resolve().parents[1] / "sim"
WIRE = {"pbx.actions", "pbx.framing", "pbx.message"}
THIRD_PARTY: set[str] = set()  # none today; a new one is a decision, so it is named here


def _trees() -> dict[str, ast.Module]:
    return {p.name: ast.parse(p.read_text(encoding="utf-8")) for p in sorted(SIM.glob("*.py"))}


def _imports(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_sim_imports_only_pbx_wire_code_and_the_standard_library() -> None:
    outside = {
        f"{file}: {name}"
        for file, tree in _trees().items()
        for name in _imports(tree)
        if not (
            name == "sim"
            or name.startswith("sim.")
            or name in WIRE
            or name.split(".")[0] in sys.stdlib_module_names
            or name.split(".")[0] in THIRD_PARTY
        )
    }
    assert outside == set()


def test_feature_modules_use_no_private_member_of_the_pbx_and_no_dict_stash() -> None:
    found = []
    for file, tree in _trees().items():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Attribute):
                continue
            owner = node.value
            # pbx._x or self.pbx._x: a private member of the simulated PBX reached from outside
            named_pbx = (isinstance(owner, ast.Name) and owner.id == "pbx") or (
                isinstance(owner, ast.Attribute) and owner.attr == "pbx"
            )
            if (named_pbx and node.attr.startswith("_")) or node.attr == "__dict__":
                found.append(f"{file}:{node.lineno}: .{node.attr}")
    assert found == []
