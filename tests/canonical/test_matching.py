"""store_document, po_match, receipt_match and recall_check on real PostgreSQL: the PO the hub
sent is kept; the supplier's ack, ship notice and invoice are matched against it (domain.md C
#20-#24, #33, #35, #36); a goods receipt against the stored ship notice (C #31); lots against
open recalls (C #30, #43)."""

from __future__ import annotations

import secrets
from decimal import Decimal

import pytest

from hub.canonical import PurchaseOrder
from hub.documents import latest_document
from hub.registry import RouteEnv, StepError
from hub.store import Message, utcnow

from .test_steps import example, exchange, records, run


@pytest.fixture
def env(db) -> RouteEnv:
    return RouteEnv(route_name="supplier-in", services={"db": db})


def stored_message(db) -> str:
    """A message row for the documents to hang on (their message_id is a foreign key)."""
    message_id = f"msg-{secrets.token_hex(6)}"
    with db.session() as session:
        session.add(Message(id=message_id, received_at=utcnow(), format="json", doctype="purchase_order",
                            sender="erp", channel="test", headers={}, correlation_id=message_id, sha256="0" * 64,
                            size=0, raw=b"", status="received"))
    return message_id


def send_po(env: RouteEnv, db, **changes) -> dict:
    """The example PO (4500012345: line 1 45.10 / BX, line 2 12.50 / CS) through store_document."""
    po = {**example("purchase_order"), **changes}
    ex = exchange(PurchaseOrder.model_validate(po))
    ex.message_id = stored_message(db)
    [out] = run("store_document", env, ex)
    assert out.body is ex.body  # passed on unchanged
    return po


def test_the_stored_po_is_the_newest_of_its_number(env: RouteEnv, db) -> None:
    send_po(env, db)
    changed = send_po(env, db, notes=["second version"])
    assert latest_document(db, "purchase_order", "4500012345")["notes"] == changed["notes"]
    assert latest_document(db, "purchase_order", "NO-SUCH") is None


def test_an_ack_a_ship_notice_and_an_invoice_of_the_po_pass(env: RouteEnv, db) -> None:
    send_po(env, db)
    for name in ("purchase_order_ack", "ship_notice", "invoice"):
        [ex] = run("po_match", env, exchange(example(name)))
        assert not ex.held, (name, ex.exceptions)
    # The example 855 backorders line 2: recorded for the buyer (C #18, WARN), the ack goes on.
    assert [(r.kind, r.severity, r.field_path) for r in records(db)] == [
        ("line_rejected_or_backordered", "WARN", "lines.1.status")]


def test_documents_for_a_po_the_hub_never_sent(env: RouteEnv, db) -> None:
    for name, kind, field in (("purchase_order_ack", "ack_unknown_po", "po_number"),
                              ("ship_notice", "asn_unknown_po", "lines.0.po_number"),
                              ("invoice", "invoice_unknown_po", "po_number")):
        [ex] = run("po_match", env, exchange(example(name)))
        assert ex.held and [(e["kind"], e["field_path"]) for e in ex.exceptions] == [(kind, field)], name
    assert "purchase order 4500012345 is not one the hub sent" in records(db)[0].message


def test_a_line_not_on_the_po(env: RouteEnv, db) -> None:
    send_po(env, db)
    asn = example("ship_notice")
    asn["lines"][0] |= {"po_line_number": "9", "item_ids": [{"scheme": "VENDOR_PART", "value": "OTHER-1"}]}
    [ex] = run("po_match", env, exchange(asn))
    assert ex.held
    (row,) = records(db)
    assert (row.kind, row.field_path, row.offending_value) == ("asn_item_not_on_po", "lines.0", "9")
    # Without a line number, a shared identifier finds the PO line.
    asn["lines"][0] |= {"po_line_number": None, "item_ids": [{"scheme": "GTIN", "value": "10612345678904"}]}
    [ex] = run("po_match", env, exchange(asn))
    assert not ex.held


