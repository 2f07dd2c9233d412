"""acd: callback_tasks.seat_id, the one seat a 回访台 seat's own click rings first

Revision ID: acd_0004
Revises: acd_0003
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "acd_0004"
down_revision = "acd_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("callback_tasks") as batch:
        batch.add_column(sa.Column("seat_id", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("callback_tasks") as batch:
        batch.drop_column("seat_id")
