"""Alembic environment: run programmatically by store.engine.migrate (no alembic.ini)."""

from __future__ import annotations

from alembic import context

from churn_api.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through churn_api.store.engine.migrate(url)")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
