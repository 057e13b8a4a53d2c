"""Replenishment from a par breach: the organisation's rules decide between a transfer from a
site with stock, a standard PO at the contract price and an expedited order, and the inventory
system is told what was decided and when the goods are expected.

Why rules as route data: which method wins is policy, not code — a surge makes wound care
critical, a second site may hold stock above its own par, a supplier's contract sets the price.
The rules are listed in the route (``replenishment_decide: {rules: [...]}``) and tried in order;
the first that can fill the breach decides:

- ``TRANSFER``: another location holds the item above its own par (``qty_available`` of the
  stored inventory snapshots, route ``site-stock``) — at least what is needed; the one with most;
- ``STANDARD_PO`` / ``EXPEDITED_PO``: an active contract for the item (``contract_price``,
  transforms/contracts.py) gives the supplier, the price and the pack; the quantity is rounded up
  to whole price units (boxes of 10 for eaches short).

A rule may be limited to critical items (``critical: true``) or to the others (``false``); its
``lead_time`` (days) gives the expected receipt date. What no rule can fill is
``replenishment_unfilled`` (HOLD). The par-breach and site-stock files are read by the two
transforms here; the decision is ``decide``, a pure function of the breach, the stock elsewhere,
the contract and the rules.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field

from hub.business_exceptions import record_exception
from hub.canonical import ParBreach, parse_document
from hub.documents import stored_all
from hub.exchange import Exchange
from hub.registry import Step, StepError, StrictModel, step, transform
from transforms.contracts import contract_entry
from transforms.receiving import aware

YES = {"y", "yes", "true", "1", "x"}


@transform("replenishment.par_rows_to_breaches", emits="par_breach")
def par_rows_to_breaches(rows: list[dict[str, Any]], ex: Exchange) -> list[dict[str, Any]]:
    """Rows of the inventory system's par-level alerts (parsed by the csv step) → ParBreaches.

    Row keys: detected_at, location, gtin, on_hand, par_level, uom; optional facility,
    description, reorder_point, critical (yes/no), note. The breach id is stable for the
    message and line, so a re-run decides the same breach once."""
    if not isinstance(rows, list) or not rows:
        raise StepError("par breaches: expected the rows of a parsed file (put a parse: csv step first)")
    return [{k: v for k, v in {
        "document_type": "par_breach",
        "breach_id": f"PAR-{ex.message_id[:8]}-{row.get('_line')}",
        "detected_at": aware(row["detected_at"]).isoformat(),
        "facility_id": row.get("facility"),
        "location_id": row["location"],
        "item_ids": [{"scheme": "GTIN", "value": row["gtin"]}],
        "description": row.get("description"),
        "on_hand": row["on_hand"],
        "par_level": row["par_level"],
        "reorder_point": row.get("reorder_point"),
        "uom": row["uom"],
        "critical": str(row.get("critical") or "").lower() in YES,
        "note": row.get("note"),
        "meta": {"source": f"{ex.format}:{ex.sender}", "source_ref": f"{ex.filename or ex.message_id} line "
                 f"{row.get('_line')}", "raw_ref": ex.message_id},
    }.items() if v is not None} for row in rows]


@transform("replenishment.stock_rows_to_snapshots", emits="inventory_snapshot")
def stock_rows_to_snapshots(rows: list[dict[str, Any]], ex: Exchange) -> list[dict[str, Any]]:
    """Rows of the sites' stock report (location, gtin, on_hand, par_level, uom; as_of) → one
    InventorySnapshot per location (``STOCK-<location>``: the newest replaces the last), each
    line's ``qty_available`` what the location holds above its own par."""
    if not isinstance(rows, list) or not rows:
        raise StepError("site stock: expected the rows of a parsed file (put a parse: csv step first)")
    by_location: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_location.setdefault(row["location"], []).append(row)
    return [{
        "document_type": "inventory_snapshot",
        "snapshot_id": f"STOCK-{location}",
        "as_of": aware(max(r["as_of"] for r in located)).isoformat(),
        "reporter_partner_id": ex.sender,
        "location_id": location,
        "basis": "BOOK",
        "lines": [{"item_ids": [{"scheme": "GTIN", "value": r["gtin"]}], "qty_on_hand": str(r["on_hand"]),
                   "qty_available": str(max(r["on_hand"] - r["par_level"], Decimal(0))), "uom": r["uom"]}
                  for r in located],
    } for location, located in by_location.items()]


