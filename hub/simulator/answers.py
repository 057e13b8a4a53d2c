"""What a simulated supplier sends for a purchase order, and what the dock receives: canonical
documents built from the PO as the supplier read it off the wire and the scenario's changes.

Why pure functions: the same PO and scenario give the same documents, so a scenario can be
tested without a hub, and the cycle can tell exactly what it planted. Each stage derives from
the one before (acknowledged → shipped → received / invoiced), as real suppliers do: the
ship notice ships what the 855 confirmed, the invoice bills what was shipped at the confirmed
price. Prices keep 4 decimals after a change (a per-each price of a box), amounts 2.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from hub.canonical.enums import AckLineStatus, AckType
from hub.simulator.scenarios import LineChange, Scenario

# Line statuses under which nothing ships (domain.md: the 855 line status the buyer acts on).
NOT_SHIPPED = {AckLineStatus.BACKORDERED, AckLineStatus.REJECTED, AckLineStatus.DELETED, AckLineStatus.ON_HOLD,
               AckLineStatus.NOT_FOUND}
CENT, PRICE = Decimal("0.01"), Decimal("0.0001")


@dataclass(frozen=True)
class LineState:
    """One PO line as it stands at a stage: what is promised, shipped or received of it."""

    line_number: str
    item_ids: list[dict[str, Any]]
    qty: Decimal
    uom: str | None
    price: Decimal | None
    status: AckLineStatus = AckLineStatus.ACCEPTED
    reason: str | None = None
    substitute: list[dict[str, Any]] = field(default_factory=list)
    expiry_days: int | None = None

    @property
    def shipped_ids(self) -> list[dict[str, Any]]:
        """The identifiers of what actually travels: the substitute when there is one."""
        return self.substitute or self.item_ids


def ordered_lines(po: dict[str, Any]) -> list[LineState]:
    return [LineState(str(line["line_number"]), _ids(line.get("item_ids_sent") or []), Decimal(str(line["qty"])),
                      line.get("uom"), Decimal(str(line["unit_price"])) if line.get("unit_price") is not None else None)
            for line in po["lines"]]


def _ids(ids: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"scheme": i["scheme"], "value": i["value"]} for i in ids]


def _changed(state: LineState, change: LineChange, *, with_status: bool) -> LineState:
    qty, uom, price = state.qty + change.qty_change, state.uom, state.price
    if change.unit is not None and change.per_unit is not None:
        qty, uom = qty * change.per_unit, change.unit
        price = (price / change.per_unit).quantize(PRICE, ROUND_HALF_UP) if price is not None else None
    if change.price_change_pct and price is not None:
        price = (price * (1 + change.price_change_pct / 100)).quantize(PRICE, ROUND_HALF_UP)
    updates: dict[str, Any] = {"qty": max(qty, Decimal(0)), "uom": uom, "price": price}
    if change.substitute:
        updates["substitute"] = [ref.model_dump(mode="json") for ref in change.substitute]
    if with_status:
        updates["status"] = change.status or _implied_status(change)
        updates["reason"] = change.reason
    if change.lot_expiry_days is not None:
        updates["expiry_days"] = change.lot_expiry_days
    return replace(state, **updates)


def _implied_status(change: LineChange) -> AckLineStatus:
    if change.substitute:
        return AckLineStatus.SUBSTITUTED
    if change.price_change_pct:
        return AckLineStatus.PRICE_CHANGED
    if change.qty_change:
        return AckLineStatus.QTY_CHANGED
    if change.unit:
        return AckLineStatus.CHANGED
    return AckLineStatus.ACCEPTED


# -- the plan: every line through every stage ---------------------------------------------------

@dataclass
class Plan:
    """The lines of a PO at each stage of a scenario (None: the stage does not happen)."""

    acknowledged: list[LineState] | None
    shipped: list[LineState] | None
    received: list[LineState] | None
    invoiced: list[LineState] | None


def plan(po: dict[str, Any], scenario: Scenario) -> Plan:
    ordered = ordered_lines(po)
    acked = ([_changed(s, scenario.acknowledgement.change(s.line_number), with_status=True) for s in ordered]
             if scenario.acknowledgement is not None else None)
    basis = acked if acked is not None else ordered
    shipped = None
    if scenario.ship_notice is not None:
        stage = scenario.ship_notice
        shipped = [_changed(s, stage.change(s.line_number), with_status=False) for s in basis
                   if s.status not in NOT_SHIPPED]
        shipped = [s for s in shipped if s.qty > 0]
    received = ([_changed(s, scenario.receipt.change(s.line_number), with_status=False) for s in shipped]
                if scenario.receipt is not None and shipped is not None else None)
    invoiced = None
    if scenario.invoice is not None:
        source = shipped if shipped is not None else [s for s in basis if s.status not in NOT_SHIPPED]
        invoiced = [_changed(s, scenario.invoice.change(s.line_number), with_status=False) for s in source]
        invoiced = [s for s in invoiced if s.qty > 0]
    return Plan(acked, shipped, received, invoiced)


# -- documents ----------------------------------------------------------------------------------

def acknowledgement(po: dict[str, Any], scenario: Scenario, lines: list[LineState], at: datetime,
                    partner_id: str, standard: str = "X12") -> dict[str, Any]:
    """The purchase_order_ack (855 / ORDRSP) confirming ``lines``, as the standard says it: an
    X12 backorder is ACK01 IB with its quantity, an EANCOM one QTY+113 0 and QTY+83; an X12
    substitute rides in ACK07+ pairs, an EANCOM one is the item the LIN / PIA name."""
    stage = scenario.acknowledgement
    changed = any(s.status is not AckLineStatus.ACCEPTED for s in lines)
    ack_type = (stage.ack_type if stage and stage.ack_type else
                AckType.ACCEPTED_WITH_CHANGES if changed else AckType.ACCEPTED)
    ship_by = (at + timedelta(seconds=scenario.ship_notice.after - stage.after)).date() \
        if scenario.ship_notice and stage else None
    by_number = {str(line["line_number"]): line for line in po["lines"]}
    return {
        "document_type": "purchase_order_ack",
        "po_number": po["po_number"],
        "po_date": po.get("order_date"),
        "ack_type": ack_type.value,
        "supplier_partner_id": partner_id,
        "supplier_order_number": f"SO-{po['po_number']}",
        "ack_date": at.date().isoformat(),
        "currency": po.get("currency"),
        "lines": [_ack_line(s, by_number[s.line_number], ship_by, standard) for s in lines],
    }


def _ack_line(s: LineState, ordered: dict[str, Any], ship_by, standard: str) -> dict[str, Any]:
    line: dict[str, Any] = {
        "po_line_number": s.line_number,
        "status": s.status.value,
        "status_raw": _x12_status(s.status),
        "item_ids": s.item_ids,
        "ordered_qty": str(ordered["qty"]),
        "ordered_uom": ordered.get("uom"),
        "qty": _text(s.qty),
        "uom": s.uom,
        "unit_price": _text(s.price) if s.price is not None else None,
        "substitute_item_ids": s.substitute,
        "reason_code": s.reason,
    }
    if ship_by is not None and s.status not in NOT_SHIPPED:
        line["promised_ship_date"] = ship_by.isoformat()
    if standard == "EDIFACT":
        if s.status in (AckLineStatus.BACKORDERED, AckLineStatus.PARTIAL_BACKORDER):
            line.update(qty="0", qty_backordered=_text(s.qty))
        if s.substitute:
            line.update(item_ids=s.substitute, substitute_item_ids=[])
    return {k: v for k, v in line.items() if v is not None}


# The X12 668 code each status is written as (the writers map it; kept here so the 855 is the
# one GHX's test supplier would send).
_X12_STATUS = {AckLineStatus.ACCEPTED: "IA", AckLineStatus.BACKORDERED: "IB", AckLineStatus.PARTIAL_BACKORDER: "BP",
               AckLineStatus.CHANGED: "IC", AckLineStatus.PRICE_CHANGED: "IP", AckLineStatus.QTY_CHANGED: "IQ",
               AckLineStatus.SUBSTITUTED: "IS", AckLineStatus.RESCHEDULED: "DR", AckLineStatus.ON_HOLD: "IH",
               AckLineStatus.DELETED: "ID", AckLineStatus.REJECTED: "IR"}


def _x12_status(status: AckLineStatus) -> str:
    return _X12_STATUS.get(status, "IA")


def ship_notice(po: dict[str, Any], scenario: Scenario, lines: list[LineState], at: datetime,
                partner_id: str) -> dict[str, Any]:
    """The ship_notice (856 / DESADV): each shipped line with one lot, its expiry from the ship
    date (the scenario's shelf life, or the line's ``lot_expiry_days``)."""
    stage = scenario.ship_notice
    assert stage is not None
    ship_date = at.date()
    return {
        "document_type": "ship_notice",
        "asn_number": asn_number(po),
        "created_at": at.replace(microsecond=0).isoformat(),
        "supplier_partner_id": partner_id,
        "ship_date": ship_date.isoformat(),
        "est_delivery_date": (at + timedelta(seconds=stage.delivery_after)).date().isoformat(),
        "ship_to": po["ship_to"],
        "carrier_scac": "UPSN",
        "lines": [{
            "line_id": str(n),
            "po_number": po["po_number"],
            "po_line_number": s.line_number,
            "item_ids": s.shipped_ids,
            "qty_shipped": _text(s.qty),
            "uom": s.uom,
            "lots": [{"lot_number": lot_number(po, s.line_number),
                      "expiration_date": (ship_date + timedelta(days=_expiry_days(stage.lot_expiry_days, s))).isoformat()}],
        } for n, s in enumerate(lines, start=1)],
    }


def _expiry_days(default: int, s: LineState) -> int:
    return s.expiry_days if s.expiry_days is not None else default


def asn_number(po: dict[str, Any]) -> str:
    return f"ASN-{po['po_number']}"


def invoice_number(po: dict[str, Any]) -> str:
    return f"INV-{po['po_number']}"


def lot_number(po: dict[str, Any], line_number: str) -> str:
    """A lot number a supplier could print: the order's last digits and the line."""
    return f"L{str(po['po_number'])[-6:]}-{line_number}"


