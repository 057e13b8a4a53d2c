"""The hub creates and migrates its own schema; the migrations must match the models."""

from __future__ import annotations

import secrets

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

import hub.models  # noqa: F401
from hub.db import Base, Database, normalise_url
from hub.migrate import current, upgrade
from tests.conftest import PG_URL


def _diff(db: Database) -> list:
    with db.engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), Base.metadata)


def test_upgrade_on_postgresql_matches_the_models() -> None:
    schema = f"t_migrations_{secrets.token_hex(4)}"
    admin = create_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        db = Database(f"{PG_URL}?options=-csearch_path%3D{schema}")
        upgrade(db)
        assert current(db) is not None
        assert set(inspect(db.engine).get_table_names()) >= set(Base.metadata.tables)
        assert _diff(db) == []
        upgrade(db)  # idempotent
        db.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def test_upgrade_on_sqlite_matches_the_models(tmp_path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'hub.sqlite3'}")
    upgrade(db)
    assert _diff(db) == []
    db.dispose()
