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


def test_revision_0005_carries_rows_written_before_it_into_the_derived_model(tmp_path) -> None:
    """Statuses the old code wrote (the name of the latest stage) become derived statuses; a
    retrying delivery gets a next attempt the scheduler will honour; ordered delivery gets its
    messages' times; an open circuit's outage began when it opened."""
    db = Database(f"sqlite:///{tmp_path / 'hub.sqlite3'}")
    upgrade(db, "0004")
    rows = {
        "m-done": ("transformed", [("d1", "delivered"), ("d2", "delivered")]),
        "m-retrying": ("retrying", [("d3", "delivered"), ("d4", "retrying")]),
        "m-rejected": ("failed", [("d5", "failed")]),
        "m-published": ("published", []),
    }
    with db.engine.begin() as conn:
        for message_id, (status, deliveries) in rows.items():
            conn.execute(text(
                "INSERT INTO messages (id, received_at, format, doctype, sender, channel, headers, correlation_id, "
                "sha256, size, raw, status) VALUES (:id, '2026-11-20 10:00:00', 'csv', 'cycle_count', 's', 't', "
                "'{}', :id, '', 0, x'', :status)"), {"id": message_id, "status": status})
            if deliveries:
                conn.execute(text("INSERT INTO route_runs (message_id, route, status, outputs, finished_at) "
                                  "VALUES (:id, 'r', 'done', :n, '2026-11-20 10:00:01')"),
                             {"id": message_id, "n": len(deliveries)})
            for seq, (delivery_id, state) in enumerate(deliveries):
                conn.execute(text(
                    "INSERT INTO deliveries (id, message_id, route, endpoint, seq, payload, content_type, headers, "
                    "idempotency_key, status, attempts, created_at) VALUES (:d, :m, 'r', 'erp', :seq, x'', 'x', "
                    "'{}', :d, :state, 1, '2026-11-20 10:00:01')"),
                    {"d": delivery_id, "m": message_id, "seq": seq, "state": state})
        conn.execute(text("INSERT INTO message_stages (message_id, stage, at) "
                          "VALUES ('m-published', 'published', '2026-11-20 10:00:00')"))
        conn.execute(text("INSERT INTO endpoint_circuits (endpoint, state, failures, opened_at, updated_at) "
                          "VALUES ('erp', 'open', 5, 1700000000.0, '2026-11-20 10:00:00')"))
    upgrade(db)
    with db.engine.connect() as conn:
        statuses = dict(conn.execute(text("SELECT id, status FROM messages")).all())
        deliveries = {r.id: r for r in conn.execute(text("SELECT * FROM deliveries"))}
        down_since = conn.execute(text("SELECT down_since FROM endpoint_circuits")).scalar()
    assert statuses == {"m-done": "delivered", "m-retrying": "delivering", "m-rejected": "dead_lettered",
                        "m-published": "routing"}
    assert deliveries["d4"].next_attempt_at is not None and deliveries["d5"].status == "dead_lettered"
    assert all(d.received_at is not None for d in deliveries.values())
    assert down_since == 1700000000.0
    db.dispose()
