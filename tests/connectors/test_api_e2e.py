"""The inbound API end to end: ``hub api`` and ``hub worker`` as real processes on the real
RabbitMQ (through a TCP proxy this test can cut) and PostgreSQL, delivering to an ERP stub.

While the broker is cut, a burst of POSTs is still answered 202 (each message committed
with its outbox row); when it is back, the relay publishes every one and each is delivered
exactly once. A client whose answer was lost (the API killed right after its commit) retries
with its ``Idempotency-Key`` and gets the same message back: one message, delivered once."""

from __future__ import annotations

import hashlib
import socket
import subprocess
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from connectors.security import create_api_key
from hub.store import Message
from hub.store.ingest_keys import IngestKey
from hub.stubs import ErpStub
from tests.backbone.conftest import HubEnv, _delete_namespace, _teardown, make_env, wait_for
from tests.connectors.conftest import drop_schema, load_example_partners, new_schema
from tests.connectors.tcpproxy import TcpProxy

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]

METRICS_TOKEN = "e2e-metrics-token"
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


def partner_key(env: HubEnv) -> str:
    """The registry loaded and an API key for partner P-0042."""
    load_example_partners(env.hub.db, {"P-0042": [{"format": "csv", "doctype": "cycle_count"}]})  # it posts CSV here
    return create_api_key(env.hub.db, "P-0042").key


def start_api(env: HubEnv) -> tuple[subprocess.Popen, str]:
    """``hub api`` on a free port, answering: (process, base URL)."""
    port = free_port()
    env.env["HUB_API_METRICS_TOKEN"] = METRICS_TOKEN
    proc = env.spawn("api", "--port", str(port), log="api")
    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: _up(base), 30, 0.2, "the API answering /healthz")
    return proc, base


def test_broker_outage_during_a_burst_of_posts(hub_env: HubEnv, proxy: TcpProxy) -> None:
    key = partner_key(hub_env)
    _, base = start_api(hub_env)
    hub_env.start_worker()
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
    metrics = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).text
    assert "hub_outbox_pending 30.0" in metrics
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


def test_a_retry_after_the_api_was_killed_past_its_commit_gets_the_one_message(hub_env: HubEnv) -> None:
    key, idempotency_key, body = partner_key(hub_env), "count-2026-11-20-HOSP1", ROW.format(n=77).encode()
    api, base = start_api(hub_env)
    hub_env.start_worker()
    # The client sends; the API commits; the API is killed before the client reads any answer.
    port = int(base.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(f"POST /api/v1/messages?doctype=cycle_count HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     f"X-API-Key: {key}\r\nContent-Type: text/csv\r\nIdempotency-Key: {idempotency_key}\r\n"
                     f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
        first_id = wait_for(lambda: _key_owner(hub_env, "P-0042", idempotency_key), 30, 0.01, "the commit")
        hub_env.kill(api)  # SIGKILL: no answer, maybe not even the fast-path publish
    # The client does not know whether it was stored, so it sends again, to the restarted API.
    _, base = start_api(hub_env)
    again = httpx.post(f"{base}/api/v1/messages", content=body, params={"doctype": "cycle_count"}, timeout=30,
                       headers={"X-API-Key": key, "Content-Type": "text/csv", "Idempotency-Key": idempotency_key})
    assert again.status_code == 202, again.text
    assert again.headers["Idempotent-Replayed"] == "true" and again.json()["message_id"] == first_id
    erp_keys = [d.idempotency_key for d in hub_env.wait_delivered(first_id, 2, timeout=60)
                if d.endpoint == "erp-inventory"]
    with hub_env.hub.db.session() as s:
        same_body = s.scalars(select(Message.id).where(Message.sha256 == hashlib.sha256(body).hexdigest())).all()
    assert same_body == [first_id]
    arrivals = Counter(r.headers.get("Idempotency-Key") for r in hub_env.stub.requests)
    assert len(erp_keys) == 1 and arrivals[erp_keys[0]] == 1, arrivals
    assert len(hub_env.stub.applied) == 1 and len(list(hub_env.warehouse.glob("*.json"))) == 1


def _key_owner(env: HubEnv, partner_id: str, key: str) -> str | None:
    with env.hub.db.session() as s:
        return s.scalar(select(IngestKey.message_id).where(IngestKey.scope == partner_id, IngestKey.key == key))
