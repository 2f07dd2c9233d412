"""A second city's Asterisk configuration: a temporary copy of asterisk_conf/ with the per-city
settings of the deploy notes (asterisk_conf/README.md, step 2) changed, and its own seat list.

Only what a deployment edits per city differs: ``HL_CITY``, the pstn trunk's ``CITY`` and
credentials, the partner trunk (towards the first city instead of towards itself), and the
generated seat files (seat ids of one city must not collide with the other's in the shared
ACD). Every replacement must match exactly once, so a change in asterisk_conf/ that moves one
of these settings fails here instead of silently leaving the copy as the first city.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ivr.generate import DEV_SECRET
from ivr.seats import SeatList, compile_pjsip, compile_queues


def _replace_once(text: str, old: str, new: str, where: str) -> str:
    count = text.count(old)
    if count != 1:
        raise AssertionError(f"{where}: expected {old!r} once, found it {count} times")
    return text.replace(old, new)


def second_city(
    conf: Path, out: Path, city: str, first: str, first_ip: str, seats: SeatList
) -> Path:
    """Copy ``conf`` to ``out`` as the configuration of ``city``, whose partner is ``first``.

    ``conf`` is the first city's configuration (its partner trunk is ``trunk-<city>``); in the
    copy that trunk becomes ``trunk-<first>``: contact ``<first>.hotline.example.invalid``,
    identified by ``first_ip``, the address the first city's Asterisk sends from.
    """
    if seats.city != city:
        raise ValueError(f"seat list of {seats.city!r} given for city {city!r}")
    out.mkdir(parents=True)
    for path in conf.glob("*.conf"):
        shutil.copy2(path, out / path.name)
    (out / "sounds").symlink_to(conf / "sounds")

    ext = out / "extensions.conf"
    ext.write_text(
        _replace_once(ext.read_text(), f"HL_CITY={first}\n", f"HL_CITY={city}\n", ext.name)
    )

    pjsip = out / "pjsip.conf"
    text = pjsip.read_text()
    edits = [
        # the pstn trunk: which city its callers belong to, and our account at the carrier
        (f"set_var = CITY={first}\n\n[pstn-auth]", f"set_var = CITY={city}\n\n[pstn-auth]"),
        (f"username = hotline-{first}\n", f"username = hotline-{city}\n"),
        # the partner trunk: towards the first city (the copy's own name there is not a partner)
        (
            f"[trunk-{city}](intercity-trunk)\naors = trunk-{city}\nset_var = CITY={city}\n",
            f"[trunk-{first}](intercity-trunk)\naors = trunk-{first}\nset_var = CITY={first}\n",
        ),
        (
            f"[trunk-{city}](intercity-aor)\ncontact = sip:{city}.hotline.example.invalid:5060\n",
            f"[trunk-{first}](intercity-aor)\ncontact = sip:{first}.hotline.example.invalid:5060\n",
        ),
    ]
    for old, new in edits:
        text = _replace_once(text, old, new, pjsip.name)
    # the identify section: its name and the partner's address
    start = text.index(f"[trunk-{city}-identify]")
    end = text.index("\n\n", start)
    block = text[start:end]
    lines = block.splitlines()
    if lines[1:] != ["type = identify", f"endpoint = trunk-{city}", lines[3]] or not lines[
        3
    ].startswith("match = "):
        raise AssertionError(f"pjsip.conf: unexpected [trunk-{city}-identify]: {block!r}")
    text = text.replace(
        block,
        f"[trunk-{first}-identify]\ntype = identify\nendpoint = trunk-{first}\nmatch = {first_ip}",
    )
    pjsip.write_text(text)

    # the seat files, generated from the city's own seat list as `hotline ivr compile` does
    (out / "pjsip_seats.conf").write_text(compile_pjsip(seats, DEV_SECRET))
    (out / "queues_seats.conf").write_text(compile_queues(seats))
    return out
