"""SIPp as the carrier's side: citizens calling 12345, and the carrier answering outbound calls.

Scenarios are the XML templates beside this file; `%name` placeholders are filled here (not
`$`: SIPp's own variables are `[$name]`). DTMF
and speech are the RTP packet captures Debian's sip-tester ships (RFC 4733 events, G.711 a-law).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from string import Template

from tests_pbx.netns import Netns
from tests_pbx.procs import Child

HERE = Path(__file__).resolve().parent / "sipp"
PCAPS = Path("/usr/share/sip-tester")
CARRIER_IP = "192.0.2.10"  # pjsip.conf [pstn-identify] match and the pstn contact's host
PBX_IP = "198.51.100.1"  # the city's Asterisk as the carrier reaches it
CARRIER_DONE = 97  # SIPp's exit code after the scenario's stop_now
_ports = itertools.count(5070, 4)


class _Scenario(Template):
    delimiter = "%"


def _dtmf(digits: str) -> str:
    # A pause between digits (a new capture cuts off the one playing), none after the last:
    # by then the caller may be routed, and SIPp drops calls that get a request while pausing.
    steps = []
    for digit in digits:
        name = {"*": "star", "#": "pound"}.get(digit, digit)
        steps.append(
            f'  <nop><action><exec play_pcap_audio="{PCAPS}/dtmf_2833_{name}.pcap"/></action></nop>'
        )
    return '\n  <pause milliseconds="600"/>\n'.join(steps)


class Sipp(Child):
    """One SIPp run in a namespace; the exit code is 0 when its call went as scripted."""

    def __init__(self, ns: Netns, workdir: Path, name: str) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        super().__init__(name, workdir / f"{name}.out")
        self.ns, self.workdir = ns, workdir

    async def run(self, template: str, args: list[str], calls: int = 1, **values: object) -> None:
        """``calls``: SIPp's -m (0: no limit, the scenario stops SIPp itself)."""
        text = _Scenario((HERE / template).read_text()).substitute(
            {k: str(v) for k, v in values.items()}
        )
        scenario = self.workdir / f"{self.name}.xml"
        scenario.write_text(text)
        argv = [
            "sipp",
            "-sf",
            str(scenario),
            *(["-m", str(calls)] if calls else []),
            "-trace_err",
            "-trace_msg",
            "-nostdin",
            *args,
        ]
        await self.spawn(self.ns.argv(*argv), self.workdir)

    def messages(self) -> str:
        return "\n".join(
            p.read_text(errors="replace") for p in sorted(self.workdir.glob(f"{self.name}_*.log"))
        )


async def call(
    ns: Netns,
    workdir: Path,
    caller: str,
    digits: str,
    hangup_after_s: float | None,
    dtmf_after_s: float = 1.5,
    target: str = f"{PBX_IP}:5060",
    service: str = "12345",
    local_ip: str = CARRIER_IP,
) -> Sipp:
    """A citizen dials 12345, presses ``digits`` and hangs up ``hangup_after_s`` after them
    (None: stays until the PBX hangs up)."""
    port = next(_ports)
    sipp = Sipp(ns, workdir, f"caller-{caller}-{port}")
    await sipp.run(
        "caller.xml",
        ["-i", local_ip, "-p", str(port), "-mp", str(port + 10000), target],
        service=service,
        caller=caller,
        dtmf_after_ms=int(dtmf_after_s * 1000),
        dtmf=_dtmf(digits),
        talk_pcap=PCAPS / "g711a.pcap",
        hangup_ms=int((hangup_after_s if hangup_after_s is not None else 600) * 1000),
    )
    return sipp


async def carrier(
    ns: Netns,
    workdir: Path,
    ring_s: float,
    talk_s: float,
    name: str = "carrier",
    digits: str = "",
    dtmf_after_s: float = 2.0,
) -> Sipp:
    """The carrier's side of one outbound call (callback, department, return visit): rings
    ``ring_s``, answers, plays speech (or, with ``digits``, presses them ``dtmf_after_s``
    after answering, as a citizen answering the automated visit does) and hangs up after
    ``talk_s`` unless the PBX hangs up first. It also answers Asterisk's OPTIONS; its exit
    code is CARRIER_DONE once the call ended."""
    if digits:
        media = f'  <pause milliseconds="{int(dtmf_after_s * 1000)}"/>\n{_dtmf(digits)}'
    else:
        media = f'  <nop><action><exec play_pcap_audio="{PCAPS}/g711a.pcap"/></action></nop>'
    sipp = Sipp(ns, workdir, name)
    await sipp.run(
        "carrier.xml",
        ["-i", CARRIER_IP, "-p", "5060", "-mp", "25060", PBX_IP],
        calls=0,
        ring_ms=int(ring_s * 1000),
        media=media,
        talk_ms=int(talk_s * 1000),
    )
    return sipp