def test_invoice_prices_outside_the_tolerance(env: RouteEnv, db) -> None:
    send_po(env, db)
    invoice = example("invoice")
    invoice["lines"][0] |= {"unit_price": "46.00", "line_amount": "92.00"}
    [within] = run("po_match", env, exchange(invoice), price_tolerance_pct=Decimal(2))  # 2 % of 45.10 = 0.902
    assert not within.held
    [outside] = run("po_match", env, exchange(invoice), price_tolerance_pct=Decimal(1))
    assert outside.held
    (row,) = records(db)
    assert (row.kind, row.severity, row.field_path, row.detail["po_price"]) == (
        "invoice_price_out_of_tolerance", "HOLD", "lines.0.unit_price", "45.10")
    assert "lines.0.unit_price 46.00 differs from purchase order 4500012345 line 1 price 45.10 by more than" in row.message


def test_prices_in_other_units_are_not_compared_and_other_documents_pass(env: RouteEnv, db) -> None:
    send_po(env, db)
    invoice = example("invoice")
    invoice["lines"][0] |= {"unit_price": "451.00", "uom": "CA", "line_amount": "902.00"}
    [ex] = run("po_match", env, exchange(invoice))
    # No price exception: the unit differs, and that is the problem (C #15).
    assert [(e["kind"], e["field_path"]) for e in ex.exceptions] == [("uom_mismatch", "lines.0.uom")]
    [ex] = run("po_match", env, exchange(example("inventory_adjustment")))
    assert not ex.held and [r.kind for r in records(db)] == ["uom_mismatch"]


def test_store_document_refuses_what_is_not_a_document(env: RouteEnv, db) -> None:
    with pytest.raises(StepError, match="store_document needs a canonical document"):
        run("store_document", env, exchange(b"raw"))


def ship(env: RouteEnv, db, asn: dict) -> None:
    """A ship notice a supplier route stored (store_document) and emitted (its trail rows)."""
    from sqlalchemy import insert

    from hub.documents import ref_rows
    from hub.store import DocumentRef

    ex = exchange(asn)
    ex.message_id = stored_message(db)
    run("store_document", env, ex)
    with db.session() as session:
        session.execute(insert(DocumentRef), ref_rows(ex.message_id, "supplier-in", asn, "emitted", utcnow()))


def asn_of(number: str, qty: str, uom: str = "BX") -> dict:
    asn = {**example("ship_notice"), "asn_number": number}
    asn["lines"][0] |= {"qty_shipped": qty, "uom": uom, "lots": [{"lot_number": "A1234"}]}
    return asn


def test_ship_notices_beyond_the_ordered_quantity(env: RouteEnv, db) -> None:
    """PO line 1 orders 2 BX: a first ASN of 1 passes, a second of 2 (3 in all) does not, unless
    over-shipping is allowed; a resend of the first ASN is not counted twice."""
    send_po(env, db)
    first = asn_of("ASN-A", "1")
    [ex] = run("po_match", env, exchange(first))
    assert not ex.held
    ship(env, db, first)
    [again] = run("po_match", env, exchange(asn_of("ASN-A", "2")))  # the same ASN, corrected: 2 in all
    assert not again.held, again.exceptions
    [second] = run("po_match", env, exchange(asn_of("ASN-B", "2")))
    assert second.held
    (row,) = records(db)
    assert (row.kind, row.field_path, row.offending_value) == ("asn_qty_exceeds_open", "lines.0.qty_shipped", "2")
    assert row.detail == {"step": "po_match", "ordered": "2", "shipped_before": "1", "shipped_total": "3"}
    assert "3 shipped in all for purchase order 4500012345 line 1 (1 before this ship notice), 2 ordered" in row.message
    [tolerated] = run("po_match", env, exchange(asn_of("ASN-B", "2")), over_ship_pct=Decimal(50))
    assert not tolerated.held
    [other_unit] = run("po_match", env, exchange(asn_of("ASN-C", "5", uom="CA")))  # not comparable: not counted
    # ... and held for the unit itself (C #15), not for the quantity.
    assert [e["kind"] for e in other_unit.exceptions] == ["uom_mismatch"]


