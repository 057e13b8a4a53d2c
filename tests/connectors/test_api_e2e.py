"""The inbound API end to end: ``hub api`` and ``hub worker`` as real processes on the real
RabbitMQ (through a TCP proxy this test can cut) and PostgreSQL, delivering to an ERP stub.

While the broker is cut, a burst of POSTs is still answered 202 (each message committed
with its outbox row); when it is back, the relay publishes every one and each is delivered
exactly once."""

from __future__ import annotations

import socket
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from connectors.security import create_api_key
from hub.partners import PartnerRegistry, read_partners_file
from hub.stubs import ErpStub
from tests.backbone.conftest import HubEnv, _delete_namespace, _teardown, make_env, wait_for
from tests.conftest import ROOT
from tests.connectors.conftest import drop_schema, new_schema
from tests.connectors.tcpproxy import TcpProxy

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]

ROW = "Facility,Location,Item,Lot,Expiry,Counted Qty,UOM\nHOSP1,CENTRAL-A03,ST-{n:05},A1,2027-09-30,{n},EA\n"


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    p = TcpProxy(("127.0.0.1", 5672))
    yield p
    p.stop()


@pytest.fixture
def hub_env(tmp_path: Path, proxy: TcpProxy, namespace: str) -> Iterator[HubEnv]:
    schema, url = new_schema()
    stub = ErpStub().start()
    env = make_env(tmp_path, database_url=url, broker_url=f"amqp://guest:guest@127.0.0.1:{proxy.port}//",
                   namespace=namespace, stub=stub)
    yield env
    proxy.restore()
    _teardown(env)
    _delete_namespace(env)
    stub.stop()
    drop_schema(schema)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_broker_outage_during_a_burst_of_posts(hub_env: HubEnv, proxy: TcpProxy) -> None:
    hub = hub_env.hub
    PartnerRegistry(hub.db).load(read_partners_file(ROOT / "routes" / "partners.yaml"))
    key = create_api_key(hub.db, "P-0042").key
    port = free_port()
    hub_env.spawn("api", "--port", str(port), log="api")
    hub_env.start_worker()
    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: _up(base), 30, 0.2, "the API answering /healthz")
    client = httpx.Client(base_url=base, headers={"X-API-Key": key, "Content-Type": "text/csv"}, timeout=30)

    def post(n: int) -> httpx.Response:
        return client.post("/api/v1/messages", content=ROW.format(n=n).encode(), params={"doctype": "cycle_count"})

    first = post(0)
    assert first.status_code == 202 and first.json()["published"] is True
    hub_env.wait_delivered(first.json()["message_id"], 2, timeout=60)

    proxy.cut()
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(post, range(1, 31)))
    assert [a.status_code for a in answers] == [202] * 30, [a.text for a in answers if a.status_code != 202]
    assert not any(a.json()["published"] for a in answers)  # stored; the relay will publish them
    ids = [a.json()["message_id"] for a in answers]
    ready = client.get("/readyz").json()
    assert ready["broker"].startswith("down") and ready["accepting"] is True and ready["outbox_pending"] >= 30
    assert "hub_outbox_pending 30.0" in client.get("/metrics").text
    assert {hub_env.message(i).status for i in ids} == {"received"}
    assert proxy.refused > 0  # the hub really tried the broker and was turned away

    proxy.restore()
    for message_id in ids:
        hub_env.wait_delivered(message_id, 2, timeout=120)
    # Every document reached the ERP exactly once, and nothing was published twice.
    erp_keys = [d.idempotency_key for i in ids for d in hub_env.deliveries(i) if d.endpoint == "erp-inventory"]
    arrivals = Counter(r.headers.get("Idempotency-Key") for r in hub_env.stub.requests)
    assert all(arrivals[k] == 1 for k in erp_keys), arrivals
    assert len(hub_env.stub.applied) == 31
    for message_id in ids:
        stages = [s.stage for s in hub_env.stages(message_id)]
        assert stages.count("published") == 1 and stages.count("routed") == 1, stages
    assert len(list(hub_env.warehouse.glob("*.json"))) == 31
    client.close()


def _up(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
