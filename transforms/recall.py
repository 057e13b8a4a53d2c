"""Recall trace: where the lots a recall names are — received when and where, moved, used on
which cases (by reference), still on the shelf, in transit on an open ship notice — and the
quarantine of what is on the shelf.

Why from the hub's store: every document that says where a lot went passed through a route that
kept it (``store_document``): ship notices (the supplier answer routes), goods receipts (the
dock), transfer orders (replenishment), usage events (implant usage), stock snapshots. Tracing
is reading them back, per recall line: the same item (an identifier in common, or the item id)
and one of its lots or serials (every lot when it names none, bounded by its expiry range).

- in transit: a ship notice carrying the lot with no goods receipt naming that ship notice;
- received: each goods receipt line's lot allocation, at its location;
- transferred: each transfer order line of the lot, from one location to another;
- used: each usage event of the lot or serial — its usage id, location and case number, nothing
  of the patient;
- on hand: a stock snapshot's line of the lot (CONFIRMED); else, per location, received less
  used less transferred away when above zero, a use where none was received taken from where the
  lot was (INFERRED — lots are often not captured at issue).

``recall_trace`` (step) fills a recall's ``hits`` and adds a QUARANTINE inventory adjustment per
location holding the lot (``recall_id`` set: on the recall's document trail); a recall line
whose item nothing in the store names is ``recall_line_unresolved`` (C #46), recorded — a recall
is never held back. ``hub recall trace --item … --lot …`` answers the same question ad hoc.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from hub.business_exceptions import record_exception
from hub.canonical import Recall, parse_document
from hub.documents import stored_all
from hub.exchange import Exchange
from hub.registry import Step, StepError, StrictModel, step


@dataclass
class Wanted:
    """What a recall line (or the command) looks for."""

    ids: set[tuple[str, str]]
    item_id: str | None = None
    lots: set[str] = field(default_factory=set)
    serials: set[str] = field(default_factory=set)
    expiry_from: date | None = None
    expiry_to: date | None = None

    def item(self, ids: list[dict[str, Any]], item_id: str | None = None) -> bool:
        return bool(self.ids & {(i["scheme"], i["value"]) for i in ids}) or (item_id is not None and item_id == self.item_id)

    def lot(self, lot: str | None, serial: str | None, expiry: str | None = None) -> bool:
        if (self.lots or self.serials) and lot not in self.lots and serial not in self.serials:
            return False
        if expiry:
            when = date.fromisoformat(expiry)
            if (self.expiry_from and when < self.expiry_from) or (self.expiry_to and when > self.expiry_to):
                return False
        return True


@dataclass
class Hit:
    kind: str  # IN_TRANSIT RECEIVED TRANSFERRED USED ON_HAND
    ref: str
    location_id: str | None
    qty: Decimal | None
    uom: str | None
    lot: str | None
    at: str | None = None
    confidence: str = "CONFIRMED"
    case: str | None = None
    to_location_id: str | None = None

    def recall_hit(self, line_number: str | None) -> dict[str, Any]:
        return {k: v for k, v in {"kind": self.kind, "ref": self.ref, "line_number": line_number,
                                  "lot_serial_id": self.lot, "location_id": self.location_id,
                                  "qty": str(self.qty) if self.qty is not None else None, "uom": self.uom,
                                  "confidence": self.confidence}.items() if v is not None}


def trace(db, wanted: Wanted) -> list[Hit]:
    """Every place the store knows the wanted lots to be or to have been, in the order above."""
    receipts = stored_all(db, "goods_receipt")
    received_asns = {r.get("asn_number") for r in receipts if r.get("asn_number")}
    hits = _in_transit(stored_all(db, "ship_notice"), received_asns, wanted)
    hits += _received(receipts, wanted)
    hits += _transferred(stored_all(db, "transfer_order"), wanted)
    hits += _used(stored_all(db, "usage_event"), wanted)
    return hits + _on_hand(stored_all(db, "inventory_snapshot"), hits, wanted)


def _in_transit(asns: list[dict], received: set, wanted: Wanted) -> list[Hit]:
    out = []
    for asn in asns:
        if asn["asn_number"] in received:
            continue
        for line in asn.get("lines", []):
            if not wanted.item(line.get("item_ids", []), line.get("item_id")):
                continue
            for lot in line.get("lots") or [{}]:
                if wanted.lot(lot.get("lot_number"), lot.get("serial_number"), lot.get("expiration_date")):
                    qty = lot.get("qty") or line.get("qty_shipped")
                    out.append(Hit("IN_TRANSIT", asn["asn_number"], None, Decimal(qty) if qty else None, line.get("uom"),
                                   lot.get("lot_number") or lot.get("serial_number"), asn.get("ship_date")))
    return out


def _received(receipts: list[dict], wanted: Wanted) -> list[Hit]:
    out = []
    for receipt in receipts:
        for line in receipt.get("lines", []):
            if not wanted.item(line.get("item_ids", []), line.get("item_id")):
                continue
            for allocation in line.get("lot_allocations") or []:
                if wanted.lot(allocation.get("lot_number"), allocation.get("serial_number"),
                              allocation.get("expiration_date")):
                    out.append(Hit("RECEIVED", receipt["receipt_id"], line.get("location_id"),
                                   Decimal(allocation["qty_base"]), line.get("uom"),
                                   allocation.get("lot_number") or allocation.get("serial_number"),
                                   receipt.get("receipt_datetime")))
    return out


def _transferred(transfers: list[dict], wanted: Wanted) -> list[Hit]:
    return [Hit("TRANSFERRED", t["transfer_id"], t["from_location_id"], Decimal(line["qty"]), line.get("uom"),
                line.get("lot_number"), t.get("requested_at"), to_location_id=t["to_location_id"])
            for t in transfers for line in t.get("lines", [])
            if wanted.item(line.get("item_ids", []), line.get("item_id")) and wanted.lot(line.get("lot_number"), None)
            and line.get("lot_number")]


def _used(events: list[dict], wanted: Wanted) -> list[Hit]:
    return [Hit("USED", e["usage_id"], e.get("location_id"), Decimal(e["qty"]), e.get("uom"),
                e.get("lot_number") or e.get("serial_number"), e.get("occurred_at"), case=e.get("case_id"))
            for e in events if wanted.item(e.get("item_ids", []), e.get("item_id"))
            and wanted.lot(e.get("lot_number"), e.get("serial_number"), e.get("expiration_date"))]


def _on_hand(snapshots: list[dict], hits: list[Hit], wanted: Wanted) -> list[Hit]:
    out, counted = [], set()
    for snapshot in snapshots:
        for line in snapshot.get("lines", []):
            location = line.get("location_id") or snapshot.get("location_id")
            if wanted.item(line.get("item_ids", []), line.get("item_id")) and line.get("lot_number") and \
                    wanted.lot(line.get("lot_number"), line.get("serial_number"), line.get("expiration_date")):
                counted.add(location)
                out.append(Hit("ON_HAND", snapshot["snapshot_id"], location, Decimal(line.get("qty_on_hand") or 0),
                               line.get("uom"), line.get("lot_number"), snapshot.get("as_of")))
    balance: dict[tuple[str | None, str | None, str | None], Decimal] = {}
    for hit in hits:
        sign = {"RECEIVED": 1, "USED": -1, "TRANSFERRED": -1}.get(hit.kind)
        if sign is None or hit.qty is None:
            continue
        balance[(hit.location_id, hit.lot, hit.uom)] = balance.get((hit.location_id, hit.lot, hit.uom), Decimal(0)) + sign * hit.qty
        if hit.kind == "TRANSFERRED":
            key = (hit.to_location_id, hit.lot, hit.uom)
            balance[key] = balance.get(key, Decimal(0)) + hit.qty
    _unrecorded_moves(balance)
    out += [Hit("ON_HAND", "inferred", location, qty, uom, lot, confidence="INFERRED")
            for (location, lot, uom), qty in balance.items() if qty > 0 and location not in counted]
    return out


def _unrecorded_moves(balance: dict[tuple[str | None, str | None, str | None], Decimal]) -> None:
    """A lot used where none was received came from where it was (an OR takes from the implant
    cabinet without a transfer): what a location is short is taken from the locations holding
    the same lot, fullest first."""
    for key, qty in list(balance.items()):
        if qty >= 0:
            continue
        _, lot, uom = key
        for other in sorted((k for k, q in balance.items() if k[1:] == (lot, uom) and q > 0), key=lambda k: -balance[k]):
            taken = min(balance[other], -balance[key])
            balance[other] -= taken
            balance[key] += taken
            if balance[key] >= 0:
                break


class RecallTraceConfig(StrictModel):
    quarantine_suffix: str = "-QUARANTINE"


@step
class RecallTraceStep(Step):
    """A recall → the recall with its hits (where the lots are and were) and a QUARANTINE
    adjustment per location holding them; unresolved lines recorded (C #46), never held."""

    kind = "recall_trace"
    Config = RecallTraceConfig
    summary = "Trace a recall's lots through the store (in transit, received, moved, used, on hand) and quarantine"

    def process(self, ex: Exchange) -> list[Exchange]:
        body = ex.body.canonical_dict() if hasattr(ex.body, "canonical_dict") else ex.body
        recall = parse_document(body) if isinstance(body, dict) and body.get("document_type") else None
        if not isinstance(recall, Recall):
            raise StepError(f"recall_trace needs a recall, got {type(ex.body).__name__}", location="body")
        db = self.env.service("db")
        hits: list[dict[str, Any]] = []
        quarantine: list[dict[str, Any]] = []
        known = {(i["scheme"], i["value"]) for item in stored_all(db, "item") for i in item.get("identifiers", [])}
        for index, line in enumerate(recall.lines):
            wanted = Wanted({(i.scheme.value, i.value) for i in line.item_ids}, line.item_id, set(line.lot_numbers),
                            set(line.serial_numbers), line.expiry_from, line.expiry_to)
            found = trace(db, wanted)
            if not found and not wanted.ids & known:
                self._unresolved(ex, db, recall, index)
            hits += [h.recall_hit(line.line_number) for h in found]
            quarantine += [self._quarantine(recall, line, h, len(quarantine) + 1) for h in found
                           if h.kind == "ON_HAND" and h.qty]
        data = recall.canonical_dict() | {"hits": hits, "status": "QUARANTINED" if quarantine else "LOCATING"}
        return [ex.derive(data, part=0), *(ex.derive(q, part=n) for n, q in enumerate(quarantine, start=1))]

    def _quarantine(self, recall: Recall, line: Any, hit: Hit, n: int) -> dict[str, Any]:
        return {k: v for k, v in {
            "document_type": "inventory_adjustment", "adjustment_id": f"{recall.recall_id}-Q{n}", "type": "QUARANTINE",
            "item_ids": [i.model_dump(mode="json", exclude_none=True) for i in line.item_ids], "qty": str(hit.qty),
            "uom": hit.uom or line.uom or "EA", "location_id": hit.location_id, "from_location_id": hit.location_id,
            "to_location_id": f"{hit.location_id}{self.config.quarantine_suffix}",  # type: ignore[attr-defined]
            "lot_number": hit.lot, "reason_code": "RECALL", "reference": recall.external_ref,
            "recall_id": recall.recall_id, "occurred_at": _now(self.env).isoformat(),
        }.items() if v is not None}

    def _unresolved(self, ex: Exchange, db, recall: Recall, index: int) -> None:
        line = recall.lines[index]
        shown = ", ".join(f"{i.scheme.value}:{i.value}" for i in line.item_ids)
        with db.session() as session:
            row = record_exception(session, kind="recall_line_unresolved", document_type="recall",
                                   document_key=recall.recall_id, field_path=f"lines.{index}.item_ids",
                                   offending_value=shown, message_id=ex.message_id, route=self.env.route_name,
                                   message=f"lines.{index}: {shown} names no item the hub knows (item master) nor "
                                           "anything it received, moved or used",
                                   detail={"step": self.kind})
            ex.exceptions.append(row.as_dict())


def _now(env):
    from hub.store import utcnow

    clock = env.services.get("clock")
    return clock() if clock else utcnow()
