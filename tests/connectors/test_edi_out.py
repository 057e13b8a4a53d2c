"""EDI out to partners: a purchase order through a route (``render: x12.850``) delivered over
SFTP to a real SFTP server parses back to the same purchase order; EDIFACT ORDERS to a folder;
control numbers from the shared allocator; the expected ack recorded; ``hub acks overdue``."""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from connectors.cli import acks_app
from connectors.edi_out import overdue_acks
from connectors.render import RenderStep
from edi.common.ack_results import AckResult
from edi.common.diagnostics import Diagnostic
from edi.common.interchanges import InterchangeRecord, Party, record_ack
from hub.app import Hub
from hub.ingest import Inbound, Ingest
from hub.partners import PartnerRegistry, read_partners_file
from hub.delivery.deliver import deliver
from hub.delivery.holders import new_holder
from hub.processing import TaskContext, run_route
from hub.registry import RouteEnv, StepError, load_plugins
from hub.store import Delivery, utcnow
from tests.conftest import ROOT
from tests.connectors.conftest import make_hub, sftp_settings
from tests.connectors.sftpserver import SftpTestServer
from tests.x12.test_roundtrip import PO as X12_TEST_PO

pytestmark = pytest.mark.postgres

ACME_PO = X12_TEST_PO.model_validate({
    **json.loads(X12_TEST_PO.model_dump_json(exclude_none=True)), "po_number": "PO-77001",
    "supplier_partner_id": "P-0042",
    "supplier": {"role": "SU", "name": "Acme Medical", "identifiers": [
        {"scheme": "ACCOUNT_AT_PARTNER", "value": "P-0042", "qualifier": "92"}]},
})
NORDMED_PO = X12_TEST_PO.model_validate({
    **json.loads(ACME_PO.model_dump_json(exclude_none=True)), "po_number": "PO-77002",
    "supplier_partner_id": "P-0107",
    "supplier": {"role": "SU", "name": "Nordmed", "identifiers": [{"scheme": "GLN", "value": "4012345000009"}]},
})


def routes_dir(tmp: Path, server: SftpTestServer) -> Path:
    """Route files for this test. Endpoint names are unique per test: worker processes keep one
    sender per endpoint name, and each test has its own SFTP server."""
    acme_endpoint = f"acme-sftp-{secrets.token_hex(3)}"
    folder = tmp / "routes"
    folder.mkdir()
    acme = {**sftp_settings(server, "/outbound/acme"), "format": "raw", "filename": "{document_type}-{document_key}.{ext}"}
    doc = {
        "routes": [
            {"name": "po-to-acme", "from": {"format": "json", "doctype": "purchase_order", "sender": "erp"},
             "steps": [{"parse": "json"}, {"validate": "PurchaseOrder"}, {"render": "x12.850"}], "to": [acme_endpoint]},
            {"name": "po-to-nordmed", "from": {"format": "json", "doctype": "purchase_order", "sender": "erp-eu"},
             "steps": [{"parse": "json"}, {"validate": "PurchaseOrder"}, {"render": {"edifact.ORDERS": {}}}],
             "to": ["nordmed-folder"]},
            {"name": "po-acks-in", "from": {"format": "json", "doctype": "purchase_order_ack", "sender": "acme"},
             "steps": [{"parse": "json"}, {"validate": "PurchaseOrderAck"}], "to": ["acks-folder"]},
        ],
        "endpoints": {
            acme_endpoint: {"sftp": acme},
            "nordmed-folder": {"file": {"path": str(tmp / "nordmed"), "format": "raw",
                                        "filename": "{document_type}-{document_key}.{ext}"}},
            "acks-folder": {"file": {"path": str(tmp / "acks"), "format": "json"}},
        },
    }
    (folder / "orders.yaml").write_text(json.dumps(doc))
    return folder


@pytest.fixture
def edi_hub(tmp_path: Path, schema_url: str, sftp_server: SftpTestServer, monkeypatch: pytest.MonkeyPatch) -> Hub:
    monkeypatch.setenv("HUB_EDI_X12_ID", "HOSPITAL")
    monkeypatch.setenv("HUB_EDI_EDIFACT_ID", "5412345000013")
    monkeypatch.setenv("HUB_EDI_EDIFACT_QUALIFIER", "14")
    hub = make_hub(tmp_path / "data", schema_url, routes_dir(tmp_path, sftp_server))
    PartnerRegistry(hub.db).load(read_partners_file(ROOT / "routes" / "partners.yaml"))
    return hub


