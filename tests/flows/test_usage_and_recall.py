"""transforms/usage.py and transforms/recall.py: an implant used on a case — the checks against the
item master, the documents it becomes (nothing clinical in the charge), the supplier's bill-only
invoice matched against the PO the use raised — and a recall traced through what the store holds."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from hub.canonical import parse_document
from hub.exchange import Exchange
from hub.registry import StepError
from transforms.recall import Wanted, trace
from transforms.usage import implant_log_to_usage_events, usage_to_documents

from .helpers import keep, records, run
from .test_contracts import documents as contract

UDI = "(01)10614141005007(17)290600(10)KT24A(21)SN-000912"


def log_row(line: int = 2, **changes) -> dict:
    row = {"_line": line, "case": "CASE-1", "used_at": datetime.fromisoformat("2026-12-08T10:42:00-05:00"),
           "location": "HOSP1-OR2", "patient_account": "ACCT-TOKEN-1", "barcode": UDI, "qty": Decimal(1), "uom": "EA",
           "charge_code": "2780011", "hcpcs": "C1776", "charge_amount": Decimal("4200.00"), "consigned_by": "P-0310"}
    return row | changes


def events(*rows: dict) -> list[dict]:
    ex = Exchange(message_id="m-or", body=None, format="csv", doctype="implant_log", sender="or-system", filename="or.csv")
    return [parse_document(e).canonical_dict() for e in implant_log_to_usage_events(list(rows), ex)]


def test_an_implant_used_becomes_stock_charge_valuation_and_a_bill_only_po() -> None:
    (usage,) = events(log_row())
    assert (usage["lot_number"], usage["serial_number"], usage["expiration_date"]) == ("KT24A", "SN-000912", "2029-06-30")
    adjustment, charge, po = usage_to_documents(usage, None)
    assert (adjustment["type"], adjustment["qty"], adjustment["serial_number"]) == ("CONSIGNMENT_CONSUMPTION", "-1",
                                                                                     "SN-000912")
    # Billing gets the code, the quantity and the account reference — nothing of the case.
    assert set(charge) == {"document_type", "charge_id", "usage_id", "service_date", "patient_account_ref", "charge_code",
                           "hcpcs", "qty", "uom", "unit_amount", "amount", "department_id"}
    assert (charge["charge_code"], charge["amount"]) == ("2780011", "4200.00")
    assert "ACCT-TOKEN-1" not in repr(parse_document(charge))  # the account stays out of repr and logs
    assert (po["po_type"], po["supplier_partner_id"], po["lines"][0]["serial_numbers"], po["bill_only_case"]) == (
        "BILL_ONLY", "P-0310", ["SN-000912"], {"case_id": "CASE-1"})
    (owned,) = events(log_row(consigned_by=None, charge_code=None))
    assert [d["document_type"] for d in usage_to_documents(owned, None)] == ["inventory_adjustment"]
    with pytest.raises(StepError, match="line 3, column 'UDI'"):
        events(log_row(), log_row(3, barcode="(01)123"))


def test_usage_check_against_the_item_master(flow_db) -> None:
    for document in contract()[0::2]:  # the item master records
        keep(flow_db, document)
    cases = [
        (log_row(), []),
        (log_row(barcode="(01)10614141005007(10)KT24A"), [("implant_usage_without_udi", "serial_number")]),
        (log_row(charge_code=None), [("charge_mapping_missing", "charge")]),
        (log_row(charge_code="9999999"), [("charge_mapping_missing", "charge.cdm_code")]),
        # A suture is not chargeable (no CDM in the contract).
        (log_row(barcode="(01)10614141004413(10)L1"), [("charge_mapping_missing", "charge.cdm_code")]),
    ]
    for row, expected in cases:
        (usage,) = events(row)
        [ex] = run("usage_check", flow_db, usage)
        assert [(e["kind"], e["field_path"]) for e in ex.exceptions] == expected, row
        assert ex.held == bool(expected)
    assert all("ACCT-TOKEN" not in r.message for r in records(flow_db))


def test_the_bill_only_invoice_names_what_was_used(flow_db) -> None:
    (usage,) = events(log_row())
    po = parse_document(usage_to_documents(usage, None)[2]).canonical_dict()
    keep(flow_db, po)
    invoice = {"document_type": "invoice", "invoice_number": "INV-BO-1", "supplier_partner_id": "P-0310",
               "invoice_type": "INVOICE", "invoice_date": "2026-12-09", "po_number": po["po_number"], "currency": "USD",
               "total_amount": "1450.00", "lines": [{"line_number": "1", "item_ids": [{"scheme": "GTIN",
                                                                                      "value": "10614141005007"}],
                                                    "qty_invoiced": "1", "uom": "EA", "unit_price": "1450.00",
                                                    "lot_numbers": ["KT24A"], "serial_numbers": ["SN-000912"]}]}
    [ok] = run("po_match", flow_db, invoice, three_way=True)  # no receipt: the ERP books one from the PO
    assert not ok.exceptions and ok.body["match_status"] == "MATCHED"
    invoice["lines"][0]["serial_numbers"] = ["SN-000999"]
    [wrong] = run("po_match", flow_db, invoice, three_way=True)
    assert [(e["kind"], e["field_path"]) for e in wrong.exceptions] == [("bill_only_incomplete", "lines.0.serial_numbers")]


def test_a_recall_traced_through_the_store(flow_db) -> None:
    gtin = ("GTIN", "10614141005007")
    keep(flow_db, parse_document({
        "document_type": "goods_receipt", "receipt_id": "GR-1", "receipt_datetime": "2026-12-05T09:10:00+00:00",
        "receiving_location_id": "DOCK", "supplier_partner_id": "P-0310", "source": "DOCK_SCAN",
        "lines": [{"po_number": "45", "item_ids": [{"scheme": "GTIN", "value": gtin[1]}], "qty_received": "3",
                   "uom": "EA", "location_id": "OR-CABINET", "lot_allocations": [
                       {"lot_number": "KT24A", "qty_base": "2"}, {"lot_number": "KT25B", "qty_base": "1"}]}]}).canonical_dict())
    keep(flow_db, parse_document({
        "document_type": "transfer_order", "transfer_id": "TR-1", "requested_at": "2026-12-06T09:00:00+00:00",
        "from_location_id": "OR-CABINET", "to_location_id": "OR-4", "lines": [
            {"line_number": "1", "item_ids": [{"scheme": "GTIN", "value": gtin[1]}], "qty": "1", "uom": "EA",
             "lot_number": "KT24A"}]}).canonical_dict())
    (usage,) = events(log_row(location="OR-4"))
    keep(flow_db, usage)
    hits = trace(flow_db, Wanted({gtin}, lots={"KT24A"}))
    assert [(h.kind, h.ref, h.location_id, h.qty, h.confidence) for h in hits] == [
        ("RECEIVED", "GR-1", "OR-CABINET", Decimal(2), "CONFIRMED"),
        ("TRANSFERRED", "TR-1", "OR-CABINET", Decimal(1), "CONFIRMED"),
        ("USED", "USE-CASE-1-2", "OR-4", Decimal(1), "CONFIRMED"),
        ("ON_HAND", "inferred", "OR-CABINET", Decimal(1), "INFERRED")]  # 2 received, 1 moved; OR-4: 1 in, 1 used
    assert hits[2].case == "CASE-1"
    assert len(trace(flow_db, Wanted({gtin}))) == 6  # every lot: KT25B received and on hand too
    assert trace(flow_db, Wanted({("GTIN", "10614141004413")}, lots={"KT24A"})) == []
