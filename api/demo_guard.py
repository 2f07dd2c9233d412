"""Known demo passwords: published in the README and used by `make demo`, so production
refuses them at login, when an admin sets one, and at start."""

from __future__ import annotations

import asyncio

from api.auth import verify_password
from api.seed import DEMO_PASSWORD
from api.services import users
from store.sessions import Sessions

DEMO_PASSWORDS = frozenset({DEMO_PASSWORD})
REFUSED = "生产环境禁止使用演示密码，请管理员重置该账号的密码"


def is_demo_password(password: str) -> bool:
    return password in DEMO_PASSWORDS


def _any_demo(password_hash: str) -> bool:
    return any(verify_password(password_hash, p) for p in DEMO_PASSWORDS)


async def accounts_with_demo_password(sessions: Sessions) -> list[str]:
    """Usernames of active accounts whose password is a known demo password."""
    found = []
    for user in await users.list_all(sessions):
        if user.active and await asyncio.to_thread(_any_demo, user.password_hash):
            found.append(user.username)
    return found
