"""The routing bench (bench_acd) on a Redis Cluster of three masters and on one plain
redis-server, side by side in one run: both started here from the same redis-server binary,
over TCP on this host, so the figures differ by the cluster and its client, not by the server
version or the kind of socket. Skipped where the Debian package redis-server is missing."""

from __future__ import annotations

import asyncio

from bench.bench_acd import run_on
from tests import redis_cluster


def run() -> None:
    if not redis_cluster.available():
        print("# acd cluster bench skipped: redis-server (Debian package redis-server) missing")
        return
    with redis_cluster.single() as url:
        print(f"# acd bench on one redis-server at {url}")
        asyncio.run(run_on(url, "single_"))
    with redis_cluster.cluster() as url:
        print(f"# acd bench on a three-master Redis Cluster at {url}")
        asyncio.run(run_on(url, "cluster_"))
