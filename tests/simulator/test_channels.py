"""The simulated partner over HTTP: it listens where the hub's http endpoint for it points and
takes what the hub POSTs; with no file-drop channel bound to it, it answers through the hub's own
inbound API (a real server on 127.0.0.1) with its API key — and is refused what the hub refuses."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import select

from connectors.inbound.api import ApiSettings, create_app
from connectors.security import create_api_key
from hub.app import Hub
from hub.config import Settings
from hub.partners import PartnerRegistry
from hub.simulator.channels import ChannelError, Folder, HttpInbox, HubApi, channels_for
from hub.store import Message
from tests.conftest import free_port

ANSWER = (b"ISA*00*          *00*          *ZZ*MERIDIANSURG   *ZZ*GENHOSP        *261207*1000*U*00401*000000071*0*P*>~"
          b"GS*FA*MERIDIANSURG*GENHOSP*20261207*1000*71*X*004010~ST*997*0001~AK1*PO*1~AK2*850*0001~AK5*A~"
          b"AK9*A*1*1*1~SE*6*0001~GE*1*71~IEA*1*000000071~")


# Meridian as the example registry has it, but ordering over HTTP and answering through the API.
PARTNER = """partners:
  - id: P-0310
    name: Meridian Surgical Supply
    roles: [DISTRIBUTOR, SUPPLIER]
    x12: {isa_qualifier: ZZ, isa_id: MERIDIANSURG, gs_id: MERIDIANSURG, version: "004010", acks: [{kind: "997", within: 4h}]}
    preferred_standard: X12
    inbound_documents: ["855", "856", "810", "997"]
    outbound_endpoints: {purchase_order: meridian-http-orders}
    auth: {api_key_env: MERIDIAN_API_KEY}
  - id: P-0042
    name: Acme Medical Distribution
    roles: [SUPPLIER]
    x12: {isa_qualifier: ZZ, isa_id: ACMEMED, gs_id: ACMEMED, version: "004010"}
    preferred_standard: X12
"""


@pytest.fixture
def http_hub(tmp_path: Path) -> Iterator[tuple[Hub, int]]:
    """A hub whose routes send Meridian's orders over HTTP and bind no channel to it: the
    partner answers through the API."""
    orders_port = free_port()
    routes = tmp_path / "routes"
    routes.mkdir()
    (routes / "endpoints.yaml").write_text(
        f"endpoints:\n  meridian-http-orders:\n    http: {{url: 'http://127.0.0.1:{orders_port}/orders', format: raw}}\n")
    (routes / "partners.yaml").write_text(PARTNER)
    hub = Hub(Settings(data_dir=tmp_path / "data", routes_dir=routes))
    hub.setup()
    PartnerRegistry(hub.db).load_file(routes / "partners.yaml")
    yield hub, orders_port
    hub.db.dispose()


def serve_api(hub: Hub) -> tuple[uvicorn.Server, int]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(hub, ApiSettings(relay=False)), host="127.0.0.1", port=port,
                                           log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    return server, port


def test_orders_over_http_and_answers_through_the_hubs_api(http_hub, monkeypatch: pytest.MonkeyPatch) -> None:
    hub, orders_port = http_hub
    partner = PartnerRegistry(hub.db).by_id("P-0310")
    with pytest.raises(ChannelError, match="no API key in MERIDIAN_API_KEY"):
        channels_for(hub, partner)
    issued = create_api_key(hub.db, "P-0310", label="simulator")
    monkeypatch.setenv("MERIDIAN_API_KEY", issued.key)
    server, api_port = serve_api(hub)
    monkeypatch.setenv("HUB_SIMULATOR_API_URL", f"http://127.0.0.1:{api_port}")
    try:
        channels = channels_for(hub, partner)
        assert isinstance(channels.orders, HttpInbox) and isinstance(channels.answers, HubApi)
        assert channels.hub_acks is None and channels.orders.where == f"http://127.0.0.1:{orders_port}/orders"
        # The hub's http sender POSTs the 850; the partner takes it.
        sent = httpx.post(channels.orders.where, content=b"ISA*...850...~", headers={
            "X-Hub-Document-Type": "850", "X-Hub-Delivery-Id": "d-1"})
        assert sent.status_code == 200
        assert channels.orders.take() == [("850-d-1", b"ISA*...850...~")] and channels.orders.take() == []
        # The partner's 997 goes in through the API, as a partner's translator would post it.
        where = channels.answers.put("MERIDIANSURG-997-000000071.x12", ANSWER)
        assert where.startswith(f"http://127.0.0.1:{api_port}/api/v1/messages (")
        with hub.db.read() as session:
            stored = session.execute(select(Message.sender, Message.doctype).where(
                Message.filename == "MERIDIANSURG-997-000000071.x12")).one()
        assert tuple(stored) == ("MERIDIANSURG", "997")
        # The API refuses what it refuses any partner: another partner's envelope is a 403.
        with pytest.raises(ChannelError, match="answered 403"):
            channels.answers.put("other.x12", ANSWER.replace(b"MERIDIANSURG", b"ACMEMED     ", 1))
    finally:
        server.should_exit = True
        channels.orders.close()


def test_a_folder_mailbox_takes_oldest_first_and_writes_whole_files(tmp_path: Path) -> None:
    folder = Folder(tmp_path / "mailbox")
    folder.put("b.x12", b"second")
    time.sleep(0.01)
    folder.put("a.x12", b"third")
    (tmp_path / "mailbox" / ".c.x12.tmp").write_bytes(b"partial")  # being written: not taken
    assert folder.take() == [("b.x12", b"second"), ("a.x12", b"third")]
    assert sorted(p.name for p in (tmp_path / "mailbox" / "taken").iterdir()) == ["a.x12", "b.x12"]
    assert folder.take() == []
