"""The hangup handler ``[hl-journal]``: the dialplan's own journal of every call in AstDB.

[from-pstn] pushes it on every caller's channel (``CHANNEL(hangup_handler_push)``), so it runs
as the call ends whether or not a controller is connected; a controller that was down reads the
entries back at its resync (pbx/journal.py has the format, acd/calls/journal.py the reading).
The value is built from what the dialplan leaves on the channel: HL_STAGE (set as the call
goes), HL_ARRIVAL, WAIT_START, SKILL, HL_PATH, SEAT, Dial's DIALSTATUS, and HL_ANSWERED, which
``[hl-journal-answered]`` (Dial's U() on the seat) sets on the caller. The caller's number is
filtered to its digits: it comes from the carrier, and a ``:`` in it would shift the fields
(``/`` would change the key's family were it in the key).

The handler also deletes the hour before the previous one (and the one before that), so the
journal keeps two hours without anyone deleting over AMI (``DBDelTree`` needs the ``system``
write class, which the controller's account does not have).
"""

from __future__ import annotations

from ivr.compile import DialplanContext
from pbx.journal import FAMILY, FIELDS, KEPT_HOURS

CONTEXT = "hl-journal"
# Dial's U() on the seat's channel as it answers (extensions.conf, [acd-connect]): app_dial's
# ANSWEREDTIME is the caller's time since its own Answer(), not the talk with the seat.
ANSWERED_CONTEXT = "hl-journal-answered"
# Each field of pbx.journal.FIELDS, as the dialplan computes it at hang-up.
_VALUES = {
    "stage": "${HL_JSTAGE}",
    "arrival": "${HL_ARRIVAL}",
    "end": "${HL_JEND}",
    "wait_start": "${WAIT_START}",
    "skill": "${SKILL}",
    "path": "${HL_PATH}",
    "seat": "${SEAT}",
    "talk": "${HL_JTALK}",
    "caller": "${FILTER(0-9,${CALLERID(num)})}",
}


def _hour(epoch: str) -> str:
    return f"${{STRFTIME({epoch},UTC,%Y%m%d%H)}}"


def compile_journal() -> str:
    answered = DialplanContext(
        ANSWERED_CONTEXT,
        "Dial's U() on the seat's channel as it answers: when, on the caller (its linkedid)",
    )
    answered.exten("s", "Set(MASTER_CHANNEL(HL_ANSWERED)=${EPOCH})", "Return()")
    ctx = DialplanContext(
        CONTEXT,
        "hangup handler pushed in [from-pstn]: the call's journal entry (pbx/journal.py)",
    )
    value = ":".join(_VALUES[name] for name in FIELDS)
    ctx.exten(
        "s",
        "Set(HL_JEND=${EPOCH})",
        """Set(HL_JSTAGE=${IF($["${DIALSTATUS}" = "ANSWER"]?answered:${HL_STAGE})})""",
        "Set(HL_JTALK=)",
        # GotoIf, not IF(): Asterisk expands both branches of IF, and $[end - ] is an error
        """GotoIf($["${HL_JSTAGE}" != "answered"]?write)""",
        """GotoIf($["${HL_ANSWERED}" = ""]?write)""",
        "Set(HL_JTALK=$[${HL_JEND} - ${HL_ANSWERED}])",
        f"write:Set(DB({FAMILY}/${{CITY}}/{_hour('${HL_JEND}')}/${{HL_CALLID}})={value})",
        # two hours back, and three: a quiet hour with no hang-up to delete its elder
        *(
            f"DBdeltree({FAMILY}/${{CITY}}/{_hour(f'$[${{HL_JEND}} - {back * 3600}]')})"
            for back in (KEPT_HOURS, KEPT_HOURS + 1)
        ),
        "Return()",
    )
    return answered.render() + "\n" + ctx.render()
