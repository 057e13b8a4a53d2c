"""X12 846 Inventory Inquiry/Advice → ``InventorySnapshot`` (domain.md B.5).

Each LIN loop is a line; its QTY segments set the quantities: 33 → available, 17 → on hand
(verify per partner); other qualifiers are kept on lines of their own with ``qty_type_raw`` so
nothing is lost (a QTY with qualifier 34 / QH / QB / 87 reports a bucket the partner defines).
The reporting location is the N1*ST (else the first N1) identifier.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from hub.canonical.inventory import InventorySnapshot
from hub.canonical.enums import SnapshotBasis

from edi.x12.mapping.base import SetView, mapper
from edi.x12.mapping.common import item_pairs, parties, require_item_ids, validate

AVAILABLE, ON_HAND = "33", "17"


@mapper("846")
def map_846(view: SetView) -> BaseModel:
    bia_i, bia = view.require("BIA")
    first_line = next((i for i, _ in view.iter("LIN")), len(view.segments))
    found = parties(view, 0, first_line)
    location = found.get("ST") or next(iter(found.values()), None)
    reporter = next((found[r] for r in ("SE", "SU", "VN", "MF", "DS") if r in found), None)
    snapshot: dict[str, Any] = {
        "snapshot_id": view.need(bia_i, 3, "BIA03 reference identification"),
        "as_of": view.date(bia_i, 4, required=True),
        "basis_raw": view.opt(bia, 2),
        "reporter_partner_id": _first_id(reporter) or view.ts.interchange.sender_id,
        "location_id": _first_id(location),
    }
    index_of = {"snapshot_id": bia_i, "as_of": bia_i, "lines": first_line}
    snapshot["lines"] = []
    for i, _ in view.iter("LIN"):
        index_of[f"lines.{len(snapshot['lines'])}"] = i
        snapshot["lines"] += _lines(view, i)
    has_available = any("qty_available" in line for line in snapshot["lines"])
    snapshot["basis"] = (SnapshotBasis.AVAILABLE_TO_PROMISE if has_available else SnapshotBasis.BOOK).value
    return validate(view, InventorySnapshot, snapshot, index_of)


def _first_id(ref: dict[str, Any] | None) -> str | None:
    ids = (ref or {}).get("identifiers") or []
    return ids[0]["value"] if ids else None


def _lines(view: SetView, index: int) -> list[dict[str, Any]]:
    base: dict[str, Any] = {}
    lots = item_pairs(view, index, 2, line=base, refs_field=None)
    require_item_ids(view, index, base, "item_ids")
    if lots["lot_number"]:
        base["lot_number"] = lots["lot_number"][0]
    if lots["serial_number"]:
        base["serial_number"] = lots["serial_number"][0]
    quantities: list[tuple[int, str]] = []
    i = index + 1
    while i < len(view.segments) and view.segments[i][0] not in ("LIN", "CTT", "SE"):
        seg = view.segments[i]
        if seg[0] == "QTY":
            quantities.append((i, view.value(seg, 1)))
        elif seg[0] == "DTM" and view.value(seg, 1) == "036":
            base["expiration_date"] = view.date(i, 2)
        i += 1
    if not quantities:
        raise view.fail(index, None, "LIN loop has no QTY segment", element_code="1")
    main: dict[str, Any] = dict(base)
    extra: list[dict[str, Any]] = []
    for qty_i, qualifier in quantities:
        value = view.decimal(qty_i, 2, required=True)
        uom = _uom(view, qty_i)
        if qualifier == AVAILABLE and "qty_available" not in main:
            main.update(qty_available=value, uom=main.get("uom") or uom)
        elif qualifier == ON_HAND and "qty_on_hand" not in main:
            main.update(qty_on_hand=value, uom=main.get("uom") or uom, qty_type_raw=qualifier)
        else:
            extra.append({**base, "qty_on_hand": value, "uom": uom, "qty_type_raw": qualifier})
    return ([main] if "qty_available" in main or "qty_on_hand" in main else []) + extra


def _uom(view: SetView, index: int) -> str | None:
    """QTY03 (composite in 4010: the unit is its first component), else the UIT after the QTY."""
    components = view.components(view.segments[index], 3)
    if components[0]:
        return components[0]
    nxt = index + 1
    if nxt < len(view.segments) and view.segments[nxt][0] == "UIT":
        return view.components(view.segments[nxt], 1)[0] or None
    return None
