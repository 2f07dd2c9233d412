"""Alembic environment: run with a connection handed over by hotline.db, or from a URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from hotline.models import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    if context.is_offline_mode():
        context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("no connection: use 'hotline db upgrade'")
    with create_engine(url).connect() as conn:
        _run(conn)
        conn.commit()


run()
