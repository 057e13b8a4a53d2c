"""RECADV ⇄ GoodsReceipt (domain.md B.15 and the RECADV row of section 3).

Reading (a partner's receiving advice → ``goods_receipt``): BGM 1004 receipt_id; DTM 50 the
receipt date; RFF AAK the despatch advice (asn_number); NAD SU the supplier (else the
interchange sender); NAD DP the receiving location (else a header LOC), which is also each
line's location unless the line has a LOC of its own. Lines: LIN 1082 line number, LIN C212 /
PIA item identifiers (GTINs as 14 digits; item_id is left to the crosswalk step), QTY 48
received with its unit (6411), 194 accepted, 195 + 196 not accepted (returned + destroyed),
QVR reason (4295, else the 4221 discrepancy), RFF ON / LI the order line (a line without RFF ON
takes the header's), PIA NB / GIN BX batch, PIA SN / GIN BN serial and DTM 36 expiry as lot
allocations. CPS / PAC / GIN BJ (packing) are read and left out: a GoodsReceipt has no packs.

What the message leaves open, decided here:

- receipt_datetime needs a zone and EDIFACT sends none: the DTM 50 date at 00:00 UTC, with a
  located ``receipt_time_assumed`` warning. A 203 / 204 time is dropped (warned), as for every
  EDIFACT date; the writer sends the UTC day, so write → read keeps the day.
- source is DOCK_SCAN: a RECADV reports goods counted and inspected where they were received
  (it exists to report what differs from the despatch advice), which ASN_AUTO would deny.
- lot allocation quantities (qty_base): one batch carries the whole line (qty_received, in
  the line's unit as sent); each serial number is one unit. Several batches on one line
  cannot be split (RECADV sends no quantity per batch): refused with a located error, never
  guessed. An expiry without a batch or serial is left out (warned).
- a QTY 48 without 6411 counts units of the line's GTIN (ReceiptLine.uom None, as on ship
  notice lines; uom_convert takes the unit from the GTIN's packaging level); QTY 194 / 195 /
  196 must then leave 6411 out too (a line has one unit).

Writing (``build_recadv``, outbound from the hospital): the same segments; a line without
item_ids sends its item_id as the buyer's item number (PIA IN).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pydifact.segments import Segment

from edi.common.outbound import WriteNotes
from edi.edifact.diagnostics import SyntaxCode
from edi.edifact.mapping.base import MessageView, drop_empty, mapper
from edi.edifact.mapping.common import supplier_id
from edi.edifact.mapping.out import Out
from edi.edifact.mapping.parts import LinePart, MessageParts, Part
from edi.edifact.profile import EdifactProfile
from edi.edifact.writer import WriteError
from hub.canonical import GoodsReceipt
from hub.canonical.enums import ReceiptSource
from hub.canonical.types import decimal_text

RECEIVED, ACCEPTED = "48", "194"
# 195 not accepted, to be returned; 196 not accepted, to be destroyed: both are rejected.
REJECTED = ("195", "196")


@mapper("RECADV")
def map_recadv(view: MessageView) -> list[dict[str, Any]]:
    parts = MessageParts(view)
    header = parts.header
    receipt_id = parts.bgm_value(1)
    if not receipt_id:
        raise view.missing("receipt number", "BGM 1004")
    if "50" not in header.dates:
        raise view.missing("goods receipt date", "DTM+50")
    if not parts.lines:
        raise view.missing("receipt lines", "LIN")
    location, location_index = _receiving_location(view, header)
    supplier = header.parties.get("SU")
    doc = {
        "document_type": "goods_receipt",
        "receipt_id": receipt_id,
        "receipt_datetime": _receipt_datetime(view, header),
        "receiving_location_id": location,
        "supplier_partner_id": supplier_id(view, supplier),
        "asn_number": header.ref("AAK"),
        "source": ReceiptSource.DOCK_SCAN.value,
        "lines": [_line(view, line, header, location) for line in parts.lines],
    }
    parts.check_line_count()
    index_of = {"receipt_id": parts.bgm, "receipt_datetime": header.dates["50"][1],
                "receiving_location_id": location_index, "supplier_partner_id": header.party_index.get("SU"),
                "lines": parts.lines[0].first}
    return [view.validated(GoodsReceipt, drop_empty(doc), index_of)]


def _receipt_datetime(view: MessageView, header: Part) -> str:
    """The DTM 50 date at midnight UTC: an AwareDatetime needs a zone, EDIFACT sends none."""
    day, index = header.dates["50"]
    midnight = f"{day}T00:00:00+00:00"
    view.warn(index, f"DTM+50 sends no time zone: receipt_datetime is {midnight} (the date at midnight UTC)", 1, 2,
              code="receipt_time_assumed")
    return midnight


def _receiving_location(view: MessageView, header: Part) -> tuple[str, int]:
    """NAD+DP's identifier, else the first header LOC: (location id, segment index)."""
    delivery = header.parties.get("DP")
    if delivery and delivery.get("identifiers"):
        return delivery["identifiers"][0]["value"], header.party_index["DP"]
    found = next(((code, index) for _, code, index in header.locations if code), None)
    if found is None:
        raise view.missing("receiving location", "NAD+DP")
    return found


