"""Alembic environment: runs on the connection handed over by hub.migrate."""

from alembic import context

import hub.models  # noqa: F401 - every table registers itself on Base.metadata
from hub.db import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only via `alembic` CLI, which we do not ship
    raise RuntimeError("run migrations through hub.migrate")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
