"""The real-Asterisk tier (`make test-pbx`): skipped with one line where no Asterisk is."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests_pbx.asterisk import binary
from tests_pbx.city import CityRun, city_run


def _missing() -> str | None:
    exe = binary()
    if not os.access(exe, os.X_OK):
        return f"no Asterisk at {exe} (set HOTLINE_TEST_ASTERISK)"
    if os.geteuid() != 0:
        return "network namespaces need root"
    for tool in ("sipp", "baresip", "sox", "ip"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (make pbxdeps)"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    why = _missing()
    if why:
        for item in items:
            item.add_marker(pytest.mark.skip(reason=why))


@pytest.fixture
async def xa(tmp_path: Path) -> AsyncIterator[CityRun]:
    async with city_run(tmp_path) as run:
        yield run
