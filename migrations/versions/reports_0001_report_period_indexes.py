"""reports: indexes for the weekly report's periods (tickets by accepted_at and due_at, calls
by entered_at, callback attempts by started_at), chosen by EXPLAIN ANALYZE over a generated
year (bench/bench_reports.py)

Revision ID: reports_0001
Revises: calls_0001
Create Date: 2026-12-06 02:20:00
"""

from __future__ import annotations

from alembic import op

revision = "reports_0001"
down_revision = "calls_0001"
branch_labels = None
depends_on = None

INDEXES = [
    ("ix_tickets_accepted_at", "tickets", "accepted_at"),
    ("ix_tickets_due_at", "tickets", "due_at"),
    ("ix_call_records_entered_at", "call_records", "entered_at"),
    ("ix_callback_attempts_started_at", "callback_attempts", "started_at"),
]


def upgrade() -> None:
    for name, table, column in INDEXES:
        op.create_index(name, table, [column])


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
