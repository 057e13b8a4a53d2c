"""X12 856 Ship Notice/Manifest → ``ShipNotice`` (domain.md B.3, 2.1).

The HL hierarchy is read as a tree (HL01 id, HL02 parent, HL03 level): S shipment, O order,
T tare / P pack, I item — in either S/O/P/I (BSN05 0001) or S/O/I/P (0002) order, or S/O/I
without packs. Each item HL becomes a line; its PO comes from the nearest O ancestor (PRF01),
its pack from the nearest T/P ancestor, and packs nested under an item (S/O/I/P) list the
item's line. Lots, serials and expiry come from LIN pairs LT/SN, REF*LT / REF*SE / REF*LS,
DTM*036 (expiry) and DTM*405 / DTM*094 (production); MAN*GM is the pack's SSCC.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from hub.canonical import ShipNotice
from hub.canonical.codes import ack_line_status_from_x12
from hub.canonical.identifiers import validate_sscc

from edi.common.numbers import accepted_decimals
from edi.x12.mapping.base import SetView, mapper
from edi.x12.mapping.common import add_item_pairs, optional_purpose, party, reference, require_item_ids, validate

LOT_REFS = {"LT": "lot_number", "SE": "serial_number", "LS": "serial_number"}
PACK_LEVELS = {"T": "TARE", "P": "PACK"}
# N101 entity code → the ShipNotice field of the party (the first of each wins).
PARTY_ROLES = {"ST": "ship_to", "SF": "ship_from", "SH": "ship_from", "BY": "buyer", "SE": "seller", "SU": "seller",
               "VN": "seller"}
# SN108 code → the status's value, looked up once per line without the enum's value property.
LINE_STATUS_VALUES = {code: status.value for code, status in ack_line_status_from_x12.codes.items()}
_ACCEPTED_R = accepted_decimals(exponent=True)  # type R texts read before → their Decimal


@dataclass(slots=True)
class _Level:
    hl_id: str
    parent: str | None
    code: str
    index: int
    # Indexes of the segments after the HL up to the next HL (the last level's run includes
    # CTT and SE: every reader of a level skips tags it does not map).
    segments: range = range(0)
    po_number: str | None = None  # an order level's PRF01, read once for all its items


@mapper("856")
def map_856(view: SetView) -> BaseModel:
    bsn_i, bsn = view.require("BSN")
    levels, order = _levels(view)
    shipment = next((lv for lv in levels.values() if lv.code == "S"), None)
    if shipment is None:
        raise view.fail(bsn_i, None, "no shipment level (HL with HL03 = S)", element_code="1")
    asn: dict[str, Any] = {
        "asn_number": view.value(bsn, 2),
        "purpose_raw": view.opt(bsn, 1), "hierarchy_code": view.opt(bsn, 5),
        "created_at": view.date(bsn_i, 3),
    }
    optional_purpose(view, bsn_i, asn)
    index_of = {"asn_number": bsn_i, "ship_date": shipment.index, "ship_to": shipment.index}
    header_segments = list(range(1, order[0].index)) if order else []
    _shipment(view, asn, [*header_segments, *shipment.segments])
    if not asn["asn_number"]:
        asn["asn_number"] = _fallback_asn_number(view, bsn_i, asn)
    asn["packs"] = [_pack(view, lv, levels) for lv in order if lv.code in PACK_LEVELS]
    packs_by_id = {p["pack_id"]: p for p in asn["packs"]}
    items = [lv for lv in order if lv.code == "I"]
    index_of["lines.*"] = [lv.index for lv in items]  # line n's HL, read only when the model refuses
    above: dict[str | None, tuple[_Level | None, _Level | None]] = {}
    asn["lines"] = [_line(view, lv, levels, packs_by_id, above) for lv in items]
    if not asn["lines"]:
        raise view.fail(shipment.index, None, "no item level (HL with HL03 = I)", element_code="1")
    if "ship_to" not in asn:
        asn["ship_to"] = _ship_to(view, levels, shipment)
    asn["supplier_partner_id"] = _supplier(asn, view)
    return validate(view, ShipNotice, asn, index_of)


def _levels(view: SetView) -> tuple[dict[str, _Level], list[_Level]]:
    levels: dict[str, _Level] = {}
    order: list[_Level] = []
    segments = view.segments
    # A level's segments run from its HL to the next: found with one C-level scan for the HLs,
    # not by appending every body segment's index to its level.
    heads = [i for i, seg in enumerate(segments) if seg[0] == "HL"]
    for i, end in zip(heads, [*heads[1:], len(segments)]):
        seg = segments[i]
        if len(seg) > 3:  # the usual HL*id*parent*code: unpacked at once
            _, hl_id, parent, code = seg[:4]
            hl_id, parent, code = hl_id.strip(), parent.strip(), code.strip()
        else:
            size = len(seg)
            hl_id = seg[1].strip() if size > 1 else ""
            parent = seg[2].strip() if size > 2 else ""
            code = ""
        if not hl_id or not code:
            raise view.fail(i, 1 if not hl_id else 3, "HL01 hierarchical id and HL03 level code are required",
                            element_code="1", syntax=True)
        if hl_id in levels:
            raise view.fail(i, 1, f"HL01 {hl_id} is used twice", element_code="7", bad_value=hl_id)
        if parent and parent not in levels:
            raise view.fail(i, 2, f"HL02 parent {parent} is not an earlier HL01", element_code="7",
                            bad_value=parent)
        level = _Level(hl_id, parent or None, code, i, range(i + 1, end))
        levels[hl_id] = level
        order.append(level)
    return levels, order


def _ancestor(levels: dict[str, _Level], level: _Level, codes: tuple[str, ...]) -> _Level | None:
    parent = levels.get(level.parent) if level.parent else None
    while parent is not None:
        if parent.code in codes:
            return parent
        parent = levels.get(parent.parent) if parent.parent else None
    return None


def _order_and_pack(levels: dict[str, _Level], level: _Level) -> tuple[_Level | None, _Level | None]:
    """The nearest order (O) and pack (T/P) levels above an item, in one walk up (a parent is
    always an earlier HL, so the walk ends)."""
    order = pack = None
    parent = levels.get(level.parent) if level.parent else None
    while parent is not None:
        code = parent.code
        if code == "O":
            if order is None:
                order = parent
        elif (code == "P" or code == "T") and pack is None:
            pack = parent
        parent = levels.get(parent.parent) if parent.parent else None
    return order, pack


def _shipment(view: SetView, asn: dict[str, Any], indexes: list[int]) -> None:
    refs, tracking = [], []
    for i in indexes:
        seg = view.segments[i]
        tag = seg[0]
        if tag == "DTM":
            qualifier = view.value(seg, 1)
            if qualifier in ("011", "017"):
                field_name = "ship_date" if qualifier == "011" else "est_delivery_date"
                asn[field_name] = view.date(i, 2)
        elif tag == "TD1":
            asn["package_count"] = view.integer(i, 2)
            asn["gross_weight"] = view.decimal(i, 7)
            asn["weight_uom"] = view.opt(seg, 8)
        elif tag == "TD5":
            if view.value(seg, 2) == "2" and view.value(seg, 3):
                asn.setdefault("carrier_scac", view.value(seg, 3))
            if view.value(seg, 5):
                asn.setdefault("carrier_name", view.value(seg, 5))
        elif tag == "REF" and (ref := reference(view, seg)):
            if ref["qualifier"] == "BM":
                asn.setdefault("bol", ref["value"])
            elif ref["qualifier"] == "CN":
                tracking.append(ref["value"])
            else:
                refs.append(ref)
        elif tag == "N1":
            found, _ = party(view, i)
            role = PARTY_ROLES.get(found.get("role") or "")
            if role and role not in asn:
                asn[role] = found
        elif tag == "YNQ":
            _statement(view, asn, seg)
    asn["refs"], asn["tracking_numbers"] = refs, tracking
    if asn.get("ship_date") is None:
        if asn.get("created_at") is None:
            raise view.fail(0, None, "no DTM*011 ship date and no BSN03 date", element_code="1")
        asn["ship_date"] = asn["created_at"]
        view.warn(0, None, "no DTM*011 (shipped) date: the BSN03 creation date is used as the ship date")
    asn.update({k: v for k, v in (("package_count", asn.get("package_count")),) if v is not None})


def _statement(view: SetView, asn: dict[str, Any], seg: list[str]) -> None:
    """HDA DSCSA transaction statement: YNQ09 = TS (statement), DPS (direct purchase)."""
    kind = view.value(seg, 9)
    if kind not in ("TS", "DPS"):
        return
    statement = asn.setdefault("dscsa_transaction_statement", {"present": False})
    if kind == "TS":
        statement["present"] = view.value(seg, 2) == "Y"
        statement["text"] = view.opt(seg, 5)
    else:
        statement["direct_purchase"] = view.value(seg, 2) == "Y"


def _pack(view: SetView, level: _Level, levels: dict[str, _Level]) -> dict[str, Any]:
    pack: dict[str, Any] = {"pack_id": level.hl_id, "level": PACK_LEVELS[level.code], "line_refs": []}
    parent = _ancestor(levels, level, ("T", "P"))
    if parent is not None:
        pack["parent_pack_id"] = parent.hl_id
    item = _ancestor(levels, level, ("I",))
    if item is not None:  # S/O/I/P: the pack holds its parent item
        pack["line_refs"].append(item.hl_id)
    for i in level.segments:
        seg = view.segments[i]
        if seg[0] == "MAN" and view.value(seg, 1) == "GM" and "sscc" not in pack:
            pack.update(_sscc(view, i))
        elif seg[0] == "TD1" and view.value(seg, 7):
            pack["weight"], pack["weight_uom"] = view.decimal(i, 7), view.opt(seg, 8)
    return pack


def _sscc(view: SetView, index: int) -> dict[str, str]:
    """``{"sscc": 18 digits}`` (an AI 00 prefix dropped), or, when it fails its check, the value
    as sent with ``sscc_invalid_reason`` and a warning: a bad label number is a receiving
    problem to review, not a reason to lose the ASN (domain.md C #12)."""
    raw = view.need(index, 2, "MAN02 SSCC")
    value = raw[2:] if len(raw) == 20 and raw.startswith("00") else raw
    if not view.precheck_ids:
        return {"sscc": value}  # the model checks it; a refusal re-maps with this check first
    try:
        return {"sscc": validate_sscc(value)}
    except ValueError as exc:
        view.warn(index, 2, f"SSCC {raw!r} kept as sent, flagged invalid: {exc}", code="invalid_identifier",
                  bad_value=raw)
        return {"sscc_invalid_reason": str(exc), "sscc": raw}


def _line(view: SetView, level: _Level, levels: dict[str, _Level], packs: dict[str, dict[str, Any]],
          above: dict[str | None, tuple[_Level | None, _Level | None]]) -> dict[str, Any]:
    line: dict[str, Any] = {"line_id": level.hl_id, "refs": []}
    # Items under one parent share its order and pack: walked up once per parent (``above``).
    found = above.get(level.parent)
    if found is None:
        found = above[level.parent] = _order_and_pack(levels, level)
    order, pack = found
    segments = view.segments
    if order is not None:
        if order.po_number is None:
            prf = next((i for i in order.segments if segments[i][0] == "PRF"), None)
            order.po_number = view.need(prf, 1, "PRF01 purchase order number") if prf is not None else ""
        if order.po_number:
            line["po_number"] = order.po_number
    if pack is not None:
        line["pack_id"] = pack.hl_id
        packs[pack.hl_id]["line_refs"].append(level.hl_id)
    lot_numbers: list[str] = []
    serials: list[str] = []
    expiry = production = None
    lin_index = None
    for i in level.segments:
        seg = segments[i]
        tag = seg[0]
        if tag == "LIN":
            lin_index = i
            add_item_pairs(view, i, 2, line, lot_numbers, serials)
        elif tag == "SN1":
            _sn1(view, i, line)
        elif tag == "DTM":
            qualifier = seg[1].strip() if len(seg) > 1 else ""
            if qualifier == "036":
                expiry = view.date(i, 2)
            elif qualifier == "405" or qualifier == "094":
                production = view.date(i, 2)
        elif tag == "PID":
            if len(seg) > 5 and "description" not in line and (text := seg[5].strip()):
                line["description"] = text
        elif tag == "PRF":
            if "po_number" not in line:
                line["po_number"] = view.need(i, 1, "PRF01 purchase order number")
        elif tag == "REF" and (ref := reference(view, seg)):
            kind = LOT_REFS.get(ref["qualifier"])
            if kind == "lot_number":
                lot_numbers.append(ref["value"])
            elif kind is not None:
                serials.append(ref["value"])
            else:
                line["refs"].append(ref)
    if lin_index is None:
        raise view.fail(level.index, None, f"item level HL {level.hl_id} has no LIN segment", element_code="1")
    if not line.get("item_ids"):
        require_item_ids(view, lin_index, line, "item_ids")
    if "qty_shipped" not in line:
        raise view.fail(level.index, None, f"item level HL {level.hl_id} has no SN1 quantity", element_code="1")
    if "po_number" not in line:
        raise view.fail(level.index, None, f"item level HL {level.hl_id} has no order (PRF) above or in it",
                        element_code="1")
    line["lots"] = _lots(lot_numbers, serials, expiry, production)
    return line


def _sn1(view: SetView, index: int, line: dict[str, Any]) -> None:
    seg = view.segments[index]
    size = len(seg)
    line["po_line_number"] = (seg[1].strip() or None) if size > 1 else None
    # Quantities read before are taken from the decimal cache here (one per SN1, two per line
    # with the ordered quantity); ``view.decimal`` reads, checks and locates the rest.
    shipped = _ACCEPTED_R.get(seg[2].strip()) if size > 2 else None
    line["qty_shipped"] = shipped if shipped is not None else view.decimal(index, 2, required=True)
    line["uom"] = (seg[3].strip() or None) if size > 3 else None
    if size > 5:
        ordered = _ACCEPTED_R.get(seg[5].strip())
        line["qty_ordered"] = ordered if ordered is not None else view.decimal(index, 5)
        line["uom_ordered"] = (seg[6].strip() or None) if size > 6 else None
    raw = seg[8].strip() if size > 8 else ""
    if raw:
        line["line_status_raw"] = raw
        status = LINE_STATUS_VALUES.get(raw)  # the codes as listed; the table also reads other cases
        if status is None and (found := ack_line_status_from_x12.get(raw)) is not None:
            status = found.value
        if status is not None:
            line["line_status"] = status
        else:
            view.warn(index, 8, f"line status {raw!r} is not a known SN108 code; kept as sent")


def _lots(numbers: list[str], serials: list[str], expiry, production) -> list[dict[str, Any]]:
    """One entry per serial (carrying the lot), else one per lot; expiry applies to all."""
    if serials:
        lot = numbers[0] if len(numbers) == 1 else None
        entries = [{"serial_number": s, "lot_number": lot} if lot else {"serial_number": s} for s in serials]
        if len(numbers) > 1:
            entries += [{"lot_number": n} for n in numbers]
    elif numbers:
        entries = [{"lot_number": n} for n in numbers]
    else:
        entries = [{}] if expiry else []
    for entry in entries:
        if expiry:
            entry["expiration_date"] = expiry
        if production:
            entry["production_date"] = production
    return entries


def _fallback_asn_number(view: SetView, bsn_i: int, asn: dict[str, Any]) -> str:
    """BSN02 is mandatory, yet real 856s leave it empty: the bill of lading (REF*BM) or the
    packing list (REF*PK) then identifies the shipment, with a warning."""
    if asn.get("bol"):
        view.warn(bsn_i, 2, f"BSN02 shipment identification is empty: the bill of lading {asn['bol']} is used")
        return asn["bol"]
    packing = next((r["value"] for r in asn["refs"] if r["qualifier"] == "PK"), None)
    if packing:
        view.warn(bsn_i, 2, f"BSN02 shipment identification is empty: the packing list {packing} is used")
        return packing
    raise view.fail(bsn_i, 2, "BSN02 shipment identification is missing", element_code="1", syntax=True)


def _ship_to(view: SetView, levels: dict[str, _Level], shipment: _Level) -> dict[str, Any]:
    for role in ("ST", "BY", "OB"):
        found = _first_party(view, levels, role)
        if found is not None:
            if role != "ST":
                view.warn(shipment.index, None, f"no N1*ST (ship-to) loop: the N1*{role} party is taken as the ship-to")
            return found
    raise view.fail(shipment.index, None, "no N1*ST (ship-to) loop in the shipment or orders", element_code="1")


def _first_party(view: SetView, levels: dict[str, _Level], role: str) -> dict[str, Any] | None:
    for level in levels.values():
        for i in level.segments:
            if view.segments[i][0] == "N1" and view.value(view.segments[i], 1) == role:
                return party(view, i)[0]
    return None


def _supplier(asn: dict[str, Any], view: SetView) -> str:
    """The seller's identifier, else the interchange sender (who sends an 856 is the supplier);
    the ship-from is a location, not the supplier."""
    ids = (asn.get("seller") or {}).get("identifiers") or []
    return ids[0]["value"] if ids else view.ts.interchange.sender_id
