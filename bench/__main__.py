"""`make bench [BENCH=group]`: run benchmark groups; each prints `BENCH <name> <value> <unit>`."""

from __future__ import annotations

import importlib
import sys

GROUPS = ("ami", "acd", "sim", "asr")


def main(argv: list[str]) -> int:
    wanted = argv or list(GROUPS)
    unknown = [g for g in wanted if g not in GROUPS]
    if unknown:
        print(f"bench: unknown group {', '.join(unknown)}; groups: {', '.join(GROUPS)}")
        return 2
    missing = []
    for group in wanted:
        try:
            module = importlib.import_module(f"bench.bench_{group}")
        except ModuleNotFoundError as exc:
            if exc.name != f"bench.bench_{group}":
                raise
            missing.append(group)
            continue
        module.run()
    if missing:
        print(f"bench: not built yet: {', '.join(missing)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
