"""Seats as real softphones: one baresip per seat, registered to the city's Asterisk with the
seat's generated credentials (asterisk_conf/pjsip_seats.conf)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from tests_pbx.asterisk import Asterisk, tone
from tests_pbx.procs import Child

MODULES = Path("/usr/lib/baresip/modules")


def seat_password(etc: Path, seat_id: str) -> str:
    text = (etc / "pjsip_seats.conf").read_text()
    found = re.search(
        rf"^\[{re.escape(seat_id)}\]\(hl-seat-auth\)\s*\n(?:.*\n)*?password = (\S+)", text, re.M
    )
    if found is None:
        raise LookupError(f"seat {seat_id} has no auth section in pjsip_seats.conf")
    return found.group(1)


class Seat(Child):
    """``answer``: pick up at once (auto answer) or let it ring until the PBX gives up."""

    def __init__(self, pbx: Asterisk, root: Path, seat_id: str, port: int, answer: bool) -> None:
        self.dir = root / f"seat-{seat_id}"
        self.dir.mkdir(parents=True, exist_ok=True)
        super().__init__(f"seat {seat_id}", self.dir / "baresip.out")
        self.pbx, self.seat_id, self.port, self.answer = pbx, seat_id, port, answer

    def _configure(self) -> None:
        voice = self.dir / "voice.wav"
        tone(voice, seconds=30, hz=660)
        config = [
            "poll_method epoll",
            f"sip_listen 127.0.0.1:{self.port}",
            f"audio_source aufile,{voice}",
            f"module_path {MODULES}",
            "module g711.so",
            "module aufile.so",
            "module account.so",
            "module menu.so",
        ]
        (self.dir / "config").write_text("\n".join(config) + "\n")
        password = seat_password(self.pbx.etc, self.seat_id)
        mode = "auto" if self.answer else "manual"
        (self.dir / "accounts").write_text(
            f"<sip:{self.seat_id}@127.0.0.1:5060>;auth_pass={password};answermode={mode};"
            "regint=600;audio_codecs=PCMA,PCMU\n"
        )

    async def start(self, timeout: float = 20.0) -> None:
        self._configure()
        await self.spawn(self.pbx.ns.argv("baresip", "-f", str(self.dir)), self.dir)
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        # Registered and qualified: Asterisk dials only contacts it sees as reachable.
        while not re.search(
            rf"Contact:\s+{self.seat_id}/sip:\S+\s+\S+\s+Avail", self.pbx.cli("pjsip show contacts")
        ):
            if not self.running:
                raise AssertionError(f"baresip of {self.seat_id} exited: {self.output()}")
            if loop.time() > end:
                raise AssertionError(f"seat {self.seat_id} did not register: {self.output()}")
            await asyncio.sleep(0.2)