def _line(view: MessageView, line: LinePart, header: Part, location: str) -> dict[str, Any]:
    if not line.ids.ids:
        raise view.fail(line.first, "receipt line names no item (LIN C212 / PIA)", 3, code="missing_item",
                        ack=SyntaxCode.MISSING)
    received, uom, qty_index = line.qtys.get(RECEIVED, (None, None, line.first))
    if received is None:
        raise view.fail(line.first, "receipt line has no received quantity (QTY+48)", code="missing_quantity",
                        ack=SyntaxCode.MISSING)
    return drop_empty(
        {
            "line_number": line.number or None,
            "po_number": line.ref("ON") or header.ref("ON"),
            "po_line_number": line.ref("LI"),
            "item_ids": line.ids.ids,
            "qty_received": received,
            "uom": uom,
            "qty_accepted": _quantity(view, line, ACCEPTED, uom),
            "qty_rejected": _rejected(view, line, uom),
            "reject_reason": _reason(line),
            "location_id": next((code for _, code, _ in line.locations if code), location),
            "lot_allocations": _allocations(view, line, received),
        }
    )


def _reason(line: LinePart) -> str | None:
    """QVR 4295 the reason (PE durability date, DME damaged …), else 4221 the discrepancy (AF damaged …)."""
    if line.qvr is None:
        return None
    discrepancy, reason, _ = line.qvr
    return reason or discrepancy or None


def _quantity(view: MessageView, line: LinePart, qualifier: str, uom: str | None) -> str | None:
    """A further QTY of the line; it must count in the received quantity's unit (the canonical
    line has one unit)."""
    amount, unit, index = line.qtys.get(qualifier, (None, None, line.first))
    if unit is not None and unit != uom:
        raise view.fail(index, f"QTY+{qualifier} counts in {unit} but QTY+48 in {uom or 'units of the GTIN'}: a "
                        "receipt line has one unit",
                        1, 3, code="unit_mismatch")
    return amount


def _rejected(view: MessageView, line: LinePart, uom: str | None) -> str | None:
    amounts = [Decimal(a) for q in REJECTED if (a := _quantity(view, line, q, uom)) is not None]
    if len(amounts) > 1:
        view.warn(line.qtys["196"][2], "QTY+195 (return) and QTY+196 (destroy) both sent: qty_rejected is their sum",
                  code="rejected_quantities_added")
    return decimal_text(sum(amounts, Decimal(0))) if amounts else None


def _allocations(view: MessageView, line: LinePart, received: str) -> list[dict[str, Any]]:
    """Batches and serials with the line's expiry as lot allocations (rules: module docstring)."""
    lots = list(dict.fromkeys(line.ids.lots))  # a batch repeated per serial is one batch
    serials = list(dict.fromkeys(line.ids.serials))
    expiry = line.date("36")
    if len(lots) > 1:
        raise view.fail(line.first, f"{len(lots)} batches ({', '.join(lots)}) and no quantity per batch: a lot "
                        "allocation needs each batch's quantity", code="unsplit_batches",
                        ack=SyntaxCode.VALUE_NOT_SUPPORTED)
    lot = lots[0] if lots else None
    if serials:
        return [drop_empty({"lot_number": lot, "serial_number": serial, "expiration_date": expiry, "qty_base": "1"})
                for serial in serials]
    if lot is not None:
        return [drop_empty({"lot_number": lot, "expiration_date": expiry, "qty_base": received})]
    if expiry is not None:
        view.warn(line.dates["36"][1], "expiry date (DTM+36) without a batch or serial number: left out", 1, 2,
                  code="expiry_without_lot")
    return []


# -- GoodsReceipt → RECADV ----------------------------------------------------------------------