# -- the decision ----------------------------------------------------------------------------------

class Rule(StrictModel):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    method: Literal["TRANSFER", "STANDARD_PO", "EXPEDITED_PO"]
    critical: bool | None = Field(None, description="Only critical items (true), only the others (false)")
    lead_time: int = Field(ge=0, description="Days from the decision to the expected receipt")


class Buyer(StrictModel):
    name: str
    gln: str | None = None


class DecideConfig(StrictModel):
    rules: list[Rule] = Field(min_length=1)
    buyer: Buyer


@dataclass
class Source:
    """Where the stock can come from: another location (a transfer) or a contract (a PO)."""

    location_id: str | None = None
    available: Decimal | None = None
    contract: dict[str, Any] | None = None


def order_quantity(needed: Decimal, contract: dict[str, Any], uom: str) -> tuple[Decimal, str] | None:
    """``needed`` (in ``uom``) in the contract's price unit, rounded up to whole units; None when
    the contract's unit cannot be reached from ``uom``."""
    price_uom = contract.get("price_uom") or uom
    if price_uom == uom:
        return Decimal(math.ceil(needed)), uom
    factor = next((Decimal(p["factor_to_base"]) for p in contract.get("pack_conversions", [])
                   if p.get("uom") == price_uom and p.get("factor_to_base")), None)
    return (Decimal(math.ceil(needed / factor)), price_uom) if factor else None


def decide(breach: ParBreach, rules: list[Rule], stock: list[Source], contract: dict[str, Any] | None,
           today: date) -> tuple[Rule, Source, Decimal, str] | None:
    """The first rule that can fill the breach: (rule, source, quantity, unit); None when none can.
    Up to par: the quantity needed is the par level less what is on hand."""
    needed = breach.par_level - breach.on_hand
    for rule in rules:
        if rule.critical is not None and rule.critical != breach.critical:
            continue
        if rule.method == "TRANSFER":
            enough = [s for s in stock if s.available is not None and s.available >= needed]
            if enough:
                return rule, max(enough, key=lambda s: s.available), needed, breach.uom
        elif contract is not None and (ordered := order_quantity(needed, contract, breach.uom)) is not None:
            return rule, Source(contract=contract), *ordered
    return None


@step
class ReplenishmentDecideStep(Step):
    """A par breach → its replenishment decision plus the transfer order or purchase order that
    fills it (two exchanges), by the route's rules; ``replenishment_unfilled`` when no rule can."""

    kind = "replenishment_decide"
    Config = DecideConfig
    summary = "Decide how a par breach is filled (transfer, standard PO, expedited PO) by the route's rules"

    def process(self, ex: Exchange) -> list[Exchange]:
        body = ex.body.canonical_dict() if hasattr(ex.body, "canonical_dict") else ex.body
        breach = parse_document(body) if isinstance(body, dict) else None
        if not isinstance(breach, ParBreach):
            raise StepError(f"replenishment_decide needs a par_breach, got {type(ex.body).__name__}", location="body")
        db = self.env.service("db")
        ids = {(i.scheme.value, i.value) for i in breach.item_ids}
        today = breach.detected_at.date()
        chosen = decide(breach, self.config.rules, _stock_elsewhere(db, breach, ids),  # type: ignore[attr-defined]
                        contract_entry(db, None, ids, None, today), today)
        if chosen is None:
            self._unfilled(ex, db, breach)
            return [ex]
        rule, source, qty, uom = chosen
        decision, order = _documents(breach, rule, source, qty, uom, self.config.buyer)  # type: ignore[attr-defined]
        return [ex.derive(decision, part=0), ex.derive(order, part=1)]

    def _unfilled(self, ex: Exchange, db, breach: ParBreach) -> None:
        names = ", ".join(r.name for r in self.config.rules)  # type: ignore[attr-defined]
        text = (f"par breach {breach.breach_id} at {breach.location_id}: no rule ({names}) can fill "
                f"{breach.par_level - breach.on_hand} {breach.uom} — no other site holds it above par, no active contract")
        with db.session() as session:
            row = record_exception(session, kind="replenishment_unfilled", message=text, document_type="par_breach",
                                   document_key=breach.breach_id, message_id=ex.message_id, route=self.env.route_name,
                                   detail={"step": self.kind, "location_id": breach.location_id})
            ex.exceptions.append(row.as_dict())
        ex.held = True


