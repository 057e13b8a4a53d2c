"""hub.sla: the four clocks of the order-to-invoice cycle, per partner agreement — the 997 for the
PO's interchange, the 855, the ship notice (by the agreed time, and before the delivery date), the
goods receipt after an invoice — each late one raised once, none for what came in time, and
where each clock of a PO stands (hub documents trail)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from edi.common.interchanges import register_outbound
from hub.business_exceptions import BusinessException
from hub.documents import ref_rows, store_document
from hub.partners import PartnerRegistry
from hub.sla import clocks_for, late, record_clocks
from hub.store import Delivery, DocumentRef, ExpectedAnswer, Message
from tests.conftest import ROOT

SENT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PO = "4500090001"


@pytest.fixture
def db(sqlite_db):
    PartnerRegistry(sqlite_db).load_file(ROOT / "routes" / "partners.yaml")
    return sqlite_db


def message(session, message_id: str) -> None:
    session.add(Message(id=message_id, received_at=SENT, format="json", doctype="purchase_order", sender="erp",
                        channel="test", headers={}, correlation_id=message_id, sha256="0" * 64, size=0, raw=b"",
                        status="delivered"))
    session.flush()


def send_po(db, delivery_date: str | None = "2026-03-09") -> None:
    """What po-to-meridian leaves: the PO kept, its 850 delivered at SENT with control number 17,
    a 997 expected within 4 h (the interchange log) and an 855 within 24 h (expected_answers)."""
    with db.session() as session:
        message(session, "m-po")
        store_document(session, {"document_type": "purchase_order", "po_number": PO, "supplier_partner_id": "P-0310",
                                 **({"requested_delivery_date": delivery_date} if delivery_date else {})},
                       message_id="m-po", route="po-to-meridian")
        session.add(Delivery(id="d-po", message_id="m-po", route="po-to-meridian", endpoint="meridian-orders", seq=0,
                             document_type="850", document_key=PO, payload=b"ISA*...*000000017*0*P~",
                             content_type="application/edi-x12", idempotency_key="k", status="delivered",
                             delivered_at=SENT))
        record = register_outbound(session, standard="X12", sender=_party("GENHOSP"), receiver=_party("MERIDIANSURG"),
                                   control_number="000000017", version="00401", test=False, message_id="m-po",
                                   groups=[])
        record.ack_expected, record.ack_status = "997", "pending"
        record.detail = {"partner_id": "P-0310", "document_type": "850", "document_key": PO,
                         "ack_within_seconds": 4 * 3600}
        session.add(ExpectedAnswer(message_id="m-po", route="po-to-meridian", partner_id="P-0310",
                                   document_type="purchase_order", document_key=PO, answer_type="purchase_order_ack",
                                   within_seconds=24 * 3600, created_at=SENT))


def _party(identifier: str):
    from edi.common.interchanges import Party

    return Party("ZZ", identifier)


def arrives(db, message_id: str, document: dict, at: datetime, status: str = "emitted") -> None:
    """A supplier document (or a receipt) a route emitted or held at ``at``: on the trail."""
    with db.session() as session:
        message(session, message_id)
        session.add_all(DocumentRef(**row) for row in ref_rows(message_id, "meridian-answers", document, status, at))


def test_every_clock_runs_out_once_when_nothing_comes(db) -> None:
    send_po(db)
    assert late(db, SENT + timedelta(hours=3)) == []
    after_4h = [c.clock for c in late(db, SENT + timedelta(hours=5))]
    assert after_4h == ["functional_ack"]
    # A week on: the 855 (24 h), the ASN (5 days, but the delivery date 2026-03-09 comes first).
    week = SENT + timedelta(days=7)
    clocks = {c.clock: c for c in late(db, week)}
    assert set(clocks) == {"functional_ack", "acknowledgement", "ship_notice"}
    assert clocks["ship_notice"].due_at == datetime(2026, 3, 7, 9, 0, tzinfo=UTC)  # sent + 5 d, before the 9th
    recorded = record_clocks(db, week)
    assert sorted(c.exception for c in recorded) == ["ack_missing_or_negative", "asn_missing", "po_not_acknowledged"]
    assert record_clocks(db, week + timedelta(days=1)) == []  # raised once
    with db.read() as session:
        rows = session.scalars(select(BusinessException).order_by(BusinessException.kind)).all()
        assert [(r.kind, r.severity, r.document_key, r.partner_id) for r in rows] == [
            ("ack_missing_or_negative", "HOLD", PO, "P-0310"), ("asn_missing", "WARN", PO, "P-0310"),
            ("po_not_acknowledged", "WARN", PO, "P-0310")]
        assert "no ship_notice from P-0310 for purchase_order 4500090001: due 2026-03-07 09:00 UTC" in rows[1].message


def test_the_delivery_date_brings_the_asn_clock_forward_and_answers_stop_the_clocks(db) -> None:
    send_po(db, delivery_date="2026-03-04")
    (clock,) = [c for c in late(db, SENT + timedelta(days=3)) if c.clock == "ship_notice"]
    assert clock.due_at == datetime(2026, 3, 4, tzinfo=UTC)
    arrives(db, "m-855", {"document_type": "purchase_order_ack", "po_number": PO}, SENT + timedelta(hours=2))
    arrives(db, "m-856", {"document_type": "ship_notice", "asn_number": "ASN-1", "lines": [{"po_number": PO}]},
            SENT + timedelta(days=1))
    assert [c.clock for c in late(db, SENT + timedelta(days=7))] == ["functional_ack"]  # only the 997 never came
    lines = clocks_for(db, PO, SENT + timedelta(days=7))
    assert lines[0].startswith("clock purchase_order_ack from P-0310: came ") and "ship_notice from P-0310: came" in lines[1]


def test_an_invoice_without_a_receipt(db) -> None:
    send_po(db)
    invoice = {"document_type": "invoice", "invoice_number": "INV-1", "po_number": PO}
    arrives(db, "m-810", invoice, SENT + timedelta(days=2))
    within = [c.clock for c in late(db, SENT + timedelta(days=4), only="INV-1")]
    assert within == []  # the agreement gives the dock 3 days
    (clock,) = late(db, SENT + timedelta(days=5, hours=1), only="INV-1")
    assert (clock.clock, clock.exception, clock.document_key, clock.detail["po_number"]) == (
        "receipt", "invoice_without_receipt", "INV-1", PO)
    # A held receipt (an expired lot at the dock) is no receipt; an emitted one is.
    arrives(db, "m-gr-held", {"document_type": "goods_receipt", "receipt_id": "GR-1", "lines": [{"po_number": PO}]},
            SENT + timedelta(days=3), status="held")
    assert late(db, SENT + timedelta(days=6), only="INV-1") != []
    arrives(db, "m-gr", {"document_type": "goods_receipt", "receipt_id": "GR-2", "lines": [{"po_number": PO}]},
            SENT + timedelta(days=3))
    assert late(db, SENT + timedelta(days=6), only="INV-1") == []


def test_hub_acks_overdue_lists_and_records_the_clocks(db, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from hub.cli import app
    from hub.config import get_settings

    send_po(db)
    arrives(db, "m-810", {"document_type": "invoice", "invoice_number": "INV-1", "po_number": PO},
            SENT + timedelta(hours=2))
    monkeypatch.setenv("HUB_DATABASE_URL", str(db.engine.url))
    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    try:
        listed = CliRunner().invoke(app, ["acks", "overdue", "--at", "2026-03-09T12:00:00"])
        assert listed.exit_code == 0, listed.output
        assert "P-0310     clock    purchase_order 4500090001       ship_notice due 2026-03-07 09:00" in listed.output
        assert "P-0310     clock    invoice INV-1            goods_receipt due 2026-03-05 11:00" in listed.output
        assert "purchase_order_ack due 2026-03-03 09:00" in listed.output  # the 855, as before
    finally:
        get_settings.cache_clear()
    assert [c.clock for c in record_clocks(db, SENT + timedelta(days=7))] == [
        "functional_ack", "acknowledgement", "receipt", "ship_notice"]
