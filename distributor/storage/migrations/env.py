"""Alembic environment: runs on the connection handed over by ``distributor.storage.migrate``."""

from __future__ import annotations

from alembic import context

from distributor.storage.tables import Base

connection = context.config.attributes.get("connection")
if connection is None:
    from distributor.config import get_settings
    from distributor.storage import make_engine

    connection = make_engine(get_settings().database_url).connect()

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