def build_recadv(doc: dict[str, Any], profile: EdifactProfile, notes: WriteNotes | None = None
                ) -> tuple[str, list[Segment], str]:
    out = Out(profile, notes)
    out.add("BGM", "632", doc["receipt_id"], "9")
    # The receipt time is sent as a date (102): EDIFACT 203 carries no zone; UTC day is used.
    received = datetime.fromisoformat(doc["receipt_datetime"]).astimezone(UTC).date().isoformat()
    out.dtm("50", received)
    out.rff("AAK", doc.get("asn_number"))
    out.party("SU", {"role": "SU", "identifiers": [{"scheme": "ACCOUNT_AT_PARTNER",
                                                     "value": doc["supplier_partner_id"]}]}, [])
    out.party("DP", {"role": "DP", "identifiers": [{"scheme": "ACCOUNT_AT_PARTNER",
                                                     "value": doc["receiving_location_id"]}]}, [])
    # D96A and D01B put every LIN inside a CPS (packing sequence) group: one for the receipt.
    out.add("CPS", "1")
    parts = [(n, line, part) for n, line in enumerate(doc["lines"]) for part in _batches(line, n, out)]
    renumber = len(parts) > len(doc["lines"])
    for number, (n, line, part) in enumerate(parts, start=1):
        label = str(number) if renumber else line.get("line_number") or str(number)
        _receipt_line(out, line, part, label)
    out.add("CNT", ["2", str(len(parts))])  # RECADV has no UNS section (D96A, D01B)
    return "RECADV", out.segments, doc["receipt_id"]


def _batches(line: dict[str, Any], n: int, out: Out) -> list[dict[str, Any]]:
    """The LIN groups of one receipt line: the line itself when it names at most one batch
    (serials of one batch included), else one per batch with that batch's quantity — RECADV
    as the hub reads it gives a line one batch, so several batches without their own quantity
    are not written (a located error instead of a message the partner cannot split)."""
    allocations = line.get("lot_allocations", [])
    batches: dict[str | None, list[dict[str, Any]]] = {}
    for allocation in allocations:
        batches.setdefault(allocation.get("lot_number"), []).append(allocation)
    whole = {"qty": line["qty_received"], "accepted": line.get("qty_accepted"), "rejected": line.get("qty_rejected"),
             "allocations": allocations}
    if len(batches) <= 1:
        return [whole]
    rejected = Decimal(str(line.get("qty_rejected") or 0))
    if rejected:
        raise WriteError(f"lines.{n}.qty_rejected: {len(batches)} batches on one line and a rejected quantity: "
                         "RECADV cannot tell which batch was rejected; split the receipt line per batch")
    factor = _units_per_base(line)
    parts = []
    for group in batches.values():
        qty = (sum((Decimal(str(a["qty_base"])) for a in group), Decimal(0)) * factor).normalize()
        parts.append({"qty": decimal_text(qty), "rejected": None, "allocations": group,
                      "accepted": decimal_text(qty) if line.get("qty_accepted") is not None else None})
    total = sum((Decimal(p["qty"]) for p in parts), Decimal(0))
    if total != Decimal(str(line["qty_received"])):
        raise WriteError(f"lines.{n}.lot_allocations: the batches add up to {decimal_text(total)} "
                         f"{line.get('uom') or ''}, the line received {line['qty_received']}: each batch needs "
                         "its own quantity and RECADV gives a line one batch".replace("  ", " "))
    out.warn(f"lines.{n}.lot_allocations", f"{len(parts)} batches are sent as {len(parts)} LIN groups (one batch "
             "each, with its quantity); line numbers are the LIN positions")
    return parts


def _units_per_base(line: dict[str, Any]) -> Decimal:
    """Line units per base unit: qty_received / base_qty when the line was converted, else 1."""
    if line.get("base_qty") not in (None, "0", 0) and line.get("base_uom") != line.get("uom"):
        return Decimal(str(line["qty_received"])) / Decimal(str(line["base_qty"]))
    return Decimal(1)


def _receipt_line(out: Out, line: dict[str, Any], part: dict[str, Any], number: str) -> None:
    allocations = part["allocations"]
    # One PIA NB per batch, also when several serials of one batch repeat it.
    lots = list(dict.fromkeys(a["lot_number"] for a in allocations if a.get("lot_number")))
    serials = [a["serial_number"] for a in allocations if a.get("serial_number")]
    ids = line.get("item_ids") or [{"scheme": "BUYER_ITEM", "value": line["item_id"], "qualifier": "IN"}]
    out.line_item(number, None, ids, lots, serials)
    out.qty("48", part["qty"], line.get("uom"))
    out.qty("194", part["accepted"], line.get("uom"))
    out.qty("195", part["rejected"], line.get("uom"))
    if line.get("reject_reason"):
        out.add("QVR", "", "", [line["reject_reason"]])
    expiries = {a.get("expiration_date") for a in allocations if a.get("expiration_date")}
    if len(expiries) == 1:
        out.dtm("36", expiries.pop())
    out.rff("ON", line.get("po_number"))
    out.rff("LI", line.get("po_line_number"))
