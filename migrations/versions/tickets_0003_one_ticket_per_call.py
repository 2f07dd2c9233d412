"""tickets: one ticket per call, enforced by a unique index (a draft confirmed twice at once)

Revision ID: tickets_0003
Revises: tickets_0002
Create Date: 2026-12-05 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "tickets_0003"
down_revision = "tickets_0002"
branch_labels = None
depends_on = None

# Tickets that came in without a call (other channels) have no call id to be unique.
_WHERE = sa.text("call_id <> ''")


def upgrade() -> None:
    op.drop_index("ix_tickets_call_id", table_name="tickets")
    op.create_index(
        "uq_tickets_call_id",
        "tickets",
        ["call_id"],
        unique=True,
        sqlite_where=_WHERE,
        postgresql_where=_WHERE,
    )


def downgrade() -> None:
    op.drop_index("uq_tickets_call_id", table_name="tickets")
    op.create_index("ix_tickets_call_id", "tickets", ["call_id"])
