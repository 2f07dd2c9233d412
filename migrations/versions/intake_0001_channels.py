"""intake: the channel a ticket came in by, the knowledge entry a seat answered from, and the
intake messages (web form, mini-programs, SMS, app, 留言 imports) with their platform ids.

Revision ID: intake_0001
Revises: tickets_0002
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.base import UTCDateTime

revision = "intake_0001"
down_revision = "tickets_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch:
        # Every ticket before this came from a call.
        batch.add_column(
            sa.Column("channel", sa.String(16), nullable=False, server_default="phone")
        )
        batch.add_column(sa.Column("kb_entry_id", sa.Integer(), nullable=True))
        batch.create_index("ix_tickets_channel_accepted_at", ["channel", "accepted_at"])
    with op.batch_alter_table("tickets", schema=None) as batch:
        batch.alter_column("channel", server_default=None)
    op.create_table(
        "intake_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("message_id", sa.String(64), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("phone", sa.String(32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("location", sa.String(200), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("photos", sa.JSON(), nullable=False),
        sa.Column("received_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_intake_messages_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_messages")),
        sa.UniqueConstraint("platform", "message_id", name=op.f("uq_intake_messages_platform")),
    )
    op.create_index(op.f("ix_intake_messages_ticket_id"), "intake_messages", ["ticket_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_intake_messages_ticket_id"), table_name="intake_messages")
    op.drop_table("intake_messages")
    with op.batch_alter_table("tickets", schema=None) as batch:
        batch.drop_index("ix_tickets_channel_accepted_at")
        batch.drop_column("kb_entry_id")
        batch.drop_column("channel")
