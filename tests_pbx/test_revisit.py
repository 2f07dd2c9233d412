"""Scenario: the automated return visit (回访) on a real Asterisk. The controller originates
the citizen into [revisit-ivr]; the citizen hears the Mandarin question and presses 3 (不满意);
the HotlineVisit UserEvent writes the answer to the ticket once, which reopens it (重办)."""

from __future__ import annotations

import pytest

from acd.callbacks.visit_tables import VisitCall
from api.services import visits
from tests.tickets_support import replied_ticket
from tests_pbx import sipp
from tests_pbx.city import CityRun, wait_until
from tickets.models import Ticket

pytestmark = pytest.mark.timeout(180)

CITIZEN = "13800000005"


async def test_the_citizen_presses_3_and_the_ticket_is_reopened(xa: CityRun) -> None:
    tid = await replied_ticket(xa.sessions, CITIZEN)
    await xa.start_controller()
    carrier = await xa.carrier(ring_s=1, talk_s=30, digits="3")
    row, created = await visits.start(xa.sessions, tid, "ivr", "xa", "disp")
    assert created

    async def visit() -> VisitCall:
        async with xa.sessions() as s:
            found = await s.get(VisitCall, row.id)
        assert found is not None
        return found

    async def done() -> bool:
        return (await visit()).status == "done"

    await wait_until(done, "the visit's answer", 60)
    assert await carrier.wait(30) == sipp.CARRIER_DONE, carrier.messages()[-3000:]
    answered = await visit()
    assert (answered.result, answered.attempts, answered.key) == ("3", 1, f"rv-{row.id}-1")
    [event] = xa.user_events("HotlineVisit")  # once: the h extension does not send a second
    assert (event["Ticket"], event["Visit"], event["Result"]) == (str(tid), str(row.id), "3")
    assert "3" in xa.pbx.cli(f"database get hlrv rv-{row.id}-1")
    async with xa.sessions() as s:
        ticket = await s.get(Ticket, tid)
    assert ticket is not None
    assert (ticket.status, ticket.satisfaction, ticket.reopen_count) == ("办理中", "不满意", 1)
