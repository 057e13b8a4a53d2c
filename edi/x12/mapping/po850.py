"""X12 850 Purchase Order → ``PurchaseOrder`` (domain.md B.1)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from hub.canonical import PurchaseOrder
from hub.canonical.codes import UnknownCode, po_purpose_from_x12, po_type_from_x12
from hub.canonical.enums import PoType

from edi.x12.mapping.base import SetView, mapper
from edi.x12.mapping.common import (
    charge,
    sac_reference,
    contact,
    item_pairs,
    line_loop,
    parties,
    reference,
    require_item_ids,
    terms_text,
    validate,
)

LINE_SEGMENTS = ("PO1", "CTT", "AMT", "SE")
SUPPLIER_ROLES = ("SE", "VN", "SU")


@mapper("850")
def map_850(view: SetView) -> BaseModel:
    beg_i, beg = view.require("BEG")
    first_line = next((i for i, s in view.iter("PO1")), len(view.segments))
    po: dict[str, Any] = {
        "po_number": view.need(beg_i, 3, "BEG03 purchase order number"),
        "release_number": view.opt(beg, 4),
        "order_date": view.date(beg_i, 5, required=True),
        "contract_ref": view.opt(beg, 6),
        "purpose_raw": view.need(beg_i, 1, "BEG01 purpose code"),
        "po_type_raw": view.opt(beg, 2),
        "currency": "USD",  # domain.md B.1: default USD when CUR is absent
    }
    po["purpose"] = _code(view, beg_i, 1, po_purpose_from_x12).value
    po["po_type"] = (po_type_from_x12.get(po["po_type_raw"]) or PoType.STANDARD).value
    if po["po_type_raw"] and po_type_from_x12.get(po["po_type_raw"]) is None:
        view.warn(beg_i, 2, f"order type {po['po_type_raw']!r} is not a known BEG02 code; taken as STANDARD")
    index_of = {"po_number": beg_i, "order_date": beg_i, "purpose": beg_i}
    _header(view, po, first_line, index_of)
    po["lines"] = [_line(view, i, n, index_of) for n, i in enumerate(
        (i for i, _ in view.iter("PO1")), start=1)]
    _check_ctt(view, len(po["lines"]))
    return validate(view, PurchaseOrder, po, index_of)


def _code(view: SetView, index: int, n: int, table):
    try:
        return table(view.value(view.segments[index], n))
    except UnknownCode as exc:
        raise view.fail(index, n, str(exc), element_code="7", bad_value=view.value(view.segments[index], n)) from None


def _header(view: SetView, po: dict[str, Any], stop: int, index_of: dict[str, int]) -> None:
    refs, notes = [], []
    for i, seg in enumerate(view.segments[:stop]):
        tag = seg[0]
        if tag == "CUR" and view.value(seg, 2):
            po["currency"] = view.value(seg, 2)
            index_of["currency"] = i
        elif tag == "REF" and (ref := reference(view, seg)):
            refs.append(ref)
            if ref["qualifier"] == "CT" and not po.get("contract_ref"):
                po["contract_ref"] = ref["value"]
        elif tag == "PER" and "buyer_contact" not in po:
            po["buyer_contact"] = contact(view, seg)
        elif tag == "ITD" and "payment_terms" not in po:
            po["payment_terms"] = terms_text(view, i)
        elif tag == "DTM" and view.value(seg, 1) in ("002", "010"):
            field = "requested_delivery_date" if view.value(seg, 1) == "002" else "requested_ship_date"
            po[field] = view.date(i, 2)
        elif tag in ("N9", "MSG", "MTX"):  # MTX: 005010's free text (MTX02)
            text = (" ".join(v for v in (view.value(seg, 2), view.value(seg, 3)) if v) if tag == "N9"
                    else view.value(seg, 2 if tag == "MTX" else 1))
            if text:
                notes.append(text)
    po["refs"], po["notes"] = refs, notes
    found = parties(view, 0, stop)
    sender = _isa_party(view, "BY", sender=True)
    po["buyer_org"] = found.get("BY") or sender
    po["bill_to"] = found.get("BT") or found.get("BS")
    ship_to = found.get("ST") or found.get("BS")
    if ship_to is None:
        view.warn(0, None, "no N1*ST (ship-to) loop: the ship-to is taken to be the buyer")
        ship_to = dict(po["buyer_org"])
    po["ship_to"] = ship_to
    supplier = next((found[r] for r in SUPPLIER_ROLES if r in found), None)
    po["supplier"] = supplier
    supplier_ids = (supplier or {}).get("identifiers") or []
    po["supplier_partner_id"] = supplier_ids[0]["value"] if supplier_ids else view.ts.interchange.receiver_id


def _isa_party(view: SetView, role: str, *, sender: bool) -> dict[str, Any]:
    ic = view.ts.interchange
    qualifier, value = (ic.sender_qualifier, ic.sender_id) if sender else (ic.receiver_qualifier, ic.receiver_id)
    return {"role": role, "identifiers": [{"scheme": "ISA_ID", "value": value, "qualifier": qualifier}]}


def _line(view: SetView, index: int, ordinal: int, index_of: dict[str, int]) -> dict[str, Any]:
    seg = view.segments[index]
    line: dict[str, Any] = {"line_number": view.value(seg, 1)}
    if not line["line_number"]:
        line["line_number"] = str(ordinal)
        view.warn(index, 1, f"PO101 line number is empty; the line is numbered {ordinal} by position")
    line["qty"] = view.decimal(index, 2, required=True)
    line["uom"] = view.opt(seg, 3)
    line["unit_price"] = view.decimal(index, 4)
    line["price_basis"] = view.opt(seg, 5)
    lots = item_pairs(view, index, 6, line=line, ids_field="item_ids_sent")
    line["lot_numbers"], line["serial_numbers"] = lots["lot_number"], lots["serial_number"]
    require_item_ids(view, index, line, "item_ids_sent")
    index_of[f"lines.{ordinal - 1}"] = index
    charges = []
    for i, sub in line_loop(view, index, LINE_SEGMENTS):
        tag = sub[0]
        if tag == "PID" and view.value(sub, 5) and "description" not in line:
            line["description"] = view.value(sub, 5)
        elif tag == "REF" and (ref := reference(view, sub)):
            line.setdefault("refs", []).append(ref)
        elif tag == "DTM" and view.value(sub, 1) == "002":
            line["requested_date"] = view.date(i, 2)
        elif tag == "SAC":
            found = charge(view, i)
            if found is not None:
                charges.append(found)
            else:
                line.setdefault("refs", []).append(sac_reference(view, i))
    if charges:
        # PurchaseOrderLine has no charges field: keep each as a reference so nothing is lost.
        line.setdefault("refs", []).extend(
            {"qualifier": f"SAC{c['allowance_or_charge'][0]}", "value": c.get("type_raw") or c["type"],
             "description": f"{c['amount']}"} for c in charges)
    return line


def _check_ctt(view: SetView, lines: int) -> None:
    found = view.first("CTT")
    if found is None:
        return
    index, ctt = found
    count = view.integer(index, 1)
    if count is not None and count != lines:
        raise view.fail(index, 1, f"CTT01 line count {count} but {lines} PO1 lines", element_code="7",
                        bad_value=str(count), code="control_total", exception_kind="totals_do_not_reconcile")
