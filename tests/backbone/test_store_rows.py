"""``hub.store.insert_rows``: many rows of one table in one statement per set of keys (on
PostgreSQL as arrays through ``unnest``; on SQLite Core's ``executemany``), and with ``ids`` the
serial ids the rows got, in the rows' order — what ``hub.outbox.add_entries`` gives its entries."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hub.db import Database
from hub.store import OutboxEntry, insert_rows, utcnow


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest) -> Database:
    return request.getfixturevalue("sqlite_db" if request.param == "sqlite" else "pg_db")


def entry(n: int, delivery: bool) -> dict:
    row = {"message_id": f"m-{n}", "purpose": "egress", "exchange": "x", "routing_key": f"k.{n}",
           "headers": {"n": n}, "properties": {}, "body": f"body {n}".encode(), "created_at": utcnow()}
    if delivery:
        row["delivery_id"] = f"d-{n}"  # another set of keys: another statement
    return row


def test_the_ids_come_back_in_the_rows_order_across_statements(db: Database) -> None:
    rows = [entry(n, delivery=n % 3 == 0) for n in range(12)]
    with db.session() as s:
        ids = insert_rows(s, OutboxEntry, rows, ids=True)
    assert len(set(ids)) == len(rows)
    with db.read() as s:
        stored = dict(s.execute(select(OutboxEntry.id, OutboxEntry.routing_key).where(OutboxEntry.id.in_(ids))).all())
        defaults = set(s.scalars(select(OutboxEntry.attempts).where(OutboxEntry.id.in_(ids))))
    assert [stored[i] for i in ids] == [row["routing_key"] for row in rows]
    assert defaults == {0}  # a missing column's scalar default, as executemany fills it


def test_without_ids_nothing_is_returned_and_every_row_is_written(db: Database) -> None:
    rows = [entry(100 + n, delivery=False) for n in range(5)]
    with db.session() as s:
        assert insert_rows(s, OutboxEntry, rows) == []
    with db.read() as s:
        keys = set(s.scalars(select(OutboxEntry.routing_key).where(OutboxEntry.message_id.like("m-10_"))))
    assert keys == {row["routing_key"] for row in rows}


def test_postgresql_connections_plan_each_statement_for_the_tables_as_they_are(pg_schema_url: str) -> None:
    """Custom plans on every hub connection (hub.db): a generic plan cached while the tables
    were empty would outlive their growth. The URL's own options (the schema's search_path) are
    kept, and a URL that sets the mode itself wins."""
    from urllib.parse import quote

    from sqlalchemy import text

    db = Database(pg_schema_url)
    try:
        with db.engine.connect() as c:
            mode, path = c.scalar(text("SHOW plan_cache_mode")), c.scalar(text("SHOW search_path"))
        assert mode == "force_custom_plan" and path.startswith("t_")
    finally:
        db.dispose()
    own = Database(f"{pg_schema_url.split('?')[0]}?options={quote('-c plan_cache_mode=auto')}")
    try:
        with own.engine.connect() as c:
            assert c.scalar(text("SHOW plan_cache_mode")) == "auto"
    finally:
        own.dispose()
