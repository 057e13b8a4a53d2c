"""Fixtures of the security tests: the connector tests' PostgreSQL schema, hubs and SFTP server,
a partner registry with a rival for each standard (so a smuggled interchange impersonates a
real, registered partner), and the inbound API served by ``hub api``'s own server on 127.0.0.1."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from connectors.inbound.api import ApiSettings, create_app
from connectors.inbound.httpserver import api_server
from connectors.security import SecurityEvent, create_api_key
from hub.app import Hub
from hub.partners import PartnerConfig, PartnerRegistry
from hub.store import Message
from tests.backbone.conftest import embedded_hub, erp_stub  # noqa: F401 - fixtures used by the tests here
from tests.connectors.conftest import (  # noqa: F401 - fixtures used by the tests here
    client_key,
    host_key,
    load_example_partners,
    make_hub,
    schema_url,
    sftp_server,
)
from tests.conftest import free_port

METRICS_TOKEN = "security-tests-metrics-token"

# Partners besides routes/partners.yaml's P-0042 (X12, ZZ:ACMEMED) and P-0107 (EDIFACT,
# 4012345000009:14): a rival for each standard, and the hospital's own stock system, which may
# post cycle counts as CSV (suppliers may not).
EXTRA_PARTNERS = [
    {"id": "P-0777", "name": "Rival Medical", "roles": ["SUPPLIER"],
     "x12": {"isa_qualifier": "ZZ", "isa_id": "RIVALMED", "gs_id": "RIVALMED"}, "inbound_documents": ["855"]},
    {"id": "P-0888", "name": "Baltic Implants", "roles": ["SUPPLIER"],
     "edifact": {"unb_id": "5790000000001", "unb_qualifier": "14"}, "inbound_documents": ["ORDRSP"]},
    {"id": "P-0500", "name": "Central Stock System", "roles": ["PROVIDER"],
     "documents": [{"format": "csv", "doctype": "cycle_count"}, {"format": "xml", "doctype": "Orders"}]},
]
# P-0042 receives 850s from the hub: agreed outbound, which never lets it send one.
ACME_DOCUMENTS = [{"format": "x12", "doctype": "850", "direction": "outbound"}]


def load_partners(hub: Hub) -> None:
    load_example_partners(hub.db, {"P-0042": ACME_DOCUMENTS})
    PartnerRegistry(hub.db).load([PartnerConfig.model_validate(p) for p in EXTRA_PARTNERS])


@pytest.fixture(scope="module")
def sec_hub(tmp_path_factory: pytest.TempPathFactory, schema_url: str) -> Iterator[Hub]:  # noqa: F811
    hub = make_hub(tmp_path_factory.mktemp("security") / "data", schema_url, max_message_bytes=200_000)
    load_partners(hub)
    yield hub
    hub.db.dispose()


@pytest.fixture(scope="module")
def keys(sec_hub: Hub) -> dict[str, str]:
    return {p: create_api_key(sec_hub.db, p, label="security tests").key
            for p in ("P-0042", "P-0107", "P-0777", "P-0888", "P-0500")}


class RunningApi:
    """``hub api``'s server (``connectors.inbound.httpserver.api_server``) in a thread on 127.0.0.1."""

    def __init__(self, hub: Hub, settings: ApiSettings) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = api_server(create_app(hub, settings), settings, host="127.0.0.1", port=self.port,
                                 log_level="warning")
        self.thread = threading.Thread(target=self.server.run, name="test-api", daemon=True)

    def __enter__(self) -> RunningApi:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "the API did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(15)


def api_settings(**overrides: object) -> ApiSettings:
    return ApiSettings(**{"relay": False, "metrics_token": METRICS_TOKEN, **overrides})


@pytest.fixture(scope="module")
def api(sec_hub: Hub) -> Iterator[RunningApi]:
    with RunningApi(sec_hub, api_settings()) as running:
        yield running


def events(hub: Hub, kind: str | None = None, channel: str | None = None) -> list[SecurityEvent]:
    query = select(SecurityEvent).order_by(SecurityEvent.id)
    if kind:
        query = query.where(SecurityEvent.kind == kind)
    if channel:
        query = query.where(SecurityEvent.channel == channel)
    with hub.db.session() as s:
        return list(s.scalars(query))


def stored_bodies(hub: Hub) -> set[str]:
    """SHA-256 of every stored message."""
    with hub.db.session() as s:
        return set(s.scalars(select(Message.sha256)))


def unique() -> str:
    """A fresh 9-digit control number: the module's tests share one interchange log."""
    return f"{secrets.randbelow(10 ** 9):09d}"


def tmp_inbox(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / "inbox" / name
    folder.mkdir(parents=True)
    return folder
