"""Database engine and session factory (SQLAlchemy 2), shared by every part of the hub.

One declarative ``Base`` holds all tables (store, crosswalks, control numbers ...), so the
schema is created and migrated in one place (``hub.migrate``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, Executable, MetaData, create_engine, event, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

# Stable constraint names make Alembic migrations reproducible across SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain ``postgresql://`` URLs."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str, **kwargs) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        # SQLite's driver opens transactions lazily and never for SELECT; emit BEGIN ourselves
        # so "SELECT then UPDATE" is atomic across processes (BEGIN IMMEDIATE takes the write lock).
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    # No pool_pre_ping: it costs a round trip on every checkout. A connection that went stale
    # (database restarted) fails its first statement; tasks treat that as a transient error.
    # A database whose network drops packets must not hold a task or the file drop for the
    # kernel's TCP timeout (minutes): fail the connect after 10 s, and the caller waits and retries.
    connect_args = kwargs.setdefault("connect_args", {"connect_timeout": 10})
    connect_args.setdefault("options", _with_custom_plans(url))
    kwargs.setdefault("pool_recycle", 1800)
    kwargs.setdefault("pool_size", 5)
    kwargs.setdefault("max_overflow", 10)
    return create_engine(url, **kwargs)


def _with_custom_plans(url: str) -> str:
    """The connection's libpq ``options`` (those of the URL, kept) with ``plan_cache_mode =
    force_custom_plan``, unless the URL sets the mode itself.

    Why: psycopg prepares a statement on its fifth use, and PostgreSQL then keeps a generic plan
    made for the tables as they were. A hub's tables start empty and grow by thousands of rows a
    minute; a plan made in the first second — join *all* route runs of a route, scan route runs
    whole for a status — stays until autovacuum analyzes the table, and PostgreSQL's CPU per
    document grew with the backlog (0.24 ms at 3,000 documents, 0.44 at 10,000, e2e.py). A
    custom plan is made for each execution with the table's current size; the hub's statements
    are small index lookups whose planning costs little: PostgreSQL's CPU per document is now
    0.32–0.35 ms at 3,000 and at 10,000 documents alike (the planning costs about 0.1 ms more
    than a cached plan where that plan is still good)."""
    options = make_url(url).query.get("options") or ""
    if isinstance(options, tuple):
        options = " ".join(options)
    if "plan_cache_mode" in options:
        return options
    return f"{options} -c plan_cache_mode=force_custom_plan".strip()


def _sqlite_begin(conn) -> None:
    if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    dbapi_conn.isolation_level = None  # let the "begin" listener control transactions
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


class Database:
    """An engine plus a session factory. Forked worker processes get a fresh engine."""

    def __init__(self, url: str, **engine_kwargs) -> None:
        self.url = url
        self._engine_kwargs = engine_kwargs
        self._lock = threading.Lock()
        self._pid = -1
        self._engine: Engine | None = None
        self._sessions: sessionmaker[Session] | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None or self._pid != os.getpid():
            with self._lock:
                if self._engine is None or self._pid != os.getpid():
                    if self._engine is not None:
                        # Inherited from the parent across fork: drop its connections unclosed.
                        self._engine.dispose(close=False)
                    self._engine = make_engine(self.url, **self._engine_kwargs)
                    self._sessions = sessionmaker(self._engine, expire_on_commit=False)
                    self._pid = os.getpid()
        return self._engine

    @property
    def is_sqlite(self) -> bool:
        return normalise_url(self.url).startswith("sqlite")

    def clock(self):
        """"Now" for comparisons that several hosts make (a claim's lease): the database's clock
        on PostgreSQL, read when the statement runs, so hosts whose clocks disagree still agree
        on when a lease ran out. SQLite lives on one host: its clock is this process's."""
        from datetime import UTC, datetime

        from sqlalchemy import func

        return datetime.now(UTC) if self.is_sqlite else func.clock_timestamp()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on error."""
        self.engine  # noqa: B018 - make sure the factory exists in this process
        assert self._sessions is not None
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reads that need no transaction (one statement): autocommit, so no
        BEGIN/COMMIT round trips and, on SQLite, no write lock."""
        self.engine  # noqa: B018
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn, \
                Session(bind=conn, expire_on_commit=False) as session:
            yield session

    def write(self, statements: list[Executable]) -> None:
        """Run INSERT/UPDATE statements atomically, in as few round trips as possible.

        PostgreSQL: one statement — every statement but the last becomes a data-modifying CTE
        of the last (``WITH w0 AS (INSERT …), w1 AS (INSERT …) UPDATE …``), sent in autocommit
        mode: one network round trip instead of BEGIN + one per statement + COMMIT. A single
        statement is atomic, so a conflict anywhere (IntegrityError) writes nothing.
        SQLite: one transaction, statement by statement."""
        if not statements:
            return
        if self.is_sqlite:
            with self.session() as session:
                for stmt in statements:
                    session.execute(stmt)
            return
        *ctes, last = statements
        for i, stmt in enumerate(ctes):
            last = last.add_cte(stmt.cte(f"w{i}"))
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(last)

    def create_schema(self) -> None:
        """Create or upgrade every table (see ``hub.migrate``)."""
        from hub.migrate import upgrade

        upgrade(self)

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
