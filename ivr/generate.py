"""Everything generated into asterisk_conf/ from data, in one place for `compile` and `--check`."""

from __future__ import annotations

from pathlib import Path

from ivr.compile import MENUS_DIR, TARGET, compile_menus, load_menus
from ivr.journal import compile_journal
from ivr.menu import MenuError
from ivr.revisit import SCRIPT, compile_revisit, load_revisit
from ivr.seats import PJSIP_TARGET, QUEUES_TARGET, SEATS_FILE, compile_pjsip, compile_queues
from ivr.seats import load_seats as _load_seats

DEV_SECRET = "change-me-development-only"
MIN_SECRET = 16


def render_all(
    menus_dir: Path = MENUS_DIR,
    seats_file: Path = SEATS_FILE,
    secret: str = DEV_SECRET,
    out_dir: Path | None = None,
    *,
    production: bool = False,
) -> dict[Path, str]:
    """Target file -> its content (in asterisk_conf/, or `out_dir` for a deployment).

    Raises MenuError on any invalid input, before anything is written. In production the
    development secret is refused: the seat SIP passwords derive from it, and it is public.
    """
    if not secret:
        raise MenuError("the seat secret is empty")
    if production and (secret == DEV_SECRET or len(secret) < MIN_SECRET):
        raise MenuError(
            "production mode refuses the default seat secret; set HOTLINE_SEAT_SECRET "
            f"(at least {MIN_SECRET} characters)"
        )
    seats = _load_seats(seats_file)
    rendered = {
        # The return visit's context and the call journal's hangup handler ride in the IVR
        # file: all are generated dialplan.
        TARGET: "\n".join(
            (
                compile_menus(load_menus(menus_dir)),
                compile_revisit(load_revisit(SCRIPT)),
                compile_journal(),
            )
        ),
        PJSIP_TARGET: compile_pjsip(seats, secret),
        QUEUES_TARGET: compile_queues(seats),
    }
    if out_dir is None:
        return rendered
    if not out_dir.is_dir():
        raise MenuError(f"{out_dir}: no such directory")
    return {out_dir / path.name: text for path, text in rendered.items()}


def stale(rendered: dict[Path, str]) -> list[Path]:
    """Targets whose committed content differs from what the data generates."""
    return [
        path
        for path, text in rendered.items()
        if not path.is_file() or path.read_text(encoding="utf-8") != text
    ]


def write_all(rendered: dict[Path, str]) -> list[Path]:
    changed = stale(rendered)
    for path in changed:
        path.write_text(rendered[path], encoding="utf-8")
    return changed