def send_through(hub: Hub, route: str, sender: str, po) -> Delivery:
    """Ingest the PO, run the route and the delivery exactly as the worker tasks do."""
    message_id = Ingest(hub).accept(Inbound(raw=po.model_dump_json().encode(), format="json", doctype="purchase_order",
                                            sender=sender, channel="test")).message_id
    assert run_route(hub, route, message_id, TaskContext()) == "1 output(s)"
    with hub.db.session() as s:
        (delivery,) = s.scalars(select(Delivery).where(Delivery.message_id == message_id)).all()
    assert deliver(hub, delivery.endpoint, delivery.id, new_holder()) == "delivered"
    with hub.db.session() as s:
        return s.get(Delivery, delivery.id)


def interchange_of(hub: Hub, message_id: str) -> InterchangeRecord:
    with hub.db.session() as s:
        return s.scalars(select(InterchangeRecord).where(InterchangeRecord.message_id == message_id,
                                                         InterchangeRecord.direction == "out")).one()


def read_back(fmt: str, data: bytes) -> dict:
    from edi.detect import engine_for

    items = list(engine_for(fmt).translate(data))
    assert not [str(d) for d in items if isinstance(d, Diagnostic) and d.is_error]
    (doc,) = [d for d in items if not isinstance(d, Diagnostic)]
    doc.pop("envelope")
    return doc


def test_850_rendered_and_delivered_over_sftp_parses_back_to_the_same_order(edi_hub: Hub,
                                                                            sftp_server: SftpTestServer) -> None:
    delivery = send_through(edi_hub, "po-to-acme", "erp", ACME_PO)
    (file,) = (sftp_server.options.root / "outbound" / "acme").iterdir()
    assert file.name == "850-PO-77001.x12"
    data = file.read_bytes()
    assert data == delivery.payload and delivery.content_type == "application/edi-x12"
    assert data.startswith(b"ISA*00*          *00*          *ZZ*HOSPITAL       *ZZ*ACMEMED        *")
    assert read_back("x12", data) == json.loads(ACME_PO.model_dump_json(exclude_none=True))
    record = interchange_of(edi_hub, delivery.message_id)
    assert (record.standard, record.receiver_id, record.ack_expected, record.ack_status) == ("X12", "ACMEMED", "997",
                                                                                             "pending")
    assert record.control_number.encode() in data
    assert record.detail == {"partner_id": "P-0042", "route": "po-to-acme", "document_type": "850",
                             "document_key": "PO-77001", "ack_within_seconds": 86400}
    assert [g.functional_id for g in record.groups] == ["PO"]


def test_edifact_orders_to_a_folder(edi_hub: Hub, tmp_path: Path) -> None:
    delivery = send_through(edi_hub, "po-to-nordmed", "erp-eu", NORDMED_PO)
    data = (tmp_path / "nordmed" / "ORDERS-PO-77002.edi").read_bytes()
    assert data.startswith(b"UNA:+.? '\nUNB+UNOC:3+5412345000013:14+4012345000009:14+")
    back = read_back("edifact", data)
    assert back["po_number"] == "PO-77002" and back["order_date"] == "2025-03-10"
    assert [(ln["line_number"], ln["qty"], ln["uom"], ln["unit_price"]) for ln in back["lines"]] == [
        ("1", "2", "BX", "45.10"), ("2", "10", "EA", "1.25")]
    assert {(i["scheme"], i["value"]) for i in back["lines"][0]["item_ids_sent"]} == {
        (i.scheme.value, i.value) for i in NORDMED_PO.lines[0].item_ids_sent}
    record = interchange_of(edi_hub, delivery.message_id)
    assert (record.standard, record.ack_expected, record.detail["ack_within_seconds"]) == ("EDIFACT", "CONTRL", 86400)
    assert record.detail["documents"][0]["key"] == "PO-77002"  # the EDIFACT writer's own bookkeeping is kept


