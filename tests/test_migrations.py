"""The migrations build exactly the schema the models describe, on every backend."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.models import metadata

# The knowledge base's full-text index is backend-specific and made by its migration only
# (an FTS5 table on SQLite, a GIN expression index on PostgreSQL): not in the ORM metadata.
BACKEND_ONLY = {"kb_fts", "ix_kb_entries_tokens", "tsv"}


def _include(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    # FTS5 also makes shadow tables kb_fts_data, kb_fts_idx, ...
    return not (name or "").startswith("kb_fts") and name not in BACKEND_ONLY


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "include_object": _include}
    )
    return list(compare_metadata(context, metadata))


async def test_models_and_migrations_agree(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        diff = await conn.run_sync(_diff)
    assert diff == []


def test_the_migrations_have_one_head() -> None:
    """A new migration builds on the head (merge_0001 or later), not on a package's old chain:
    two heads leave the order of their migrations undefined."""
    from alembic.script import ScriptDirectory

    from hotline.db import alembic_config

    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert len(heads) == 1, f"several heads: {sorted(heads)}; add a merge revision"
