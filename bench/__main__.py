"""`make bench [BENCH=group]`: run benchmark groups; each prints `BENCH <name> <value> <unit>`.

A group is every module `bench/bench_<group>.py` and `bench/bench_<group>_*.py`, each with a
`run()` function.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

GROUPS = ("ami", "acd", "sim", "asr", "api", "tickets", "knowledge", "reports", "failover")
HERE = Path(__file__).resolve().parent


def modules(group: str) -> list[str]:
    found = sorted(HERE.glob(f"bench_{group}.py")) + sorted(HERE.glob(f"bench_{group}_*.py"))
    return [f"bench.{p.stem}" for p in found]


def main(argv: list[str]) -> int:
    wanted = argv or list(GROUPS)
    unknown = [g for g in wanted if g not in GROUPS]
    if unknown:
        print(f"bench: unknown group {', '.join(unknown)}; groups: {', '.join(GROUPS)}")
        return 2
    for group in wanted:
        names = modules(group)
        if not names:
            print(f"bench: group {group} has no benchmarks yet")
        for name in names:
            importlib.import_module(name).run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