def _stock_elsewhere(db, breach: ParBreach, ids: set[tuple[str, str]]) -> list[Source]:
    out = []
    for snapshot in stored_all(db, "inventory_snapshot"):
        for line in snapshot.get("lines", []):
            location = line.get("location_id") or snapshot.get("location_id")
            if location == breach.location_id or line.get("uom") != breach.uom:
                continue
            if ids & {(i["scheme"], i["value"]) for i in line.get("item_ids", [])}:
                available = line.get("qty_available", line.get("qty_on_hand"))
                out.append(Source(location, Decimal(available) if available is not None else None))
    return out


def _documents(breach: ParBreach, rule: Rule, source: Source, qty: Decimal, uom: str,
               buyer: Buyer) -> tuple[dict[str, Any], dict[str, Any]]:
    decided = breach.detected_at
    expected = (decided + timedelta(days=rule.lead_time)).date().isoformat()
    ids = [i.model_dump(mode="json", exclude_none=True) for i in breach.item_ids]
    decision: dict[str, Any] = {
        "document_type": "replenishment_decision", "decision_id": f"RD-{breach.breach_id}",
        "breach_id": breach.breach_id, "decided_at": decided.isoformat(), "location_id": breach.location_id,
        "item_ids": ids, "qty": str(qty), "uom": uom, "method": rule.method, "rule": rule.name,
        "expected_receipt_date": expected,
    }
    if rule.method == "TRANSFER":
        transfer_id = f"TR-{breach.breach_id}"
        decision.update(source_location_id=source.location_id, transfer_id=transfer_id,
                        reason=f"{source.location_id} holds {source.available} {uom} above its par")
        order = {"document_type": "transfer_order", "transfer_id": transfer_id, "requested_at": decided.isoformat(),
                 "from_location_id": source.location_id, "to_location_id": breach.location_id, "needed_by": expected,
                 "reason_code": "PAR_REPLENISHMENT", "reference": breach.breach_id,
                 "lines": [{"line_number": "1", "item_ids": ids, "qty": str(qty), "uom": uom}]}
        return decision, order
    contract = source.contract or {}
    po_number = f"RP-{breach.breach_id}"
    expedite = rule.method == "EXPEDITED_PO"
    decision.update(supplier_partner_id=contract["supplier_partner_id"], po_number=po_number,
                    unit_price=contract["price"], currency=contract.get("currency"),
                    contract_ref=contract.get("contract_ref"),
                    reason=f"contract {contract.get('contract_ref')} of {contract['supplier_partner_id']}"
                           + (", expedited: a critical item" if expedite else ""))
    order = {
        "document_type": "purchase_order", "po_number": po_number, "po_type": "STANDARD", "purpose": "ORIGINAL",
        "order_date": decided.date().isoformat(), "requested_delivery_date": expected,
        "buyer_org": {"role": "BY", "name": buyer.name,
                      "identifiers": [{"scheme": "GLN", "value": buyer.gln}] if buyer.gln else []},
        "ship_to": {"role": "ST", "name": breach.location_id},
        "supplier_partner_id": contract["supplier_partner_id"], "currency": contract.get("currency") or "USD",
        "contract_ref": contract.get("contract_ref"),
        "notes": [f"EXPEDITE: critical item below par at {breach.location_id}"] if expedite else [],
        "lines": [{"line_number": "1", "item_ids_sent": contract["item_ids"], "qty": str(qty), "uom": uom,
                   "unit_price": contract["price"], "contract_price": contract["price"],
                   "description": contract.get("description")}],
    }
    return decision, order
