"""Demo accounts, seat profiles and the sample knowledge base, for `make demo` and the
browser tests.

The passwords are public (they are in the README): a demo, never a deployment.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select

from api.services import users
from knowledge import load
from knowledge.models import KbEntry
from knowledge.samples import sample_base
from store.sessions import Sessions
from tickets.units import load_units, seed_units, set_member

DEMO_PASSWORD = "hotline-demo"
DEMO_STAFF = (
    ("admin", "admin", None, "系统管理员"),
    ("dispatcher", "dispatcher", "9001", "值班长"),
    ("qa", "qa", None, "质检员"),
    ("qalead", "qa_lead", None, "质检组长"),
    ("knowledge", "knowledge", None, "知识库编辑"),
)
# One street office of the sample unit directory, to work the 工单 loop from its side.
DEMO_UNIT = ("unit-zbg", "雁塔区丈八沟街道", "丈八沟街道办")


async def demo_users(
    sessions: Sessions, seats: Iterable[tuple[str, str, dict[str, int], str]] = ()
) -> list[str]:
    """Create the demo staff and one seat user per seat (``seat<ID>``), each with password
    ``hotline-demo``; seats are (seat id, city, skills, endpoint). Existing users are kept.
    Returns the usernames created."""
    created = []
    for username, role, seat_id, name in DEMO_STAFF:
        if await users.by_username(sessions, username) is None:
            await users.create(sessions, username, DEMO_PASSWORD, role, seat_id, name)
            created.append(username)
    for seat_id, city, skills, endpoint in seats:
        await users.save_seat_profile(sessions, seat_id, city, skills, endpoint)
        username = f"seat{seat_id}"
        if await users.by_username(sessions, username) is None:
            await users.create(sessions, username, DEMO_PASSWORD, "seat", seat_id, f"坐席{seat_id}")
            created.append(username)
    async with sessions() as session:
        await seed_units(session, load_units())
    username, unit, name = DEMO_UNIT
    if await users.by_username(sessions, username) is None:
        user = await users.create(sessions, username, DEMO_PASSWORD, "unit", None, name)
        async with sessions() as session:
            await set_member(session, user.id, unit)
        created.append(username)
    return created


DEMO_KB_ENTRIES = 1000


async def demo_knowledge(sessions: Sessions, count: int = DEMO_KB_ENTRIES) -> int:
    """Publish the sample knowledge base (knowledge/samples.py: the hand-written entries and
    generated ones per category) into an empty base; a base with entries is kept as it is.
    Returns how many entries were published now."""
    async with sessions() as session:
        if await session.scalar(select(func.count()).select_from(KbEntry)):
            return 0
        return await load.publish_many(session, sample_base(count), "demo")
