"""`python -m chaos [NAME...] [--traffic-s S]`: run the rows, one `CHAOS <name> ...` line each.

Every row starts its own world (simulated PBXs, the controller process, traffic at the peak
rate) on the run's own Redis and PostgreSQL, injects its fault, settles and counts. A row that
cannot run here says so in its line. Exit status 1 when a row lost or duplicated anything.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import time
from collections.abc import Awaitable, Callable

from chaos import (
    ami_cut,
    asr_kill,
    controller_kill,
    disk_full,
    partner_down,
    pbx_faults,
    peak,
    pg_restart,
    redis_restart,
)
from chaos.row import Result
from chaos.stack import Stack
from chaos.world import Plan

Row = Callable[[Stack, Plan], Awaitable[Result]]
ROWS: dict[str, Row] = {
    peak.NAME: peak.run,
    ami_cut.NAME: ami_cut.run,
    controller_kill.NAME: controller_kill.run,
    redis_restart.NAME: redis_restart.run,
    pg_restart.NAME: pg_restart.run,
    partner_down.NAME: partner_down.run,
    disk_full.NAME: disk_full.run,
    asr_kill.NAME: asr_kill.run,
    pbx_faults.NAME: pbx_faults.run,
}


def _args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"rows to run (default all): {', '.join(ROWS)}")
    parser.add_argument(
        "--traffic-s", type=float, default=60.0, help="seconds of peak traffic per row"
    )
    parser.add_argument("--calls-per-h", type=float, default=20_000.0)
    parser.add_argument("--cities", type=int, default=10)
    parser.add_argument(
        "--settle-s", type=float, default=90.0, help="most seconds to let callers finish"
    )
    return parser.parse_args(argv)


async def run(names: list[str], plan: Plan) -> list[Result]:
    stack = await asyncio.to_thread(Stack.start)
    results = []
    try:
        for name in names:
            t0 = time.monotonic()
            result = await ROWS[name](stack, plan)
            print(f"{result.line()} row_s={time.monotonic() - t0:.0f}", flush=True)
            results.append(result)
    finally:
        await asyncio.to_thread(stack.stop)
    return results


def _stop(signum: int, frame: object) -> None:
    raise SystemExit(f"chaos: stopped by signal {signum}")  # the finally blocks clean up


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGTERM, _stop)
    args = _args(argv)
    unknown = [n for n in args.names if n not in ROWS]
    if unknown:
        print(f"chaos: unknown row {', '.join(unknown)}; rows: {', '.join(ROWS)}")
        return 2
    logging.basicConfig(level=logging.ERROR)
    plan = Plan(
        traffic_s=args.traffic_s,
        calls_per_h=args.calls_per_h,
        cities=args.cities,
        settle_s=args.settle_s,
    )
    t0 = time.monotonic()
    results = asyncio.run(run(args.names or list(ROWS), plan))
    print(f"# chaos: {len(results)} rows in {time.monotonic() - t0:.0f} s")
    return 1 if any(r.lost or r.duplicated for r in results) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
