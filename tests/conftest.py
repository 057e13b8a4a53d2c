"""Shared fixtures. Tests use the real PostgreSQL and RabbitMQ of the machine.

Isolation: every test session works in its own PostgreSQL schema and its own broker
namespace (exchange/queue prefix), so several suites can run side by side on one server.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, text

from hub.db import Base, Database, normalise_url

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus"

PG_URL = os.environ.get("HUB_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
AMQP_URL = os.environ.get("HUB_TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on now (for a server a test starts)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def corpus_files(subdir: str) -> list[Path]:
    """Files of ../shared/corpus/<subdir>; empty when the corpus is absent (tests then skip)."""
    folder = CORPUS / subdir
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file())


@contextmanager
def fresh_schema() -> Iterator[str]:
    """A URL whose connections see only a fresh schema of their own (search_path), dropped after."""
    schema = f"t_{os.getpid()}_{secrets.token_hex(4)}"
    admin = create_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options={quote(f'-csearch_path={schema}')}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(scope="session")
def pg_schema_url() -> Iterator[str]:
    """The session's schema (see ``fresh_schema``)."""
    with fresh_schema() as url:
        yield url


@pytest.fixture(scope="session")
def pg_db(pg_schema_url: str) -> Iterator[Database]:
    """The real PostgreSQL, with every table of the hub created in a private schema."""
    db = Database(pg_schema_url)
    # The migrations, as every hub process runs them: the hub fixtures of tests/backbone share
    # this schema and upgrade it too, whichever runs first.
    db.create_schema()
    yield db
    db.dispose()


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    db = Database(f"sqlite:///{tmp_path / 'hub.sqlite3'}")
    import hub.models  # noqa: F401

    Base.metadata.create_all(db.engine)
    yield db
    db.dispose()


@pytest.fixture
def namespace() -> str:
    """A broker namespace unique to the test: queues and exchanges never collide."""
    return f"t{secrets.token_hex(4)}"
