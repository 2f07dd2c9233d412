"""security: why a callback task was closed without dialling (callback_tasks.reason)

Revision ID: security_0002
Revises: acd_0002
Create Date: 2026-12-05 17:41:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "security_0002"
down_revision = "acd_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("callback_tasks") as batch:
        batch.add_column(sa.Column("reason", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("callback_tasks") as batch:
        batch.drop_column("reason")
