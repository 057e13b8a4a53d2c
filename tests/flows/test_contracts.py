"""transforms/contracts.py: the sourcing platform's contract file → item master records and
contract prices; catalog_check before anyone relies on them; contract_price wherever a price is
needed (a PO going out, an implant valued) or billed (an invoice)."""

from __future__ import annotations

import csv
import json
from datetime import date, datetime
from decimal import Decimal

from hub.canonical import parse_document
from hub.exchange import Exchange
from tests.conftest import ROOT
from transforms.contracts import catalog_rows_to_documents, contract_entry

from .helpers import keep, records, run

CLOCK = datetime.fromisoformat("2026-01-02T10:00:00+00:00")


def contract_rows() -> list[dict]:
    """The example contract as the route's csv step reads it."""
    rows = []
    with open(ROOT / "examples" / "contracts" / "meridian-2026.csv", newline="") as f:
        for n, row in enumerate(csv.DictReader(f), start=2):
            rows.append({"_line": n, "supplier": row["Supplier"], "contract": row["Contract"], "tier": row["Tier"],
                         "vendor_part": row["Vendor Part"], "gtin": row["GTIN"], "description": row["Description"],
                         "item_type": row["Item Type"], "price_uom": row["Price UOM"], "price": Decimal(row["Price"]),
                         "currency": row["Currency"], "valid_from": date.fromisoformat(row["Valid From"]),
                         "valid_to": date.fromisoformat(row["Valid To"]), "base_uom": row["Base UOM"],
                         "units_per": Decimal(row["Units Per"]), "lot": row["Lot Controlled"],
                         "serial": row["Serial Controlled"], "expiry": row["Expiry Controlled"],
                         "cdm": row["CDM"] or None, "hcpcs": row["HCPCS"] or None, "action": row["Action"]})
    return rows


def documents() -> list[dict]:
    """The transform's documents, in their canonical JSON form (what the route keeps)."""
    ex = Exchange(message_id="m-contract", body=None, format="csv", doctype="contract_prices", sender="sourcing",
                  filename="meridian-2026.csv")
    return [parse_document(d).canonical_dict() for d in catalog_rows_to_documents(contract_rows(), ex)]


def test_each_row_is_an_item_and_a_contract_price() -> None:
    docs = [parse_document(d) for d in documents()]
    assert [d.document_type for d in docs] == ["item", "price_catalog_entry"] * 4
    implant, price = docs[6], docs[7]
    assert (implant.item_id, implant.item_type.value, implant.serial_controlled, implant.cdm_code, implant.chargeable) == (
        "P-0310:MS-TK220", "DEVICE_IMPLANT", True, "2780011", True)
    assert (price.catalog_id, price.contract_ref, price.price, price.price_uom, price.price_type.value) == (
        "GPO-MS-2026:MS-TK220", "GPO-MS-2026", Decimal("1450.00"), "EA", "CONTRACT")
    assert docs[2].lot_controlled and not docs[4].lot_controlled  # dressings lot-controlled, gloves not
    assert docs[3].pack_conversions[0].factor_to_base == 10 and docs[0].meta.source_ref == "meridian-2026.csv line 2"


def test_catalog_check_holds_what_cannot_be_relied_on(flow_db) -> None:
    item, entry = documents()[0:2]
    [ok] = run("catalog_check", flow_db, entry, clock=CLOCK)
    assert not ok.held and records(flow_db) == []
    keep(flow_db, entry)
    cases = [
        ({"supplier_partner_id": "P-9999"}, [("unknown_partner", "supplier_partner_id")], True),
        ({"price_uom": "ROLLS"}, [("unknown_uom", "price_uom")], True),
        ({"valid_to": "2025-12-31", "valid_from": "2025-01-01"}, [("price_catalog_anomaly", "valid_to")], False),
        # A new price with effect before it arrived, and a jump of more than 10 %: queued, not held.
        ({"catalog_id": "GPO-MS-2027:MS-4471", "price": "52.00", "valid_from": "2026-01-01"},
         [("price_catalog_anomaly", "valid_from"), ("price_catalog_anomaly", "price")], False),
        ({"catalog_id": "GPO-MS-2027:MS-4471", "price": "46.00", "valid_from": "2026-02-01"}, [], False),
    ]
    for change, expected, held in cases:
        [ex] = run("catalog_check", flow_db, {**entry, **change}, clock=CLOCK)
        assert [(e["kind"], e["field_path"]) for e in ex.exceptions] == expected, change
        assert ex.held is held
    jump = next(r for r in records(flow_db) if r.field_path == "price")
    assert jump.severity == "WARN" and "52.00 is +15.3 % from contract GPO-MS-2026's 45.10" in jump.message
    [unknown] = run("catalog_check", flow_db, {**item, "identifiers": [
        {"scheme": "VENDOR_PART", "value": "X-1", "partner_id": "P-9999"}], "base_uom": "XX"}, clock=CLOCK)
    assert [e["kind"] for e in unknown.exceptions] == ["unknown_partner", "unknown_uom"] and unknown.held


def test_contract_price_prices_and_checks_later_documents(flow_db) -> None:
    for document in documents()[1::2]:
        keep(flow_db, document)
    assert contract_entry(flow_db, "P-0310", {("GTIN", "10614141004529")}, "BX", date(2026, 3, 2))["price"] == "38.75"
    assert contract_entry(flow_db, "P-0310", {("GTIN", "10614141004529")}, "BX", date(2028, 3, 2)) is None  # expired
    po = parse_document(json.loads((ROOT / "hub" / "simulator" / "example-order.json").read_text()))
    body = po.canonical_dict()
    body["order_date"] = "2026-03-02"
    body["lines"][1].pop("unit_price")           # the ERP left the price to the contract
    body["lines"][2]["unit_price"] = "66.00"     # above the contract's 64.00
    [ex] = run("contract_price", flow_db, body, on_exception="forward")
    lines = ex.body["lines"]
    assert [(line.get("unit_price"), line.get("contract_price")) for line in lines] == [
        ("45.10", "45.10"), ("38.75", "38.75"), ("66.00", "64.00")]
    assert [(e["kind"], e["field_path"]) for e in ex.exceptions] == [("contract_price_mismatch", "lines.2.unit_price")]
    assert not ex.held  # forward: the PO goes out, the difference is on the review queue
    # An implant used on a case is valued at its contract cost.
    adjustment = {"document_type": "inventory_adjustment", "adjustment_id": "ADJ-1", "type": "ISSUE_TO_PATIENT",
                  "item_ids": [{"scheme": "GTIN", "value": "10614141005007"}], "qty": "-1", "uom": "EA",
                  "reason_code": "IMPLANT_USED", "occurred_at": "2026-03-02T10:00:00+00:00"}
    [valued] = run("contract_price", flow_db, adjustment)
    assert (valued.body["unit_cost"], valued.body["extended_value"], valued.body["currency"]) == ("1450.00", "-1450.00", "USD")
