"""``POST /api/v1/messages`` with an ``Idempotency-Key``, in-process (FastAPI's TestClient) on
PostgreSQL, publishing to the real RabbitMQ: a retry gets the first message back (202,
``Idempotent-Replayed: true``), another body under the key is a 409, keys are per partner,
concurrent twins make one message, an expired key is free again, malformed keys are a 400, a
retried ``?ack=sync`` does not log the interchange twice, and the OpenAPI document says so."""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from connectors.inbound.api import ApiSettings, create_app
from connectors.security import create_api_key
from hub.app import Hub
from hub.store import Message, utcnow
from hub.store.ingest_keys import IngestKey
from tests.conftest import AMQP_URL
from tests.connectors.conftest import load_example_partners, make_hub
from tests.connectors.test_api import isa

pytestmark = [pytest.mark.postgres, pytest.mark.rabbitmq]

COUNT = b"Facility,Item,Qty\nHOSP1,ST-1,4\n"


@pytest.fixture(scope="module")
def api_hub(tmp_path_factory: pytest.TempPathFactory, schema_url: str) -> Iterator[Hub]:
    hub = make_hub(tmp_path_factory.mktemp("api-keys") / "data", schema_url, broker_url=AMQP_URL)
    cycle_counts = [{"format": "csv", "doctype": "cycle_count"}]  # the suppliers post CSV in these tests
    load_example_partners(hub.db, {"P-0042": cycle_counts, "P-0107": cycle_counts})
    yield hub
    with hub.connection() as conn:
        hub.topology.delete(conn.default_channel)
    hub.db.dispose()


@pytest.fixture(scope="module")
def client(api_hub: Hub) -> Iterator[TestClient]:
    with TestClient(create_app(api_hub, ApiSettings(relay=False))) as c:
        yield c


@pytest.fixture(scope="module")
def keys(api_hub: Hub) -> dict[str, str]:
    return {p: create_api_key(api_hub.db, p, label="tests").key for p in ("P-0042", "P-0107")}


@pytest.fixture
def key() -> str:
    """An Idempotency-Key of this test only (the module's tests share one schema)."""
    return f"key-{secrets.token_hex(8)}"


def post(client: TestClient, api_key: str, body: bytes, idempotency_key: str | bytes | None,
         content_type: str = "text/csv", **params: str) -> httpx.Response:
    headers = {"X-API-Key": api_key, "Content-Type": content_type}
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    return client.post("/api/v1/messages", content=body, headers=headers,
                       params=params or {"doctype": "cycle_count"})


def stored(hub: Hub, body: bytes, partner_id: str) -> list[str]:
    """Ids of the partner's messages with exactly this body."""
    with hub.db.session() as s:
        found = s.scalars(select(Message).where(Message.sha256 == hashlib.sha256(body).hexdigest()))
        return [m.id for m in found if m.headers.get("partner_id") == partner_id]


def test_a_retry_with_the_key_gets_the_first_message_back(client: TestClient, api_hub: Hub, keys: dict[str, str],
                                                          key: str) -> None:
    body = COUNT.replace(b"4", b"41")
    first = post(client, keys["P-0042"], body, key)
    assert first.status_code == 202, first.text
    assert first.json()["replayed"] is False and "Idempotent-Replayed" not in first.headers
    again = post(client, keys["P-0042"], body, key)
    assert again.status_code == 202, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    replay = again.json()
    assert replay["message_id"] == first.json()["message_id"] and replay["replayed"] is True
    assert again.headers["Location"] == first.headers["Location"]
    assert (replay["status"], replay["published"], replay["routing_key"]) == (
        "routing", True, "csv.cycle_count.P-0042")  # no worker here: the message waits in its queue
    assert replay["received_at"] == message_received_at(api_hub, replay["message_id"])
    assert stored(api_hub, body, "P-0042") == [replay["message_id"]]


def message_received_at(hub: Hub, message_id: str) -> str:
    with hub.db.session() as s:
        return s.get(Message, message_id).received_at.isoformat()


def test_the_key_with_another_body_is_a_409_naming_the_first_message(client: TestClient, api_hub: Hub,
                                                                     keys: dict[str, str], key: str) -> None:
    first = post(client, keys["P-0042"], COUNT.replace(b"4", b"42"), key).json()
    other = post(client, keys["P-0042"], COUNT.replace(b"4", b"43"), key)
    assert other.status_code == 409
    assert other.json() == {
        "error": f"Idempotency-Key {key!r} was already used for message {first['message_id']} with a different "
                 "body: use a new key for a new message",
        "idempotency_key": key, "message_id": first["message_id"]}
    assert stored(api_hub, COUNT.replace(b"4", b"43"), "P-0042") == []


def test_two_partners_with_the_same_key_get_two_messages(client: TestClient, api_hub: Hub, keys: dict[str, str],
                                                         key: str) -> None:
    body = COUNT.replace(b"4", b"44")
    acme = post(client, keys["P-0042"], body, key)
    other = post(client, keys["P-0107"], body, key)
    assert (acme.status_code, other.status_code) == (202, 202)
    assert other.json()["replayed"] is False and other.json()["message_id"] != acme.json()["message_id"]
    assert stored(api_hub, body, "P-0042") == [acme.json()["message_id"]]
    assert stored(api_hub, body, "P-0107") == [other.json()["message_id"]]