def test_a_po_sent_to_another_supplier_is_not_theirs_to_answer(env: RouteEnv, db) -> None:
    from hub.partners import PartnerRegistry, read_partners_file

    from .conftest import ROOT

    PartnerRegistry(db).load(read_partners_file(ROOT / "routes" / "partners.yaml"))
    send_po(env, db)  # to P-0042 (Acme, ISA id ACMEMED)
    [ex] = run("po_match", env, exchange({**example("invoice"), "supplier_partner_id": "ACMEMED"}))
    assert not ex.held, ex.exceptions  # Acme under its ISA id: the same partner
    [ex] = run("po_match", env, exchange({**example("invoice"), "supplier_partner_id": "P-0107"}))
    assert ex.held
    (row,) = records(db)
    assert (row.kind, row.field_path) == ("invoice_unknown_po", "po_number")
    assert "purchase order 4500012345 was sent to P-0042, not to P-0107" in row.message


def test_per_hundred_prices_are_compared_per_unit(env: RouteEnv, db) -> None:
    send_po(env, db)
    invoice = example("invoice")
    invoice["lines"][0] |= {"unit_price": "4510", "price_basis": "HP"}  # 45.10 each
    [ex] = run("po_match", env, exchange(invoice))
    assert not ex.held, ex.exceptions


# -- receipt_match (C #31) ------------------------------------------------------------------------


def test_a_receipt_of_what_the_asn_announced_passes(env: RouteEnv, db) -> None:
    ship(env, db, example("ship_notice"))  # ASN778812: PO 4500012345 line 1, 2 BX, lots A1234 + A1299
    [ex] = run("receipt_match", env, exchange(example("goods_receipt")))
    assert not ex.held and ex.exceptions == [] and records(db) == []


def test_receipt_differences_are_recorded_but_the_receipt_goes_on(env: RouteEnv, db) -> None:
    ship(env, db, example("ship_notice"))
    receipt = example("goods_receipt")
    receipt["lines"][0] |= {"qty_received": "1", "qty_accepted": "1", "base_qty": "10",
                            "lot_allocations": [{"lot_number": "Z9999", "qty_base": "10"}]}
    [ex] = run("receipt_match", env, exchange(receipt))
    assert not ex.held  # WARN: posted, queued for review
    assert [(r.kind, r.severity, r.field_path) for r in records(db)] == [
        ("receipt_differs_from_asn", "WARN", "lines.0.qty_received"),
        ("receipt_differs_from_asn", "WARN", "lines.0.lot_allocations")]
    assert "1 received, 2 shipped on ship notice ASN778812" in records(db)[0].message
    assert "lot(s) Z9999 received, ship notice ASN778812 announced A1234, A1299" in records(db)[1].message
    [within] = run("receipt_match", env, exchange({**receipt, "receipt_id": "GR-2"}), qty_tolerance_pct=Decimal(50))
    assert [e["field_path"] for e in within.exceptions] == ["lines.0.lot_allocations"]


def test_an_unreceived_asn_line_an_unknown_item_and_an_unknown_asn(env: RouteEnv, db) -> None:
    ship(env, db, example("ship_notice"))
    receipt = example("goods_receipt")
    receipt["lines"][0] |= {"po_line_number": "7", "item_id": "OTHER"}
    [ex] = run("receipt_match", env, exchange(receipt))
    assert [e["field_path"] for e in ex.exceptions] == ["lines.0", "asn_lines.0"]
    assert "ship notice ASN778812 line 1 (PO 4500012345 line 1) was not received" in ex.exceptions[1]["message"]
    [unknown] = run("receipt_match", env, exchange({**example("goods_receipt"), "asn_number": "ASN-NOPE"}))
    assert [e["field_path"] for e in unknown.exceptions] == ["asn_number"]
    [no_asn] = run("receipt_match", env, exchange({**example("goods_receipt"), "asn_number": None}))
    assert no_asn.exceptions == []


# -- recall_check (C #30, #43) ------------------------------------------------------------------


