"""The inbound HTTP API in-process (FastAPI's TestClient) on PostgreSQL: API keys and client
certificates, spoofed envelope senders (403, recorded with the bytes kept), body limits (413),
XML without network access, a partner's view of its messages, health, readiness, metrics."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from connectors.cli import api_key_app, security_app
from connectors.inbound.api import ApiSettings, create_app
from connectors.security import SecurityEvent, create_api_key, record_event, revoke_api_key
from hub.app import Hub
from hub.partners import PartnerConfig, PartnerRegistry
from hub.store import Message
from tests.conftest import ROOT
from tests.connectors.conftest import load_example_partners, make_hub
from tests.connectors.test_formats import Listener
from tests.x12.helpers import ACK_855, PO_850
from tests.x12.helpers import interchange as x12_interchange

pytestmark = pytest.mark.postgres

CERT_FP = "ab" * 32
METRICS_TOKEN = "ops-metrics-token"
LIMIT = 5000


def isa(sender: str, qualifier: str = "ZZ", control: str = "000000101", set_id: str = "855") -> bytes:
    return (f"ISA*00*          *00*          *{qualifier}*{sender:<15}*ZZ*HOSPITAL       *261120*1200*^*00401*"
            f"{control}*0*P*>~GS*PR*{sender}*HOSPITAL*20261120*1200*1*X*004010~ST*{set_id}*0001~BAK*00*AD*PO-1*"
            f"20261120~SE*3*0001~GE*1*1~IEA*1*{control}~\n").encode()


UNB = b"UNA:+.? 'UNB+UNOC:3+4012345000009:14+5412345000013:14+261120:1200+42'UNH+1+ORDRSP:D:96A:UN'UNT+2+1'UNZ+1+42'"


@pytest.fixture(scope="module")
def api_hub(tmp_path_factory: pytest.TempPathFactory, schema_url: str) -> Iterator[Hub]:
    hub = make_hub(tmp_path_factory.mktemp("api") / "data", schema_url, max_message_bytes=LIMIT)
    # P-0042 is a supplier (EDI); these tests also post its CSV and XML, agreed here.
    load_example_partners(hub.db, {"P-0042": [{"format": "csv", "doctype": "cycle_count"},
                                              {"format": "csv", "doctype": "x"}, {"format": "xml", "doctype": "Orders"}]})
    registry = PartnerRegistry(hub.db)
    registry.load([
        PartnerConfig.model_validate({"id": "P-0200", "name": "Certified Labs", "roles": ["LAB"],
                                      "documents": [{"format": "json", "doctype": "lab_result"}],
                                      "auth": {"client_cert_fingerprints": [":".join([CERT_FP[i:i + 2] for i in
                                                                                      range(0, 64, 2)]).upper()]}}),
        PartnerConfig.model_validate({"id": "P-0300", "name": "Suspended Co", "roles": ["SUPPLIER"],
                                      "status": "SUSPENDED"}),
    ])
    yield hub
    hub.db.dispose()


@pytest.fixture(scope="module")
def client(api_hub: Hub) -> Iterator[TestClient]:
    settings = ApiSettings(client_cert_fingerprint_header="X-Client-Cert-SHA256", relay=False,
                           trusted_proxies="10.0.0.0/8", metrics_token=METRICS_TOKEN)
    with TestClient(create_app(api_hub, settings), client=("10.1.2.3", 50000)) as c:
        yield c


@pytest.fixture(scope="module")
def keys(api_hub: Hub) -> dict[str, str]:
    return {p: create_api_key(api_hub.db, p, label="tests").key for p in ("P-0042", "P-0107", "P-0300")}


def events(hub: Hub, kind: str) -> list[SecurityEvent]:
    with hub.db.session() as s:
        return list(s.scalars(select(SecurityEvent).where(SecurityEvent.kind == kind).order_by(SecurityEvent.id)))


def message(hub: Hub, message_id: str) -> Message | None:
    with hub.db.session() as s:
        return s.get(Message, message_id)


def post(client: TestClient, body: bytes, key: str | None, content_type: str = "text/csv", **params) -> object:
    headers = {"Content-Type": content_type, **({"X-API-Key": key} if key else {})}
    return client.post("/api/v1/messages", content=body, headers=headers, params=params)


def test_csv_is_stored_and_published(client: TestClient, api_hub: Hub, keys: dict[str, str]) -> None:
    resp = post(client, b"Facility,Item\nHOSP1,ST-1\n", keys["P-0042"], doctype="cycle_count", filename="c.csv")
    assert resp.status_code == 202, resp.text
    body = resp.json()
    assert body["published"] is True and body["status"] == "published"
    assert body["routing_key"] == "csv.cycle_count.P-0042"
    assert resp.headers["Location"] == f"/api/v1/messages/{body['message_id']}"
    msg = message(api_hub, body["message_id"])
    assert api_hub.store.raw(msg) == b"Facility,Item\nHOSP1,ST-1\n"
    assert (msg.channel, msg.sender, msg.filename) == ("api", "P-0042", "c.csv")
    assert msg.headers["partner_id"] == "P-0042" and msg.headers["auth"] == "api_key"


def test_own_edi_envelope_is_accepted_with_doctype_and_sender_from_it(client: TestClient, api_hub: Hub,
                                                                       keys: dict[str, str]) -> None:
    resp = post(client, isa("ACMEMED"), keys["P-0042"], "application/edi-x12")
    assert resp.status_code == 202, resp.text
    assert resp.json()["routing_key"] == "x12.855.ACMEMED"
    resp = client.post("/api/v1/messages", content=UNB, headers={"Authorization": f"ApiKey {keys['P-0107']}"})
    assert resp.status_code == 202, resp.text  # no content type: detected as EDIFACT
    assert resp.json()["routing_key"] == "edifact.ORDRSP.4012345000009"


def test_spoofed_sender_is_refused_and_recorded_with_the_bytes(client: TestClient, api_hub: Hub,
                                                               keys: dict[str, str]) -> None:
    before = len(events(api_hub, "sender_not_owned"))
    spoof = isa("ACMEMED", control="000000999")  # partner P-0042's envelope ...
    resp = post(client, spoof, keys["P-0107"], "application/edi-x12")  # ... with partner P-0107's key
    assert resp.status_code == 403
    assert "ZZ:ACMEMED" in resp.json()["error"] and "belongs to partner P-0042" in resp.json()["error"]
    recorded = events(api_hub, "sender_not_owned")[before:]
    assert len(recorded) == 1
    event = recorded[0]
    assert (event.partner_id, event.claimed, event.remote_addr) == ("P-0107", "X12 ZZ:ACMEMED", "10.1.2.3")
    assert event.detail == {"owner": "P-0042", "auth": "api_key"}
    assert event.sha256 == hashlib.sha256(spoof).hexdigest() and api_hub.store.blobs.get(event.blob) == spoof
    with api_hub.db.session() as s:
        assert s.scalars(select(Message).where(Message.sha256 == event.sha256)).first() is None  # not ingested


def test_a_second_interchange_from_someone_else_is_caught(client: TestClient, api_hub: Hub,
                                                          keys: dict[str, str]) -> None:
    mixed = isa("ACMEMED") + isa("OTHERCO", control="000000102")
    resp = post(client, mixed, keys["P-0042"], "application/edi-x12")
    assert resp.status_code == 403
    assert "ZZ:OTHERCO" in resp.json()["error"] and "no registered partner" in resp.json()["error"]
    assert resp.json()["error"].startswith("segment 8 (ISA): ")  # where, as the engine counts segments


def test_edi_without_an_envelope_is_a_400(client: TestClient, keys: dict[str, str]) -> None:
    resp = post(client, b"GS*PR*X~ST*855*1~", keys["P-0042"], "application/edi-x12")
    assert resp.status_code == 400
    assert resp.json()["error"] == ("x12 envelope: segment 1: data that is not an X12 segment before the first ISA was "
                                    "skipped: 'GS*PR*X~ST*855*1~'")


def test_document_type_the_partner_may_not_send(client: TestClient, api_hub: Hub, keys: dict[str, str]) -> None:
    resp = post(client, isa("ACMEMED", set_id="850"), keys["P-0042"], "application/edi-x12")
    assert resp.status_code == 403 and "may not send document type '850'" in resp.json()["error"]
    assert events(api_hub, "doctype_not_allowed")[-1].claimed == "850"


def test_authentication_failures(client: TestClient, api_hub: Hub, keys: dict[str, str]) -> None:
    assert post(client, b"a,b\n", None).status_code == 401
    before = len(events(api_hub, "auth_failed"))
    resp = post(client, b"a,b\n", keys["P-0042"][:-4] + "AAAA")
    assert resp.status_code == 401 and resp.headers["WWW-Authenticate"] == "ApiKey"
    assert len(events(api_hub, "auth_failed")) == before + 1
    extra = create_api_key(api_hub.db, "P-0042")
    assert post(client, b"a,b\n", extra.key, doctype="x").status_code == 202
    assert revoke_api_key(api_hub.db, extra.key_id)
    assert post(client, b"a,b\n", extra.key, doctype="x").status_code == 401
    assert post(client, b"a,b\n", keys["P-0300"]).status_code == 403  # suspended partner


def test_client_certificate_from_the_tls_terminator(client: TestClient, api_hub: Hub) -> None:
    resp = client.post("/api/v1/messages", content=b'{"n": 1}', params={"doctype": "lab_result"},
                       headers={"Content-Type": "application/json", "X-Client-Cert-SHA256": CERT_FP})
    assert resp.status_code == 202, resp.text
    assert message(api_hub, resp.json()["message_id"]).headers["auth"] == "client_cert"
    resp = client.post("/api/v1/messages", content=b"{}", headers={"X-Client-Cert-SHA256": "cd" * 32})
    assert resp.status_code == 401 and "not registered" in resp.json()["error"]


def test_certificate_headers_from_an_untrusted_peer_are_refused(api_hub: Hub) -> None:
    settings = ApiSettings(client_cert_fingerprint_header="X-Client-Cert-SHA256", relay=False,
                           trusted_proxies="10.0.0.0/8")
    with TestClient(create_app(api_hub, settings), client=("192.0.2.7", 50000)) as outsider:
        resp = outsider.post("/api/v1/messages", content=b"{}", headers={"X-Client-Cert-SHA256": CERT_FP})
    assert resp.status_code == 401
    event = events(api_hub, "untrusted_cert_header")[-1]
    assert event.remote_addr == "192.0.2.7" and event.claimed == CERT_FP


def test_oversized_bodies_are_refused_with_413(client: TestClient, api_hub: Hub, keys: dict[str, str]) -> None:
    big = b"x" * (LIMIT + 1)
    assert post(client, big, keys["P-0042"]).status_code == 413  # declared by Content-Length

    def chunks():
        for _ in range(LIMIT // 1000 + 2):
            yield b"y" * 1000

    resp = client.post("/api/v1/messages", content=chunks(), headers={"X-API-Key": keys["P-0042"]})
    assert resp.status_code == 413 and "HUB_MAX_MESSAGE_BYTES" in resp.json()["error"]  # streamed, no length
    with api_hub.db.session() as s:
        assert s.scalars(select(Message).where(Message.size > LIMIT)).first() is None
    assert post(client, b"x" * LIMIT, keys["P-0042"], doctype="x").status_code == 202  # the limit itself is fine


def test_xml_doctype_from_the_root_and_no_network_for_entities(client: TestClient, api_hub: Hub,
                                                               keys: dict[str, str]) -> None:
    listener = Listener()
    try:
        xxe = (f'<?xml version="1.0"?><!DOCTYPE Orders [<!ENTITY x SYSTEM "{listener.url}/secret">]>'
               f"<Orders>&x;</Orders>").encode()
        resp = post(client, xxe, keys["P-0042"], "application/xml")
        assert resp.status_code == 202, resp.text
        assert resp.json()["doctype"] == "Orders"
        assert api_hub.store.raw(message(api_hub, resp.json()["message_id"])) == xxe  # kept byte for byte
        assert listener.hits == []
    finally:
        listener.server.shutdown()
        listener.server.server_close()


def test_a_partner_sees_its_own_messages_only(client: TestClient, keys: dict[str, str]) -> None:
    posted = post(client, b"a,b\n", keys["P-0042"], doctype="cycle_count").json()
    resp = client.get(posted["status_url"], headers={"X-API-Key": keys["P-0042"]})
    assert resp.status_code == 200
    status = resp.json()
    assert status["message_id"] == posted["message_id"] and status["status"] == "routing"
    assert [t["stage"] for t in status["trace"]] == ["received", "published"]  # no worker runs here
    other = client.get(posted["status_url"], headers={"X-API-Key": keys["P-0107"]})
    assert other.status_code == 404 and other.json() == {"error": f"no message {posted['message_id']}"}
    assert client.get("/api/v1/messages/nope", headers={"X-API-Key": keys["P-0042"]}).status_code == 404
    assert client.get(posted["status_url"]).status_code == 401


def test_health_readiness_metrics_and_openapi(client: TestClient, keys: dict[str, str]) -> None:
    post(client, b"a,b\n", keys["P-0042"], doctype="cycle_count")
    post(client, b"a,b\n", "shk_0000000000000000_" + "A" * 43)  # a refused attempt
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["database"] == "ok" and ready.json()["broker"] == "ok"
    assert client.get("/metrics", headers={"X-API-Key": keys["P-0042"]}).status_code == 401  # not for partners
    metrics = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert 'hub_messages_ingested_total{channel="api",format="csv"}' in text
    assert 'hub_security_events_total{kind="auth_failed"}' in text
    assert "hub_outbox_pending " in text and "hub_outbox_oldest_pending_seconds " in text
    spec = client.get("/openapi.json").json()
    post_spec = spec["paths"]["/api/v1/messages"]["post"]
    assert "application/edi-x12" in post_spec["requestBody"]["content"]
    assert {p["name"] for p in post_spec["parameters"]} >= {"format", "doctype", "filename", "ack"}
    assert client.get("/docs").status_code == 200


def test_readiness_reports_a_broker_outage_but_stays_ready(api_hub: Hub, tmp_path: Path, schema_url: str) -> None:
    from hub.config import Settings

    down = Hub(Settings(data_dir=tmp_path / "down", database_url=schema_url, routes_dir=ROOT / "routes",
                        broker_url="amqp://guest:guest@127.0.0.1:1//"))  # never set up: the broker is away
    with TestClient(create_app(down, ApiSettings(relay=False))) as c:
        body = c.get("/readyz").json()
    assert body["database"] == "ok" and body["broker"].startswith("down") and body["accepting"] is True


def test_api_key_commands(api_hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    from hub.config import get_settings

    monkeypatch.setenv("HUB_DATABASE_URL", api_hub.settings.resolved_database_url)
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        created = runner.invoke(api_key_app, ["create", "P-0107", "--label", "nordmed portal"])
        assert created.exit_code == 0, created.output
        key = created.output.strip().splitlines()[-1]
        key_id = key.split("_")[1]
        assert key.startswith("shk_")
        listing = runner.invoke(api_key_app, ["list", "P-0107"]).output
        assert key_id in listing and "nordmed portal" in listing and key not in listing
        with api_hub.db.session() as s:
            from connectors.security import ApiKey

            stored = s.get(ApiKey, key_id)
            assert stored.secret_sha256 == hashlib.sha256(key.split("_", 2)[2].encode()).hexdigest()
        assert runner.invoke(api_key_app, ["revoke", key_id]).exit_code == 0
        again = runner.invoke(api_key_app, ["revoke", key_id])
        assert again.exit_code == 1 and "no active API key" in again.output
        unknown = runner.invoke(api_key_app, ["create", "P-9999"])
        assert unknown.exit_code == 1 and "no partner 'P-9999'" in unknown.output
        record_event(api_hub, "sender_not_owned", "test event", claimed="X12 ZZ:SOMEONE", remote_addr="192.0.2.1")
        listing = runner.invoke(security_app, ["events", "--kind", "sender_not_owned"]).output
        assert "claimed=X12 ZZ:SOMEONE" in listing and "from=192.0.2.1" in listing
    finally:
        get_settings.cache_clear()


def test_sync_ack_returns_the_997_and_a_resend_gets_ta1_025(client: TestClient, api_hub: Hub,
                                                            keys: dict[str, str]) -> None:
    from edi.common.interchanges import InterchangeRecord
    from edi.common.route_steps import REFUSED_HEADER
    from edi.x12.engine import translate

    interchange = isa("ACMEMED", control="000000555")
    resp = post(client, interchange, keys["P-0042"], "application/edi-x12", ack="sync")
    assert resp.status_code == 202, resp.text
    body = resp.json()
    kinds = [a["document_type"] for a in body["acks"]]
    assert "997" in kinds  # P-0042 expects 997s (and TA1s: partners.yaml)
    ack997 = next(a for a in body["acks"] if a["document_type"] == "997")
    assert ack997["content_type"] == "application/edi-x12" and ack997["data"].startswith("ISA*")
    results = [d for d in translate(ack997["data"].encode()) if isinstance(d, dict)]
    assert results[0]["ack_kind"] == "997" and results[0]["groups"][0]["control_number"] == "1"
    msg = message(api_hub, body["message_id"])
    assert msg.headers["ack"] == "sync" and msg.headers[REFUSED_HEADER] == {}
    with api_hub.db.session() as s:
        logged = s.scalars(select(InterchangeRecord).where(InterchangeRecord.message_id == body["message_id"])).all()
    assert sorted((r.direction, r.control_number) for r in logged)[0] == ("in", "000000555")
    # The same interchange again: a duplicate, refused at the envelope (TA1 025), stored and flagged.
    again = post(client, interchange, keys["P-0042"], "application/edi-x12", ack="sync").json()
    (ta1,) = again["acks"]
    assert ta1["document_type"] == "TA1" and "TA1*000000555*" in ta1["data"] and "*R*025" in ta1["data"]
    assert message(api_hub, again["message_id"]).headers[REFUSED_HEADER] == {"0": "duplicate_interchange"}


def test_sync_ack_rejects_a_set_the_partner_does_not_send_and_the_route_leaves_it_out(
        client: TestClient, api_hub: Hub, keys: dict[str, str]) -> None:
    from edi.common.route_steps import REJECTED_PARTS_HEADER
    from hub.exchange import Exchange
    from hub.registry import PARSERS, SPLITTERS

    # P-0042 sends 855/856/810/832/997: the API lets the file in by its first set, the ack step rejects the 850.
    interchange = x12_interchange([("855", ACK_855), ("850", PO_850)], functional_id="PR", sender="ACMEMED",
                                  control="000000557").replace(b"GS*PR*SUPPLIER*", b"GS*PR*ACMEMED*")
    body = post(client, interchange, keys["P-0042"], "application/edi-x12", ack="sync").json()
    ack997 = next(a for a in body["acks"] if a["document_type"] == "997")
    assert "AK2*850*0002~AK5*R*1~AK9*P*2*2*1~" in ack997["data"].replace("\n", "")
    stored = message(api_hub, body["message_id"])
    assert stored.headers[REJECTED_PARTS_HEADER]["0"]["1"]["kind"] == "unsupported_document"
    # The route parses the stored message again and its ack step stands aside: the header leaves the set out.
    ex = Exchange(message_id=stored.id, body=interchange, format="x12", doctype="", sender="", headers=stored.headers)
    ex.body = PARSERS["x12"].fn(interchange, None, ex)
    (part,) = SPLITTERS["transaction"].fn(ex.body, ex)
    assert part.set_id == "855" and (ex.exceptions[-1]["kind"], ex.exceptions[-1]["set"]) == (
        "unsupported_document", "850 0002")


def test_sync_ack_contrl_for_edifact_and_refused_for_csv(client: TestClient, keys: dict[str, str]) -> None:
    unb = UNB.replace(b"+42'", b"+4711'")  # its own interchange reference (UNB and UNZ)
    resp = client.post("/api/v1/messages", content=unb, params={"ack": "sync"},
                       headers={"X-API-Key": keys["P-0107"], "Content-Type": "application/edifact"})
    assert resp.status_code == 202, resp.text
    (contrl,) = resp.json()["acks"]
    assert contrl["document_type"] == "CONTRL" and "UCI+4711+" in contrl["data"]
    csv = post(client, b"a,b\n", keys["P-0042"], doctype="x", ack="sync")
    assert csv.status_code == 400 and csv.json()["error"] == "?ack=sync is for X12 and EDIFACT messages, not csv"


def test_the_route_does_not_acknowledge_twice_after_a_sync_ack() -> None:
    from edi.common.route_steps import AckStep
    from hub.exchange import Exchange
    from hub.registry import RouteEnv

    step = AckStep(AckStep.configure("auto"), RouteEnv("r"))
    ex = Exchange(message_id="m", body=object(), format="x12", doctype="855", sender="ACMEMED",
                  headers={"ack": "sync"})
    assert step.process(ex) == [ex] and ex.side_outputs == []  # the body is not even looked at
