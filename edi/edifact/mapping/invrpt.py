"""INVRPT → InventorySnapshot (domain.md B.13).

BGM 1004 snapshot id; DTM 366 (report date) or 137 as of; NAD reporter (SU, WH, CZ or the
first NAD; else the interchange sender) with a LOC or NAD+WH as the header location; INV 4503
basis (1 book, 2 formal count; none = book). Lines: LIN / PIA item ids, LOC per line (a new
location starts a new snapshot line for the same item), QTY 145 actual stock or 17 quantity on
hand → qty_on_hand, QTY 198 / 48 ... kept out; GIN BX / PIA NB lot, GIN BN serial, DTM 36
expiry.

Stock movements (INV 4501 = 1 out / 2 in) are NOT mapped: a canonical InventoryAdjustment needs
a movement type, a reason and a zoned time that INVRPT does not carry; such messages are
refused with a located error rather than turned into snapshot lines.
"""

from __future__ import annotations

from typing import Any

from edi.edifact.mapping.base import MessageView, comp, drop_empty, mapper
from edi.edifact.mapping.common import supplier_id
from edi.edifact.mapping.parts import LinePart, MessageParts
from hub.canonical import InventorySnapshot

BASIS = {"1": "BOOK", "2": "PHYSICAL_COUNT"}
ON_HAND = ("145", "17")
REPORTERS = ("SU", "WH", "CZ", "BY")


@mapper("INVRPT")
def map_invrpt(view: MessageView) -> list[dict[str, Any]]:
    parts = MessageParts(view)
    header = parts.header
    snapshot_id = parts.bgm_value(1)
    if not snapshot_id:
        raise view.missing("report number", "BGM 1004")
    as_of = header.date("366", "137")
    if as_of is None:
        raise view.missing("report date", "DTM+366")
    basis, basis_raw = _basis(view, parts)
    reporter = next((header.parties[r] for r in REPORTERS if r in header.parties), None)
    if reporter is None and header.parties:
        reporter = next(iter(header.parties.values()))
    location = next((code for qualifier, code, _ in header.locations if code), None)
    if location is None and "WH" in header.parties and header.parties["WH"].get("identifiers"):
        location = header.parties["WH"]["identifiers"][0]["value"]
    lines = [snapshot_line for line in parts.lines for snapshot_line in _lines(view, line)]
    if not lines:
        raise view.missing("stock lines", "LIN")
    doc = {
        "document_type": "inventory_snapshot",
        "snapshot_id": snapshot_id,
        "as_of": as_of,
        "reporter_partner_id": supplier_id(view, reporter),
        "location_id": location,
        "basis": basis,
        "basis_raw": basis_raw,
        "lines": lines,
    }
    index_of = {"lines": parts.lines[0].first, "snapshot_id": parts.bgm}
    return [view.validated(InventorySnapshot, drop_empty(doc), index_of)]


def _basis(view: MessageView, parts: MessageParts) -> tuple[str, str | None]:
    for part in (parts.header, *parts.lines):
        for index in part.other.get("INV", []):
            seg = view.segments[index]
            if comp(seg, 0, 0):
                raise view.fail(index, f"INV 4501 = {comp(seg, 0, 0)}: stock movements are not supported "
                                "(only stock status reports)", 1, code="unsupported_movement", ack="14")
            raw = comp(seg, 3, 0)
            if raw:
                return BASIS.get(raw, "BOOK"), raw
    return "BOOK", None


def _lines(view: MessageView, line: LinePart) -> list[dict[str, Any]]:
    """One snapshot line per location the LIN group names (LOC … QTY pairs), else one."""
    if not line.ids.ids:
        raise view.fail(line.first, "stock line names no item (LIN C212 / PIA)", 3, code="missing_item", ack="13")
    on_hand = next((line.qtys[q] for q in ON_HAND if q in line.qtys), None)
    if on_hand is None or on_hand[0] is None:
        raise view.fail(line.first, "stock line has no stock quantity (QTY+145 / QTY+17)", code="missing_quantity",
                        ack="13")
    lot = {
        "lot_number": line.ids.lots[0] if line.ids.lots else None,
        "serial_number": line.ids.serials[0] if line.ids.serials else None,
        "expiration_date": line.date("36"),
    }
    locations = [code for _, code, _ in line.locations if code] or [None]
    per_location = _quantities_per_location(view, line)
    out = []
    for location in locations:
        amount, uom = per_location.get(location, (on_hand[0], on_hand[1]))
        out.append(drop_empty({"item_ids": line.ids.ids, "location_id": location, "qty_on_hand": amount,
                               "qty_type_raw": next(q for q in ON_HAND if q in line.qtys), "uom": uom, **lot}))
    return out


def _quantities_per_location(view: MessageView, line: LinePart) -> dict[str | None, tuple[str | None, str | None]]:
    """A QTY after a LOC counts at that location (EANCOM INVRPT SG LOC-QTY)."""
    found: dict[str | None, tuple[str | None, str | None]] = {}
    location: str | None = None
    stop = len(view.segments)
    for index in range(line.first + 1, stop):
        seg = view.segments[index]
        if seg.tag in ("LIN", "UNS"):
            break
        if seg.tag == "LOC":
            location = comp(seg, 1, 0) or None
        elif seg.tag == "QTY" and comp(seg, 0, 0) in ON_HAND and location not in found:
            found[location] = (view.number(index, comp(seg, 0, 1), 1, 2), comp(seg, 0, 2) or None)
    return found