def invoice(po: dict[str, Any], lines: list[LineState], at: datetime, partner_id: str,
            ship_date: str | None) -> dict[str, Any]:
    """The invoice (810 / INVOIC) billing ``lines``; the total is the sum of the line amounts."""
    amounts = [(s.qty * (s.price or 0)).quantize(CENT, ROUND_HALF_UP) for s in lines]
    return {
        "document_type": "invoice",
        "invoice_number": invoice_number(po),
        "supplier_partner_id": partner_id,
        "invoice_type": "INVOICE",
        "invoice_date": at.date().isoformat(),
        "po_number": po["po_number"],
        "po_date": po.get("order_date"),
        "currency": po.get("currency") or "USD",
        "ship_date": ship_date,
        "total_amount": _text(sum(amounts, Decimal(0))),
        "lines": [{
            "line_number": s.line_number,
            "po_line_number": s.line_number,
            "item_ids": s.shipped_ids,
            "qty_invoiced": _text(s.qty),
            "uom": s.uom,
            "unit_price": _text(s.price or Decimal(0)),
            "line_amount": _text(amount),
        } for s, amount in zip(lines, amounts, strict=True)],
    }


def dock_scans(po: dict[str, Any], asn: dict[str, Any], lines: list[LineState], at: datetime, partner_id: str,
               location: str) -> list[dict[str, str]]:
    """The rows the receiving clerk's handheld exports for the delivery: one scan per line, its
    GS1 barcode built from the item's GTIN and the lot and expiry printed on the label."""
    by_line = {line["po_line_number"]: line for line in asn["lines"]}
    rows = []
    for s in lines:
        announced = by_line.get(s.line_number)
        lot = (announced or {}).get("lots", [{}])[0]
        gtin = next((i["value"] for i in s.shipped_ids if i["scheme"] == "GTIN"), None)
        if gtin is None:
            raise ValueError(f"PO line {s.line_number} has no GTIN: the dock scans GS1 labels")
        barcode = f"(01){gtin}"
        if lot.get("expiration_date"):
            barcode += f"(17){lot['expiration_date'][2:4]}{lot['expiration_date'][5:7]}{lot['expiration_date'][8:10]}"
        if lot.get("lot_number"):
            barcode += f"(10){lot['lot_number']}"
        rows.append({"Scanned At": at.replace(microsecond=0).isoformat(), "Location": location, "PO": po["po_number"],
                     "ASN": asn["asn_number"], "Supplier": partner_id, "Barcode": barcode, "Qty": _text(s.qty),
                     "UOM": s.uom or "EA"})
    return rows


def _text(value: Decimal) -> str:
    """A decimal as the wire writes it: no exponent, no trailing zeros beyond what it needs."""
    text = format(value.normalize(), "f")
    return text if "." not in text or not text.endswith(".") else text[:-1]