def test_control_numbers_are_allocated_per_partner_pair(edi_hub: Hub) -> None:
    first = send_through(edi_hub, "po-to-acme", "erp", ACME_PO)
    second = send_through(edi_hub, "po-to-acme", "erp", ACME_PO.model_copy(update={"po_number": "PO-77003"}))
    a, b = interchange_of(edi_hub, first.message_id), interchange_of(edi_hub, second.message_id)
    assert int(b.control_number) == int(a.control_number) + 1
    assert f"*{b.control_number}*".encode() in second.payload and f"IEA*1*{b.control_number}~".encode() in second.payload


def test_overdue_acks_are_reported_until_the_997_arrives(edi_hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    delivery = send_through(edi_hub, "po-to-acme", "erp", ACME_PO.model_copy(update={"po_number": "PO-77009"}))
    record = interchange_of(edi_hub, delivery.message_id)
    mine = lambda rows: [r for r in rows if r["control_number"] == record.control_number]  # noqa: E731
    assert mine(overdue_acks(edi_hub.db)) == []  # within its 24 h
    later = delivery.delivered_at + timedelta(hours=25)
    (late,) = mine(overdue_acks(edi_hub.db, now=later))
    assert (late["partner_id"], late["document_key"], late["ack_expected"]) == ("P-0042", "PO-77009", "997")
    assert late["due_at"] == delivery.delivered_at + timedelta(hours=24)
    assert late["overdue_seconds"] == pytest.approx(3600)
    monkeypatch.setenv("HUB_DATABASE_URL", edi_hub.settings.resolved_database_url)
    from hub.config import get_settings

    get_settings.cache_clear()
    try:
        now = CliRunner().invoke(acks_app, ["overdue", "--fail"])
        tomorrow = CliRunner().invoke(acks_app, ["overdue", "--fail", "--at", later.strftime("%Y-%m-%dT%H:%M:%S")])
    finally:
        get_settings.cache_clear()
    assert now.exit_code == 0 and record.control_number not in now.output
    assert tomorrow.exit_code == 1, tomorrow.output
    line = next(ln for ln in tomorrow.output.splitlines() if record.control_number in ln)
    assert "P-0042" in line and "850 PO-77009" in line and "997 due" in line and "overdue 1.0 h" in line
    # The partner's 997 arrives (built by the X12 engine as ACMEMED would, read back by the hub).
    from edi.x12.engine import acknowledge, translate

    reply = acknowledge(delivery.payload)
    results = [d for d in translate(reply) if isinstance(d, dict) and d["document_type"] == "ack_result"]
    assert {r["ack_kind"] for r in results} >= {"997"}
    with edi_hub.db.session() as s:
        for result in results:
            result.pop("envelope")
            match = record_ack(s, AckResult.model_validate(result), ack_sender=Party("ZZ", "ACMEMED"),
                               ack_receiver=Party("ZZ", "HOSPITAL"))
            assert match.matched, match.unmatched
    assert mine(overdue_acks(edi_hub.db, now=later)) == []


def test_a_po_without_its_855_is_overdue_until_the_ack_arrives(edi_hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    """Acme owes an 855 within 24 h for each PO (business_answers in routes/partners.yaml):
    late, it is listed by `hub acks overdue` and put on the review queue once; the supplier's
    purchase_order_ack naming the PO settles it."""
    from hub.business_exceptions import BusinessException
    from hub.documents import overdue_answers, record_overdue_answers

    delivery = send_through(edi_hub, "po-to-acme", "erp", ACME_PO.model_copy(update={"po_number": "PO-77011"}))
    mine = lambda rows: [r for r in rows if r["document_key"] == "PO-77011"]  # noqa: E731
    later = delivery.delivered_at + timedelta(hours=25)
    assert mine(overdue_answers(edi_hub.db)) == []  # within its 24 h
    (late,) = mine(overdue_answers(edi_hub.db, now=later))
    assert (late["partner_id"], late["document_type"], late["answer_type"]) == ("P-0042", "purchase_order",
                                                                                 "purchase_order_ack")
    assert late["due_at"] == delivery.delivered_at + timedelta(hours=24) and late["message_id"] == delivery.message_id

    monkeypatch.setenv("HUB_DATABASE_URL", edi_hub.settings.resolved_database_url)
    from hub.config import get_settings

    get_settings.cache_clear()
    try:
        listed = CliRunner().invoke(acks_app, ["overdue", "--fail", "--at", later.strftime("%Y-%m-%dT%H:%M:%S")])
        early = CliRunner().invoke(acks_app, ["overdue", "--record", "--at", later.strftime("%Y-%m-%dT%H:%M:%S")])
    finally:
        get_settings.cache_clear()
    assert listed.exit_code == 1, listed.output
    line = next(ln for ln in listed.output.splitlines() if "PO-77011" in ln and "business" in ln)
    assert "purchase_order_ack due" in line and "overdue 1.0 h" in line
    assert early.exit_code == 2 and "--record judges by the clock" in early.output
    assert mine(overdue_answers(edi_hub.db, now=later))[0]["reported_at"] is None  # the refused run recorded nothing
    assert record_overdue_answers(edi_hub.db, now=later) >= 1
    assert record_overdue_answers(edi_hub.db, now=later) == 0  # once
    with edi_hub.db.session() as s:
        (exception,) = s.query(BusinessException).filter(BusinessException.document_key == "PO-77011").all()
        assert (exception.kind, exception.severity, exception.partner_id) == ("po_not_acknowledged", "WARN", "P-0042")

    ack = json.loads((ROOT / "hub/canonical/examples/purchase_order_ack.json").read_text())
    ack_id = Ingest(edi_hub).accept(Inbound(raw=json.dumps({**ack, "po_number": "PO-77011"}).encode(), format="json",
                                            doctype="purchase_order_ack", sender="acme", channel="test")).message_id
    assert run_route(edi_hub, "po-acks-in", ack_id, TaskContext()) == "1 output(s)"
    assert mine(overdue_answers(edi_hub.db, now=later)) == []


def test_undelivered_interchanges_owe_no_ack(edi_hub: Hub) -> None:
    message_id = Ingest(edi_hub).accept(Inbound(raw=ACME_PO.model_copy(update={"po_number": "PO-77010"})
                                                .model_dump_json().encode(), format="json",
                                                doctype="purchase_order", sender="erp", channel="test")).message_id
    run_route(edi_hub, "po-to-acme", message_id, TaskContext())  # rendered and logged, never delivered
    record = interchange_of(edi_hub, message_id)
    far = utcnow() + timedelta(days=30)
    assert [r for r in overdue_acks(edi_hub.db, now=far) if r["control_number"] == record.control_number] == []
    from hub.documents import overdue_answers

    assert [r for r in overdue_answers(edi_hub.db, now=far) if r["document_key"] == "PO-77010"] == []


def test_render_errors_name_the_problem(edi_hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    load_plugins()
    from hub.exchange import Exchange

    env = RouteEnv("r", {"db": edi_hub.db})
    step = RenderStep(RenderStep.configure("x12.850"), env)

    def ex(body) -> Exchange:
        return Exchange(message_id="m", body=body, format="json", doctype="purchase_order", sender="erp")

    unknown = ACME_PO.model_copy(update={"supplier_partner_id": "P-9999"})
    with pytest.raises(StepError, match="partner 'P-9999' is not in the registry"):
        step.process(ex(unknown))
    with pytest.raises(StepError, match="needs one canonical purchase_order .*got list"):
        step.process(ex([ACME_PO]))
    no_x12 = ACME_PO.model_copy(update={"supplier_partner_id": "P-0107"})
    with pytest.raises(StepError, match="partner P-0107 has no x12 identity"):
        step.process(ex(no_x12))
    monkeypatch.delenv("HUB_EDI_X12_ID")
    with pytest.raises(StepError, match="our ISA sender id is not set \\(HUB_EDI_X12_ID or sender_id:\\)"):
        step.process(ex(ACME_PO))
    bad = ACME_PO.model_copy(update={"po_number": "PO*1"})
    fixed = RenderStep(RenderStep.configure({"x12.850": {"sender_id": "HOSPITAL"}}), env)
    with pytest.raises(StepError, match="\\(BEG\\), element 3: value 'PO\\*1' contains the delimiter '\\*'"):
        fixed.process(ex(bad))