def store_recall(env: RouteEnv, db, **changes) -> None:
    """The example recall RC-2025-0004: item ST-10022 (GTIN 00612345678907), lot A1234."""
    ex = exchange({**example("recall"), **changes})
    ex.message_id = stored_message(db)
    run("store_document", env, ex)


def test_a_recalled_lot_holds_the_ship_notice_receipt_and_usage(env: RouteEnv, db) -> None:
    store_recall(env, db)
    asn = example("ship_notice")
    asn["lines"][0]["item_id"] = "ST-10022"  # as the crosswalk step resolves it
    [ex] = run("recall_check", env, exchange(asn))
    assert ex.held and [(e["kind"], e["field_path"], e["offending_value"]) for e in ex.exceptions] == [
        ("lot_on_recall", "lines.0.lots.0", "A1234")]  # A1299 is not recalled
    assert "lot A1234 is on recall RC-2025-0004 (Z-1234-2025, CLASS_II): Quarantine and return" in \
        ex.exceptions[0]["message"]
    [receipt] = run("recall_check", env, exchange(example("goods_receipt")))
    assert [e["field_path"] for e in receipt.exceptions] == ["lines.0.lot_allocations.0"]
    usage = {**example("usage_event"), "item_id": "ST-10022", "lot_number": "A1234"}
    [used] = run("recall_check", env, exchange(usage))
    assert used.held and [(e["kind"], e["field_path"]) for e in used.exceptions] == [
        ("usage_of_expired_or_recalled_lot", "lot_number")]


def test_closed_recalls_other_lots_and_whole_item_recalls(env: RouteEnv, db) -> None:
    store_recall(env, db, status="CLOSED")
    [ex] = run("recall_check", env, exchange(example("goods_receipt")))
    assert ex.exceptions == []
    whole = example("recall")
    whole["lines"][0] |= {"lot_numbers": [], "expiry_to": "2027-10-31"}  # every lot expiring by then
    store_recall(env, db, recall_id="RC-2", lines=whole["lines"])
    [ex] = run("recall_check", env, exchange(example("goods_receipt")))  # A1234 exp 2027-09-30, A1299 2027-12-31
    assert [e["field_path"] for e in ex.exceptions] == ["lines.0.lot_allocations.0"]


# -- three-way: invoiced against received (C #34) ------------------------------------------------


def keep(env: RouteEnv, db, document: dict) -> None:
    """A document a route stored (store_document) and emitted (its trail rows)."""
    ship(env, db, document)


def test_three_way_invoiced_beyond_received_and_accepted(env: RouteEnv, db) -> None:
    """PO line 1: 2 BX ordered. Received 2, accepted 1: an invoice for 2 is beyond what was
    accepted; once a second receipt accepts 1 more, the same invoice passes; a second invoice
    for the line is beyond again. Without three_way nothing of this is checked."""
    send_po(env, db)
    invoice = example("invoice")  # line 1: 2 BX at 45.10
    [unchecked] = run("po_match", env, exchange(invoice))
    assert not unchecked.held
    receipt = example("goods_receipt")
    receipt["lines"][0] |= {"qty_accepted": "1", "qty_rejected": "1"}
    keep(env, db, receipt)
    [ex] = run("po_match", env, exchange(invoice), three_way=True)
    assert ex.held
    (row,) = records(db)
    assert (row.kind, row.field_path, row.detail["received"]) == ("invoice_qty_exceeds_received", "lines.0.qty_invoiced", "1")
    assert ("2 invoiced in all for purchase order 4500012345 line 1 (0 before this invoice), 1 received and "
            "accepted (BX)") in row.message  # the PO line's unit: the example PO was not converted
    keep(env, db, {**example("goods_receipt"), "receipt_id": "GR-2", "lines": [
        {**example("goods_receipt")["lines"][0], "qty_received": "1", "qty_accepted": "1", "base_qty": "10",
         "lot_allocations": [{"lot_number": "A1234", "qty_base": "10"}]}]})
    [ok] = run("po_match", env, exchange(invoice), three_way=True)
    assert not ok.held, ok.exceptions
    keep(env, db, invoice)
    [second] = run("po_match", env, exchange({**invoice, "invoice_number": "INV-2"}), three_way=True)
    assert second.held and "(2 before this invoice)" in second.exceptions[0]["message"]
    # The ERP is told the outcome with the invoice: matched, or an exception.
    assert ok.body["match_status"] == "MATCHED" and second.body["match_status"] == "EXCEPTION"


