"""recordings.asr_queued_at: when a recording's ASR job went onto the stream

Revision ID: recording_0002
Revises: recording_0001
Create Date: 2026-12-02 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.base import UTCDateTime

revision = "recording_0002"
down_revision = "recording_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("asr_queued_at", UTCDateTime(timezone=True), nullable=True))
    # Rows indexed before this column existed had their jobs queued with the index.
    op.execute("UPDATE recordings SET asr_queued_at = indexed_at")


def downgrade() -> None:
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.drop_column("asr_queued_at")
