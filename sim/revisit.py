"""[revisit-ivr] in the simulator: the automated return visit a citizen answers with keys.

An Originate of ``PJSIP/<number>@pstn`` into ``revisit-ivr`` rings the citizen's phone as
``sim.outbound`` does; once answered, the committed dialplan context runs in ``sim.dialplan``'s
walker with the keys this citizen will press (:func:`keypad`; silence when none are left), on
the PBX's AstDB, and its UserEvents (HotlineVisit) go out on the AMI as Asterisk sends them.
"""

from __future__ import annotations

import asyncio
from functools import cache

from sim import dialplan, outbound
from sim.engine import SimPbx
from sim.kernel import Channel

CONTEXT = "revisit-ivr"
SILENCE = "t"  # WaitExten ran out
_ECHOED = ("CITY", "HL_TICKET", "HL_VISIT", outbound.IDEMPOTENCY_VARIABLE)


@cache
def _plan() -> dialplan.Plan:
    return dialplan.load()


class Keypad(dict[str, list[str]]):
    """Number -> the keys its citizen presses in a return visit, in order (tests set them)."""


def keypad(pbx: SimPbx) -> Keypad:
    return pbx.feature(Keypad, Keypad)


async def _revisit(pbx: SimPbx, chan: Channel, variables: dict[str, str]) -> None:
    number = chan.variables.get(outbound.DIALLED, "")
    presses = keypad(pbx).get(number, [])
    call = dialplan.Call(
        inputs=[*presses, *[SILENCE] * 10],
        astdb=outbound.of(pbx).astdb,  # the guard and the result live in the PBX's AstDB
        caller=number,
    )
    call.vars.update({k: variables[k] for k in _ECHOED if k in variables})
    call.vars.setdefault("CITY", pbx.city)
    call.vars["UNIQUEID"] = chan.uniqueid
    dialplan.walk(_plan(), call, CONTEXT)
    used = len(presses) - max(0, len(call.inputs) - 10)
    keypad(pbx)[number] = presses[used:]  # a second visit to the same phone presses the rest
    for event in call.events:
        fields = {k: v for k, v in event.items() if k != "Event"}
        pbx.user_event(chan, event["Event"], **fields)
    await asyncio.sleep(0)  # the prompts take no time here; the leg hangs up after the flow


outbound.FLOWS[CONTEXT] = _revisit
