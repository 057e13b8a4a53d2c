"""transforms/replenishment.py: a par breach decided by the organisation's rules — a transfer from
a site with stock, an expedited PO for a critical item, a standard PO at the contract price — and
the breach nothing can fill held for review."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from hub.canonical import ParBreach, parse_document
from transforms.replenishment import Rule, Source, decide, order_quantity

from .helpers import keep, records, run
from .test_contracts import documents as contract

RULES = [Rule(name="transfer", method="TRANSFER", lead_time=0),
         Rule(name="expedite-critical", method="EXPEDITED_PO", critical=True, lead_time=1),
         Rule(name="contract-po", method="STANDARD_PO", lead_time=3)]
DRESSING = {"scheme": "GTIN", "value": "10614141004529"}


def breach(critical: bool = True, on_hand: str = "3", item: dict = DRESSING) -> dict:
    return {"document_type": "par_breach", "breach_id": "PAR-1", "detected_at": "2026-03-02T06:40:00-05:00",
            "location_id": "HOSP1-ICU3-PAR", "item_ids": [item], "on_hand": on_hand, "par_level": "40",
            "reorder_point": "12", "uom": "EA", "critical": critical}


def test_the_first_rule_that_can_fill_the_breach_decides() -> None:
    model = ParBreach.model_validate(breach())
    entry = {"supplier_partner_id": "P-0310", "price": "38.75", "price_uom": "BX",
             "pack_conversions": [{"uom": "BX", "factor_to_base": "10"}]}
    today = date(2026, 3, 2)
    rule, source, qty, uom = decide(model, RULES, [Source("HOSP2", Decimal(120))], entry, today)
    assert (rule.name, source.location_id, qty, uom) == ("transfer", "HOSP2", Decimal(37), "EA")
    rule, _, qty, uom = decide(model, RULES, [Source("HOSP2", Decimal(20))], entry, today)  # 20 < 37 needed
    assert (rule.name, qty, uom) == ("expedite-critical", Decimal(4), "BX")  # 37 EA → 4 boxes of 10
    rule, *_ = decide(ParBreach.model_validate(breach(critical=False)), RULES, [], entry, today)
    assert rule.name == "contract-po"
    assert decide(model, RULES, [], None, today) is None
    assert order_quantity(Decimal(37), {"price_uom": "CA"}, "EA") is None  # no pack: cannot be ordered in cases


def test_a_breach_is_a_breach() -> None:
    with pytest.raises(ValidationError, match="above the reorder point 12: not a breach"):
        ParBreach.model_validate(breach(on_hand="13"))


def test_the_step_emits_the_decision_and_its_order(flow_db) -> None:
    for document in contract()[1::2]:
        keep(flow_db, document)
    keep(flow_db, parse_document({"document_type": "inventory_snapshot", "snapshot_id": "STOCK-HOSP2",
                                  "as_of": "2026-03-02T05:00:00+00:00", "reporter_partner_id": "inventory-system",
                                  "location_id": "HOSP2-CENTRAL", "basis": "BOOK", "lines": [
                                      {"item_ids": [DRESSING], "qty_on_hand": "180", "qty_available": "120",
                                       "uom": "EA"}]}).canonical_dict())
    config = {"rules": RULES, "buyer": {"name": "General Hospital", "gln": "0614141000012"}}
    decision, transfer = run("replenishment_decide", flow_db, breach(), **config)
    assert (decision.body["method"], decision.body["source_location_id"], decision.body["expected_receipt_date"]) == (
        "TRANSFER", "HOSP2-CENTRAL", "2026-03-02")
    assert (transfer.body["document_type"], transfer.body["lines"][0]["qty"]) == ("transfer_order", "37")
    suture = {"scheme": "GTIN", "value": "10614141004413"}
    decision, po = run("replenishment_decide", flow_db, breach(item=suture), **config)
    assert (decision.body["method"], decision.body["unit_price"], decision.body["expected_receipt_date"]) == (
        "EXPEDITED_PO", "45.10", "2026-03-03")
    assert po.body["lines"][0]["qty"] == "2" and po.body["notes"][0].startswith("EXPEDITE")  # 37 EA: 2 boxes of 36
    parse_document(po.body)  # a valid canonical purchase order
    [held] = run("replenishment_decide", flow_db, breach(item={"scheme": "GTIN", "value": "10614141004642"}), **config)
    assert held.held and [r.kind for r in records(flow_db)] == ["replenishment_unfilled"]