def ack_of(*lines: dict, **header) -> dict:
    """An 855 for the example PO (line 1: 2 BX at 45.10; line 2: 10 CS at 12.50)."""
    ack = {**example("purchase_order_ack"), **header}
    ack["lines"] = [{"po_line_number": "1", "status": "ACCEPTED", "status_raw": "IA", "qty": "2", "uom": "BX",
                     "unit_price": "45.10"} | line for line in lines]
    return ack


def test_what_an_acknowledgement_says_of_each_line(env: RouteEnv, db) -> None:
    """Backordered or rejected lines are told to the buyer (C #18, WARN: the ack goes on); a
    substitute (C #19) and a quantity other than ordered without a backorder (C #20) hold it."""
    send_po(env, db)
    cases = [
        (ack_of({}), []),
        (ack_of({"status": "BACKORDERED", "status_raw": "IB"}), [("line_rejected_or_backordered", "lines.0.status")]),
        (ack_of({"status": "REJECTED", "status_raw": "R2", "reason_code": "R2"}),
         [("line_rejected_or_backordered", "lines.0.status")]),
        # EANCOM: a changed line (LIN 1229 3) with QTY+83.
        (ack_of({"status": "CHANGED", "status_raw": "3", "qty": "0", "qty_backordered": "2"}),
         [("line_rejected_or_backordered", "lines.0.qty_backordered")]),
        (ack_of({"qty": "1"}), [("ack_differs", "lines.0.qty")]),
        # Two ack lines of one PO line add up (1 + 1 = 2 ordered).
        (ack_of({"qty": "1"}, {"qty": "1", "status": "RESCHEDULED", "status_raw": "DR"}), []),
        (ack_of({"status": "SUBSTITUTED", "status_raw": "IS", "substitute_item_ids": [
            {"scheme": "VENDOR_PART", "value": "12399"}]}), [("substitution", "lines.0.substitute_item_ids")]),
        # An ORDRSP names the substitute as the line's item.
        (ack_of({"status": "CHANGED", "status_raw": "3", "item_ids": [{"scheme": "GTIN", "value": "10614141004659"}]}),
         [("substitution", "lines.0.substitute_item_ids")]),
        (ack_of({"uom": "EA", "qty": "20", "unit_price": "4.51"}), [("uom_mismatch", "lines.0.uom")]),
        (ack_of(ack_type="REJECTED", ack_type_raw="RJ") | {"lines": []}, [("line_rejected_or_backordered", "ack_type")]),
    ]
    for ack, expected in cases:
        [ex] = run("po_match", env, exchange(ack))
        assert [(e["kind"], e["field_path"]) for e in ex.exceptions] == expected, ack["lines"]
        severities = {e["severity"] for e in ex.exceptions}
        assert ex.held == bool(severities - {"WARN"})


def test_another_item_shipped_or_billed_against_a_po_line(env: RouteEnv, db) -> None:
    send_po(env, db)
    asn = asn_of("ASN-S", "2")
    asn["lines"][0]["item_ids"] = [{"scheme": "GTIN", "value": "10614141004659"}]  # the line's number, not its item
    [ex] = run("po_match", env, exchange(asn))
    assert [(e["kind"], e["offending_value"]) for e in ex.exceptions] == [("asn_item_not_on_po", "GTIN:10614141004659")]
    invoice = example("invoice")
    invoice["lines"][0]["item_ids"] = [{"scheme": "VENDOR_PART", "value": "OTHER-9", "partner_id": "P-0042"}]
    [ex] = run("po_match", env, exchange(invoice))
    assert [e["kind"] for e in ex.exceptions] == ["invoice_line_not_on_po"]
    assert "is not the item of purchase order 4500012345 line 1" in ex.exceptions[0]["message"]
