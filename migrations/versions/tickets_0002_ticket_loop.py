"""tickets: the closed loop — units, dispatch to units, lifecycle columns, audit events.

Revision ID: tickets_0002
Revises: tickets_0001
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.base import UTCDateTime

revision = "tickets_0002"
down_revision = "tickets_0001"
branch_labels = None
depends_on = None

# The statuses of the first ticket model, mapped onto the lifecycle's states.
OLD_STATUS = {"分派": "已派单", "办结": "已办结", "回访": "已办结", "评价": "已回访"}

_FLAGS = ("enterprise", "visit_required", "visited", "direct_answer")
_COUNTS = ("extension_days", "returns", "reopen_count", "supervised")


def upgrade() -> None:
    op.create_table(
        "units",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["parent_id"], ["units.id"], name=op.f("fk_units_parent_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_units")),
        sa.UniqueConstraint("name", name=op.f("uq_units_name")),
    )
    op.create_table(
        "unit_members",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_unit_members_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_unit_members")),
    )
    op.create_index(op.f("ix_unit_members_unit_id"), "unit_members", ["unit_id"])
    with op.batch_alter_table("tickets", schema=None) as batch:
        for name in _FLAGS:
            batch.add_column(
                sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.false())
            )
        for name in _COUNTS:
            batch.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("lead_unit_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("merged_into_id", sa.Integer(), nullable=True))
        for name in ("sign_due_at", "signed_at", "replied_at", "closed_at"):
            batch.add_column(sa.Column(name, UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("reply", sa.Text(), nullable=True))
        batch.add_column(sa.Column("extension_reason", sa.String(500), nullable=True))
        batch.create_foreign_key(
            op.f("fk_tickets_lead_unit_id_units"), "units", ["lead_unit_id"], ["id"]
        )
        batch.create_foreign_key(
            op.f("fk_tickets_merged_into_id_tickets"), "tickets", ["merged_into_id"], ["id"]
        )
        batch.create_index("ix_tickets_status_due_at", ["status", "due_at"])
        batch.create_index("ix_tickets_status_sign_due_at", ["status", "sign_due_at"])
        batch.create_index("ix_tickets_lead_unit_id_status", ["lead_unit_id", "status"])
    # The model has no server defaults: new rows get theirs from Python.
    with op.batch_alter_table("tickets", schema=None) as batch:
        for name in (*_FLAGS, *_COUNTS):
            batch.alter_column(name, server_default=None)
    for old, new in OLD_STATUS.items():
        op.execute(
            sa.text("UPDATE tickets SET status = :new WHERE status = :old").bindparams(
                old=old, new=new
            )
        )
    op.create_table(
        "ticket_units",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(8), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_units_ticket_id_tickets")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_ticket_units_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_units")),
        sa.UniqueConstraint("ticket_id", "unit_id", name=op.f("uq_ticket_units_ticket_id")),
    )
    op.create_index(op.f("ix_ticket_units_ticket_id"), "ticket_units", ["ticket_id"])
    op.create_index(op.f("ix_ticket_units_unit_id"), "ticket_units", ["unit_id"])
    op.create_table(
        "ticket_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(24), nullable=False),
        sa.Column("from_state", sa.String(16), nullable=False),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_events_ticket_id_tickets")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_ticket_events_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_events")),
    )
    op.create_index(op.f("ix_ticket_events_ticket_id"), "ticket_events", ["ticket_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_ticket_events_ticket_id"), table_name="ticket_events")
    op.drop_table("ticket_events")
    op.drop_index(op.f("ix_ticket_units_unit_id"), table_name="ticket_units")
    op.drop_index(op.f("ix_ticket_units_ticket_id"), table_name="ticket_units")
    op.drop_table("ticket_units")
    for old, new in OLD_STATUS.items():
        if old != "回访":
            op.execute(
                sa.text("UPDATE tickets SET status = :old WHERE status = :new").bindparams(
                    old=old, new=new
                )
            )
    with op.batch_alter_table("tickets", schema=None) as batch:
        batch.drop_index("ix_tickets_lead_unit_id_status")
        batch.drop_index("ix_tickets_status_sign_due_at")
        batch.drop_index("ix_tickets_status_due_at")
        batch.drop_constraint(op.f("fk_tickets_lead_unit_id_units"), type_="foreignkey")
        batch.drop_constraint(op.f("fk_tickets_merged_into_id_tickets"), type_="foreignkey")
        for name in (
            *_FLAGS,
            *_COUNTS,
            "lead_unit_id",
            "sign_due_at",
            "signed_at",
            "replied_at",
            "closed_at",
            "reply",
            "extension_reason",
        ):
            batch.drop_column(name)
    op.drop_index(op.f("ix_unit_members_unit_id"), table_name="unit_members")
    op.drop_table("unit_members")
    op.drop_table("units")
