"""Fixtures of the console tests: a hub on SQLite with the example routes and partners and the
embedded broker (no worker: actions publish, nothing consumes), the API app with the console
mounted, operators of each role, and a logged-in client per role."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from connectors.inbound.api import ApiSettings, create_app
from hub.app import Hub
from hub.config import Settings
from hub.console.operators import add_operator
from hub.deadletters import dead_letter
from hub.ingest import Inbound, Ingest
from hub.partners import PartnerRegistry
from tests.conftest import ROOT

PASSWORD = "console tests password 1"
ROLES = {"ada": "admin", "otto": "operator", "vera": "viewer"}


def make_console_hub(data_dir: Path, database_url: str | None = None) -> Hub:
    settings = Settings(data_dir=data_dir, routes_dir=ROOT / "routes", namespace=f"t{secrets.token_hex(4)}",
                        **({"database_url": database_url} if database_url else {}))
    hub = Hub(settings)
    hub.setup()
    PartnerRegistry(hub.db).load_file(ROOT / "routes" / "partners.yaml")
    for name, role in ROLES.items():
        add_operator(hub.db, name, role, password=PASSWORD, by="tests")
    return hub


@pytest.fixture(scope="module")
def console_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    hub = make_console_hub(tmp_path_factory.mktemp("console") / "data")
    yield hub
    hub.db.dispose()


def app_for(hub: Hub):
    """The API app with the console; logins unthrottled (the tests log in many times a minute
    from one address; test_auth checks the throttle on an app of its own)."""
    from hub.console.login import Throttle

    settings = ApiSettings()
    settings.relay = False
    app = create_app(hub, settings)
    app.state.console.throttle = Throttle(per_minute=1_000_000)
    return app


@pytest.fixture(scope="module")
def app(console_hub: Hub):
    return app_for(console_hub)


def login(client: TestClient, name: str, password: str = PASSWORD, next_: str = "/"):
    page = client.get("/login")
    token = re.search(r'name="login_csrf" value="([^"]+)"', page.text).group(1)
    return client.post("/login", data={"login_csrf": token, "name": name, "password": password, "next": next_})


def csrf_of(client: TestClient) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get("/").text).group(1)


@pytest.fixture
def clients(app) -> Iterator[dict[str, TestClient]]:
    """A logged-in client per operator (ada admin, otto operator, vera viewer) and an anonymous one."""
    out = {}
    for name in (*ROLES, "anonymous"):
        client = TestClient(app, follow_redirects=False)
        if name != "anonymous":
            assert login(client, name).status_code == 303
        out[name] = client
    yield out
    for client in out.values():
        client.close()


def push(hub: Hub, raw: bytes, *, fmt: str = "csv", doctype: str = "cycle_count", sender: str = "legacy-stock",
         filename: str = "counts.csv") -> str:
    return Ingest(hub).accept(Inbound(raw=raw, format=fmt, doctype=doctype, sender=sender, channel="test",
                                      filename=filename)).message_id


def park(hub: Hub, message_id: str, reason: str = "bad_csv", error: str = "line 2, column 'Expiry'") -> str:
    """A dead letter of the cycle-counts route for this message (as the route would park it)."""
    return dead_letter(hub, task_name="hub.route.cycle-counts", task_args=[message_id], message_id=message_id,
                       reason=reason, error=error)


def open_exception(hub: Hub, message_id: str, kind: str = "duplicate_document", key: str = "INV-1") -> str:
    from hub.business_exceptions import record_exception

    with hub.db.session() as session:
        row = record_exception(session, kind=kind, message=f"invoice {key} seen before", document_type="invoice",
                               document_key=key, partner_id="P-0042", message_id=message_id, route="supplier-x12")
        return row.id
