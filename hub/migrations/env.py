"""Alembic environment: runs on the connection handed over by hub.migrate."""

from alembic import context

import hub.models  # noqa: F401 - every table registers itself on Base.metadata
from hub.db import Base
from hub.store.models import UTCDateTime

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only via `alembic` CLI, which we do not ship
    raise RuntimeError("run migrations through hub.migrate")



def render_item(type_, obj, autogen_context):
    """Render our TypeDecorators as the SQL types they store, so revisions need no hub imports."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


context.configure(
    connection=connection,
    render_item=render_item,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
