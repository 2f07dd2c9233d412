"""The package import graph and the size figures of the product's code.

`make graph` prints the graph of imports between top-level packages, every arrow that points
up the layer order (ARCHITECTURE: store, pbx → recording, tickets → acd, asr → api, hotline),
every cycle, and the files over 400 lines and functions over 50 lines. tests/test_layers.py
holds the same rules, so a change that breaks them fails the suite, not only a report.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Lower number = lower layer. A package may import packages of a strictly lower layer only
# (same-layer packages are independent of each other). sim/ is a PBX: it sits beside pbx and
# may import pbx's wire code only; loadgen/ drives sim/ and the API from outside; chaos/ drives
# loadgen/, sim/ and the `hotline` CLI's processes (beside hotline/, importing none of it).
LAYERS: dict[str, int] = {
    "store": 0,
    "pbx": 0,
    "ivr": 1,
    "sim": 1,
    "recording": 1,
    "tickets": 1,
    "knowledge": 1,
    "intake": 3,
    "acd": 2,
    "asr": 2,
    "reports": 3,
    "api": 4,
    "loadgen": 5,
    "hotline": 6,
    "chaos": 6,
}
# sim/ may not reach the domain even though store sits below it: it is a PBX, nothing else.
ALLOWED_ONLY: dict[str, set[str]] = {"sim": {"pbx"}}

MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 50


@dataclass
class Graph:
    edges: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    # (importer, imported) -> "file: module" lines, to say where an arrow comes from.
    sources: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))


def packages() -> list[str]:
    return [p for p in LAYERS if (ROOT / p / "__init__.py").exists()]


def _imported_modules(tree: ast.AST) -> list[str]:
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return found


def import_graph() -> Graph:
    graph = Graph()
    known = set(packages())
    for package in known:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for module in _imported_modules(tree):
                top = module.split(".")[0]
                if top in known and top != package:
                    graph.edges[package].add(top)
                    rel = path.relative_to(ROOT)
                    graph.sources[(package, top)].add(f"{rel}: {module}")
    return graph


def upward_arrows(graph: Graph) -> list[tuple[str, str]]:
    bad: list[tuple[str, str]] = []
    for src, targets in graph.edges.items():
        for dst in targets:
            allowed = ALLOWED_ONLY.get(src)
            if (allowed is not None and dst not in allowed) or LAYERS[dst] >= LAYERS[src]:
                bad.append((src, dst))
    return sorted(bad)


def cycles(graph: Graph) -> list[list[str]]:
    """Every elementary cycle found by a depth-first walk from each package (small graph)."""
    found: set[tuple[str, ...]] = set()

    def walk(start: str, node: str, path: list[str]) -> None:
        for nxt in sorted(graph.edges.get(node, ())):
            if nxt == start:
                cycle = path[:]
                pivot = cycle.index(min(cycle))
                found.add(tuple(cycle[pivot:] + cycle[:pivot]))
            elif nxt not in path and nxt > start:
                walk(start, nxt, [*path, nxt])

    for package in sorted(graph.edges):
        walk(package, package, [package])
    return [list(c) for c in sorted(found)]


def long_files(limit: int = MAX_FILE_LINES) -> list[tuple[str, int]]:
    rows = []
    for package in packages():
        for path in sorted((ROOT / package).rglob("*.py")):
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > limit:
                rows.append((str(path.relative_to(ROOT)), lines))
    return sorted(rows, key=lambda r: -r[1])


def long_functions(limit: int = MAX_FUNCTION_LINES) -> list[tuple[str, int]]:
    rows = []
    for package in packages():
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    length = (node.end_lineno or node.lineno) - node.lineno + 1
                    if length > limit:
                        rel = path.relative_to(ROOT)
                        rows.append((f"{rel}:{node.lineno} {node.name}", length))
    return sorted(rows, key=lambda r: -r[1])


def main() -> int:
    graph = import_graph()
    print("# package imports (layer: package -> what it imports)")
    for package in sorted(packages(), key=lambda p: (LAYERS[p], p)):
        print(f"{LAYERS[package]}: {package} -> {', '.join(sorted(graph.edges.get(package, ())))}")
    up = upward_arrows(graph)
    found_cycles = cycles(graph)
    print(f"\n# upward arrows: {len(up)}")
    for src, dst in up:
        for where in sorted(graph.sources[(src, dst)]):
            print(f"{src} -> {dst}  ({where})")
    print(f"\n# cycles: {len(found_cycles)}")
    for cycle in found_cycles:
        print(" -> ".join([*cycle, cycle[0]]))
    files, functions = long_files(), long_functions()
    print(f"\n# files over {MAX_FILE_LINES} lines: {len(files)}")
    for name, lines in files:
        print(f"{lines:5d} {name}")
    print(f"\n# functions over {MAX_FUNCTION_LINES} lines: {len(functions)}")
    for name, lines in functions:
        print(f"{lines:5d} {name}")
    return 1 if up or found_cycles else 0


if __name__ == "__main__":
    sys.exit(main())
