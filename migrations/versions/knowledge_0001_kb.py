"""knowledge: entries, revisions, and the full-text index of each backend.

Revision ID: knowledge_0001
Revises: 0001
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from store.base import UTCDateTime

revision = "knowledge_0001"
down_revision = "0001"
branch_labels = None
depends_on = None


def _common() -> list[sa.Column]:
    return [
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("department", sa.String(100), nullable=True),
        sa.Column("valid_from", UTCDateTime(timezone=True), nullable=False),
        sa.Column("valid_to", UTCDateTime(timezone=True), nullable=True),
        sa.Column("source", sa.String(300), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "kb_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        *_common(),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("withdrawn", sa.Boolean(), nullable=False),
        sa.Column("tokens", sa.Text(), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_entries")),
    )
    op.create_index("ix_kb_entries_category", "kb_entries", ["category"])
    op.create_table(
        "kb_revisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=True),
        sa.Column("base_version", sa.Integer(), nullable=False),
        *_common(),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("reviewer", sa.String(64), nullable=True),
        sa.Column("note", sa.String(500), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["kb_entries.id"], name=op.f("fk_kb_revisions_entry_id_kb_entries")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_revisions")),
    )
    op.create_index(op.f("ix_kb_revisions_entry_id"), "kb_revisions", ["entry_id"])
    op.create_table(
        "kb_terms",
        sa.Column("word", sa.String(64), nullable=False),
        sa.Column("docs", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("word", name=op.f("pk_kb_terms")),
    )
    if op.get_bind().dialect.name == "sqlite":
        op.execute("CREATE VIRTUAL TABLE kb_fts USING fts5(tokens)")
    else:
        # Stored, so ranking reads the vector instead of parsing every matching entry again.
        op.execute(
            "ALTER TABLE kb_entries ADD COLUMN tsv tsvector GENERATED ALWAYS AS "
            "(to_tsvector('simple'::regconfig, tokens)) STORED"
        )
        op.execute("CREATE INDEX ix_kb_entries_tokens ON kb_entries USING gin (tsv)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE kb_fts")
    else:
        op.execute("DROP INDEX ix_kb_entries_tokens")
    op.drop_table("kb_terms")
    op.drop_index(op.f("ix_kb_revisions_entry_id"), table_name="kb_revisions")
    op.drop_table("kb_revisions")
    op.drop_index("ix_kb_entries_category", table_name="kb_entries")
    op.drop_table("kb_entries")
