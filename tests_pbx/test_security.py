"""Scenario h: only the carrier's address may send calls into [from-pstn] (issue 13 item 6)."""

from __future__ import annotations

import re

import pytest

from tests_pbx import sipp
from tests_pbx.city import CityRun

pytestmark = pytest.mark.timeout(120)


async def test_an_invite_from_an_unknown_host_claiming_to_be_pstn_is_refused(
    xa: CityRun,
) -> None:
    await xa.start_controller()
    # From the PBX's own LAN side (127.0.0.1), not the carrier's 192.0.2.10.
    intruder = await sipp.call(
        xa.ns,
        xa.root / "sipp",
        "pstn",
        "",
        hangup_after_s=1,
        target="127.0.0.1:5060",
        local_ip="127.0.0.1",
    )
    xa.children.append(intruder)
    code = await intruder.wait(30)
    finals = re.findall(r"^SIP/2\.0 ([2-6]\d\d)", intruder.messages(), re.M)
    assert "200" not in finals, (code, finals)
    assert code != 0 and set(finals) & {"401", "403", "404", "407"}, (code, finals)
    assert not xa.user_events("HotlineEnter")
