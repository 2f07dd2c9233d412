"""What one `make chaos` run sets up once: a work directory, its own Redis and PostgreSQL.

Each row gets a fresh database on the run's cluster and an emptied Redis, so no row sees
another's calls.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from chaos.services import PgCluster, RedisServer

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Stack:
    root: Path
    redis: RedisServer
    pg: PgCluster

    @classmethod
    def start(cls) -> Stack:
        root = Path(tempfile.mkdtemp(prefix="hotline-chaos-"))
        redis, pg = RedisServer(root), PgCluster(root)
        redis.start()
        try:
            pg.init()
            pg.start()
        except BaseException:
            redis.stop()
            raise
        return cls(root, redis, pg)

    def stop(self) -> None:
        self.redis.stop()
        try:
            self.pg.stop()
        finally:
            if os.environ.get("CHAOS_KEEP"):  # the controller's logs, for a row to look into
                print(f"# chaos: kept {self.root}", flush=True)
            else:
                shutil.rmtree(self.root, ignore_errors=True)

    def database(self, name: str) -> str:
        """A new database for one row, migrated by `hotline db upgrade` as in production;
        returns its URL as the product's settings take it."""
        self.pg.createdb(name)
        url = f"postgresql://postgres@127.0.0.1:{self.pg.port}/{name}"
        env = {**os.environ, "HOTLINE_DATABASE_URL": url, "HOTLINE_DATA_DIR": str(self.root)}
        env["PYTHONPATH"] = str(ROOT)
        subprocess.run(
            [sys.executable, "-m", "hotline", "db", "upgrade"],
            env=env,
            check=True,
            capture_output=True,
            cwd=ROOT,
        )
        return url
