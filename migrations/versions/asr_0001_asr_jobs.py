"""asr jobs: the durable outcome of each recording's transcription job

Revision ID: asr_0001
Revises: recording_0001
Create Date: 2026-12-01 18:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.base import UTCDateTime

revision = "asr_0001"
down_revision = "recording_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "asr_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recording_id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("deliveries", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("worker", sa.String(length=64), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["recording_id"],
            ["recordings.id"],
            name=op.f("fk_asr_jobs_recording_id_recordings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_asr_jobs")),
        sa.UniqueConstraint("recording_id", name=op.f("uq_asr_jobs_recording_id")),
    )
    with op.batch_alter_table("asr_jobs", schema=None) as batch_op:
        batch_op.create_index("ix_asr_jobs_status", ["status"], unique=False)
    with op.batch_alter_table("transcript_segments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_transcript_segments_transcript_id", ["transcript_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("transcript_segments", schema=None) as batch_op:
        batch_op.drop_index("ix_transcript_segments_transcript_id")
    with op.batch_alter_table("asr_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_asr_jobs_status")
    op.drop_table("asr_jobs")