def test_concurrent_identical_posts_make_one_message(client: TestClient, api_hub: Hub, keys: dict[str, str],
                                                    key: str) -> None:
    body, start = COUNT.replace(b"4", b"45"), threading.Barrier(8)

    def send(_: int) -> httpx.Response:
        start.wait()
        return post(client, keys["P-0042"], body, key)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, range(8)))
    assert [a.status_code for a in answers] == [202] * 8, [a.text for a in answers]
    assert len({a.json()["message_id"] for a in answers}) == 1
    assert sorted(a.json()["replayed"] for a in answers) == [False] + [True] * 7
    assert stored(api_hub, body, "P-0042") == [answers[0].json()["message_id"]]


def test_an_expired_key_may_be_used_again(client: TestClient, api_hub: Hub, keys: dict[str, str], key: str) -> None:
    first = post(client, keys["P-0042"], COUNT.replace(b"4", b"46"), key).json()
    with api_hub.db.session() as s:  # as if HUB_API_IDEMPOTENCY_TTL had passed
        s.execute(update(IngestKey).where(IngestKey.key == key).values(expires_at=utcnow() - timedelta(seconds=1)))
    again = post(client, keys["P-0042"], COUNT.replace(b"4", b"47"), key)
    assert again.status_code == 202 and again.json()["replayed"] is False
    assert again.json()["message_id"] != first["message_id"]
    with api_hub.db.session() as s:
        assert s.scalar(select(IngestKey.message_id).where(IngestKey.key == key)) == again.json()["message_id"]


def test_the_time_a_key_is_remembered_is_a_setting(api_hub: Hub, monkeypatch: pytest.MonkeyPatch,
                                                   keys: dict[str, str], key: str) -> None:
    assert ApiSettings().idempotency_ttl == timedelta(days=7)
    monkeypatch.setenv("HUB_API_IDEMPOTENCY_TTL", "P1D")
    settings = ApiSettings(relay=False)
    assert settings.idempotency_ttl == timedelta(days=1)
    with TestClient(create_app(api_hub, settings)) as short:
        post(short, keys["P-0042"], COUNT.replace(b"4", b"48"), key)
    with api_hub.db.session() as s:
        row = s.scalar(select(IngestKey).where(IngestKey.key == key))
    assert row.expires_at - row.created_at == timedelta(days=1)


@pytest.mark.parametrize(("value", "problem"), [
    ("", "this one is 0 characters long"),
    ("k" * 256, "this one is 256 characters long"),
    ("clé".encode(), "this one has byte 0xC3 at position 3"),
    (b"tab\there", "this one has byte 0x09 at position 4"),
])
def test_a_malformed_key_is_a_400(client: TestClient, api_hub: Hub, keys: dict[str, str], value: str | bytes,
                                  problem: str) -> None:
    body = COUNT.replace(b"4", b"49")
    resp = post(client, keys["P-0042"], body, value)
    assert resp.status_code == 400
    assert resp.json() == {"error": f"Idempotency-Key must be 1 to 255 printable ASCII characters; {problem}"}
    assert stored(api_hub, body, "P-0042") == []


def test_the_longest_key_is_accepted(client: TestClient, keys: dict[str, str]) -> None:
    longest = "~ !" + "k" * 252
    assert post(client, keys["P-0042"], COUNT.replace(b"4", b"50"), longest).status_code == 202
    assert post(client, keys["P-0042"], COUNT.replace(b"4", b"50"), longest).json()["replayed"] is True


def test_a_retried_sync_ack_is_not_logged_as_a_duplicate(client: TestClient, api_hub: Hub, keys: dict[str, str],
                                                         key: str) -> None:
    from edi.common.interchanges import InterchangeRecord

    interchange = isa("ACMEMED", control="000000777")
    first = post(client, keys["P-0042"], interchange, key, "application/edi-x12", ack="sync")
    assert first.status_code == 202 and "997" in [a["document_type"] for a in first.json()["acks"]]
    again = post(client, keys["P-0042"], interchange, key, "application/edi-x12", ack="sync")
    assert again.status_code == 202 and again.json()["replayed"] is True and "acks" not in again.json()
    assert again.json()["message_id"] == first.json()["message_id"]
    with api_hub.db.session() as s:
        logged = s.scalar(select(func.count()).select_from(InterchangeRecord).where(
            InterchangeRecord.control_number == "000000777", InterchangeRecord.direction == "in"))
    assert logged == 1  # without the key this resend would be logged again and answered TA1 025


def test_openapi_documents_the_header_and_the_409(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    operation = spec["paths"]["/api/v1/messages"]["post"]
    (header,) = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
    assert header["in"] == "header" and header["required"] is False
    assert "409" in header["description"] and "HUB_API_IDEMPOTENCY_TTL" in header["description"]
    assert header["schema"]["maxLength"] == 255
    conflict = operation["responses"]["409"]["content"]["application/json"]["schema"]
    assert conflict == {"$ref": "#/components/schemas/ErrorBody"}  # the one error model, whose 409 fields are:
    assert {"error", "idempotency_key", "message_id"} <= set(spec["components"]["schemas"]["ErrorBody"]["properties"])
    assert "Idempotent-Replayed" in operation["responses"]["202"]["headers"]
    assert "Idempotency-Key" in operation["responses"]["400"]["description"]

