"""Fixtures of the connector tests: a fresh PostgreSQL schema migrated like production (plus
the connector tables, which get their migration at merge time), hubs on it, and a real SFTP
server on 127.0.0.1."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import paramiko
import pytest
from sqlalchemy import create_engine, text

from hub.app import Hub
from hub.config import Settings
from hub.db import Base, Database, normalise_url
from tests.conftest import PG_URL, ROOT
from tests.connectors.sftpserver import ServerOptions, SftpTestServer

SFTP_USER, SFTP_PASSWORD = "acme", "s3cret-for-tests"


def new_schema() -> tuple[str, str]:
    """(schema, URL whose connections see only that schema), migrated and complete."""
    schema = f"c_{os.getpid()}_{secrets.token_hex(4)}"
    admin = create_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    sep = "&" if "?" in PG_URL else "?"
    url = f"{PG_URL}{sep}options={quote(f'-csearch_path={schema}')}"
    db = Database(url)
    db.create_schema()  # the Alembic migrations, as every hub process runs them
    db.dispose()
    return schema, url


def drop_schema(schema: str) -> None:
    admin = create_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def load_example_partners(db: Database, agreed: dict[str, list[dict]] | None = None) -> None:
    """Load routes/partners.yaml into the store, with more documents agreed for some partners
    (``{"P-0042": [{"format": "csv", "doctype": "cycle_count"}]}``): the example registry lets a
    supplier send EDI only, and tests that post CSV as that partner say so here."""
    from hub.partners import DocumentAgreement, PartnerRegistry, read_partners_file

    partners = read_partners_file(ROOT / "routes" / "partners.yaml")
    for n, partner in enumerate(partners):
        extra = [DocumentAgreement.model_validate(d) for d in (agreed or {}).get(partner.id, [])]
        partners[n] = partner.model_copy(update={"documents": [*partner.documents, *extra]})
    PartnerRegistry(db).load(partners)


@pytest.fixture(scope="module")
def schema_url() -> Iterator[str]:
    schema, url = new_schema()
    yield url
    drop_schema(schema)


def make_hub(data_dir: Path, database_url: str, routes_dir: Path = ROOT / "routes", **settings) -> Hub:
    hub = Hub(Settings(data_dir=data_dir, database_url=database_url, routes_dir=routes_dir,
                       namespace=f"t{secrets.token_hex(4)}", **settings))
    hub.setup()
    return hub


@pytest.fixture
def hub(tmp_path: Path, schema_url: str) -> Iterator[Hub]:
    """A hub on PostgreSQL with the embedded broker (publishing works without RabbitMQ)."""
    h = make_hub(tmp_path / "data", schema_url)
    yield h
    h.db.dispose()


# -- SFTP --------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def host_key() -> paramiko.PKey:
    return paramiko.RSAKey.generate(2048)


@pytest.fixture(scope="session")
def client_key() -> paramiko.PKey:
    return paramiko.RSAKey.generate(2048)


@pytest.fixture
def sftp_server(tmp_path: Path, host_key: paramiko.PKey, client_key: paramiko.PKey,
                monkeypatch: pytest.MonkeyPatch) -> Iterator[SftpTestServer]:
    root = tmp_path / "sftp-root"
    (root / "inbound").mkdir(parents=True)
    (root / "outbound").mkdir()
    options = ServerOptions(root=root, users={SFTP_USER: SFTP_PASSWORD}, keys={"keyuser": client_key})
    server = SftpTestServer(options, host_key).start()
    monkeypatch.setenv("TEST_SFTP_USER", SFTP_USER)
    monkeypatch.setenv("TEST_SFTP_PASSWORD", SFTP_PASSWORD)
    yield server
    server.stop()


def sftp_settings(server: SftpTestServer, path: str, **extra) -> dict:
    """The YAML-level settings of an sftp channel/endpoint pointing at the test server."""
    return {"host": "127.0.0.1", "port": server.port, "path": path,
            "host_key_sha256": server.host_key.fingerprint,
            "auth": {"username_env": "TEST_SFTP_USER", "password_env": "TEST_SFTP_PASSWORD"},
            "connect_timeout": 5, **extra}
