"""merge: one head again (each package's chain had branched from a shared revision)

Later migrations build on this one, so `alembic upgrade head` (singular) works as well as
`heads`, and the order of every revision is defined.

Revision ID: merge_0001
Revises: acd_0004, api_0002, asr_0001, intake_0001, knowledge_0001, recording_0002,
    reports_0001, security_0001, security_0002, tickets_0004
Create Date: 2026-12-06
"""

from __future__ import annotations

revision = "merge_0001"
down_revision = (
    "acd_0004",
    "api_0002",
    "asr_0001",
    "intake_0001",
    "knowledge_0001",
    "recording_0002",
    "reports_0001",
    "security_0001",
    "security_0002",
    "tickets_0004",
)
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
