"""The package layers of ARCHITECTURE (and docs/layers.md) hold: no import points up, no cycle."""

from __future__ import annotations

from devtools.structure import cycles, import_graph, upward_arrows


def test_no_package_imports_a_higher_layer() -> None:
    graph = import_graph()
    bad = {
        f"{src} -> {dst}: {sorted(graph.sources[(src, dst)])[0]}"
        for src, dst in upward_arrows(graph)
    }
    assert bad == set()


def test_no_cycle_between_packages() -> None:
    assert cycles(import_graph()) == []
