"""Alembic environment for the store. Run through `vend db upgrade --db URL` (bridge.store.migrate),
which passes the URL (or an open connection) in the config; no alembic.ini is needed."""

from __future__ import annotations

from alembic import context
from sqlalchemy import MetaData, create_engine

from bridge.store.store import TABLES

config = context.config
target_metadata = MetaData()
for _table in TABLES.values():
    _table.to_metadata(target_metadata)


def include_name(name: str | None, type_: str, _parents: object) -> bool:
    """Autogenerate compares only the store's tables (the scheduler keeps its own in the database)."""
    return type_ != "table" or name in target_metadata.tables


def run_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata, include_name=include_name,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, include_name=include_name, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.begin() as conn:
            context.configure(connection=conn, target_metadata=target_metadata, include_name=include_name, render_as_batch=True)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
