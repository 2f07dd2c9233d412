"""api: QA per-item remarks, assignments of sampled calls to reviewers, and seats' appeals

Revision ID: api_0002
Revises: api_0001
Create Date: 2026-12-05 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.base import UTCDateTime

revision = "api_0002"
down_revision = "api_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("qa_scores", schema=None) as batch_op:
        # Scores given before this column existed have no per-item remarks.
        batch_op.add_column(
            sa.Column("item_remarks", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
        )

    op.create_table(
        "qa_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("seat_id", sa.String(length=32), nullable=True),
        sa.Column("reviewer", sa.String(length=64), nullable=False),
        sa.Column("assigned_by", sa.String(length=64), nullable=False),
        sa.Column("assigned_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("score_id", sa.Integer(), nullable=True),
        sa.Column("done_at", UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_assignments")),
        sa.UniqueConstraint("call_id", name=op.f("uq_qa_assignments_call_id")),
    )
    op.create_index(
        "ix_qa_assignments_reviewer_status", "qa_assignments", ["reviewer", "status"], unique=False
    )

    op.create_table(
        "qa_appeals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("score_id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("seat_id", sa.String(length=32), nullable=False),
        sa.Column("appellant", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("resolved_by", sa.String(length=64), nullable=True),
        sa.Column("resolved_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=False),
        sa.Column("old_scores", sa.JSON(), nullable=True),
        sa.Column("old_total", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["score_id"], ["qa_scores.id"], name=op.f("fk_qa_appeals_score_id_qa_scores")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_appeals")),
        sa.UniqueConstraint("score_id", name=op.f("uq_qa_appeals_score_id")),
    )
    op.create_index("ix_qa_appeals_status", "qa_appeals", ["status"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_qa_appeals_status", table_name="qa_appeals")
    op.drop_table("qa_appeals")
    op.drop_index("ix_qa_assignments_reviewer_status", table_name="qa_assignments")
    op.drop_table("qa_assignments")
    with op.batch_alter_table("qa_scores", schema=None) as batch_op:
        batch_op.drop_column("item_remarks")
