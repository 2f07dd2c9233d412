"""acd: return-visit calls (visit_calls), automated IVR and seat visits with their attempts

Revision ID: acd_0003
Revises: tickets_0002
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.base import UTCDateTime

revision = "acd_0003"
down_revision = "tickets_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "visit_calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("reply_round", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("city", sa.String(32), nullable=False),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("requested_by", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(64), nullable=True),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("result", sa.String(8), nullable=True),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_calls")),
        sa.UniqueConstraint(
            "ticket_id", "reply_round", "mode", name=op.f("uq_visit_calls_ticket_id")
        ),
    )
    op.create_index("ix_visit_calls_city_status", "visit_calls", ["city", "status"])


def downgrade() -> None:
    op.drop_index("ix_visit_calls_city_status", table_name="visit_calls")
    op.drop_table("visit_calls")
