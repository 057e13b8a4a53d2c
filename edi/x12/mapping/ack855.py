"""X12 855 Purchase Order Acknowledgment → ``PurchaseOrderAck`` (domain.md B.2).

Each ACK segment under a PO1 becomes an ``AckLine`` (a PO1 may carry several: 5 accepted, 3
backordered). A PO1 echoed without ACK takes its status from BAK02 (an ``AD`` ack "with detail,
no change" accepts every echoed line); ``status_raw`` then holds the BAK02 code it came from.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from hub.canonical import PurchaseOrderAck
from hub.canonical.codes import (
    ack_date_field_from_x12,
    ack_line_status_from_x12,
    ack_reason_from_x12,
    ack_type_from_x12,
)
from hub.canonical.enums import AckLineStatus, AckType

from edi.x12.mapping.base import SetView, mapper
from edi.x12.mapping.common import optional_purpose, item_pairs, parties, reference, validate
from edi.common.text import digits

# BAK02 codes seen in real 855s beyond the canonical table (element 587).
EXTRA_ACK_TYPES = {"AP": AckType.ACCEPTED}  # acknowledge - product replenishment
# Line status a PO1 without ACK inherits from the header ack type.
LINE_STATUS_OF_TYPE = {AckType.ACCEPTED: AckLineStatus.ACCEPTED, AckType.ACCEPTED_WITH_CHANGES: AckLineStatus.CHANGED,
                       AckType.REJECTED: AckLineStatus.REJECTED, AckType.HOLD: AckLineStatus.ON_HOLD,
                       AckType.PARTIAL: AckLineStatus.ACCEPTED, AckType.NOT_PROCESSED: AckLineStatus.REJECTED}
LINE_END = ("PO1", "CTT", "SE")


@mapper("855")
def map_855(view: SetView) -> BaseModel:
    bak_i, bak = view.require("BAK")
    type_raw = view.need(bak_i, 2, "BAK02 acknowledgment type")
    ack_type = ack_type_from_x12.get(type_raw) or EXTRA_ACK_TYPES.get(type_raw.upper())
    if ack_type is None:
        raise view.fail(bak_i, 2, f"acknowledgment type {type_raw!r} is not a known BAK02 code",
                        element_code="7", bad_value=type_raw)
    ack: dict[str, Any] = {
        "po_number": view.need(bak_i, 3, "BAK03 purchase order number"),
        "po_date": view.date(bak_i, 4),
        "purpose_raw": view.opt(bak, 1),
        "ack_type": ack_type.value, "ack_type_raw": type_raw,
        "supplier_order_number": view.opt(bak, 8),
        "ack_date": view.date(bak_i, 9),
    }
    optional_purpose(view, bak_i, ack)
    first_line = next((i for i, _ in view.iter("PO1")), len(view.segments))
    _header(view, ack, first_line)
    index_of = {"po_number": bak_i, "ack_type": bak_i, "ack_date": bak_i}
    ack["lines"] = []
    for ordinal, (i, _) in enumerate(view.iter("PO1"), start=1):
        index_of[f"lines.{len(ack['lines'])}"] = i
        ack["lines"] += _lines(view, i, ordinal, ack_type)
    return validate(view, PurchaseOrderAck, ack, index_of)


def _header(view: SetView, ack: dict[str, Any], stop: int) -> None:
    refs = []
    for i, seg in enumerate(view.segments[:stop]):
        if seg[0] == "CUR" and view.value(seg, 2):
            ack["currency"] = view.value(seg, 2)
        elif seg[0] == "REF" and (ref := reference(view, seg)):
            refs.append(ref)
        elif seg[0] == "DTM" and ack.get("ack_date") is None and view.value(seg, 1) in ("009", "004"):
            ack["ack_date"] = view.date(i, 2)
    ack["refs"] = refs
    if ack.get("ack_date") is None:
        # BAK09 is optional: fall back to the group date (GS04), the date the ack was created.
        group = view.ts.group
        gs_date = group.date if group is not None else ""
        ack["ack_date"] = _gs_date(gs_date)
        view.warn(0, None, f"no BAK09 or DTM*009 acknowledgment date: the group date {gs_date} is used")
    found = parties(view, 0, stop)
    supplier = next((found[r] for r in ("SE", "SU", "VN") if r in found), None)
    ids = (supplier or {}).get("identifiers") or []
    ack["supplier_partner_id"] = ids[0]["value"] if ids else view.ts.interchange.sender_id


def _gs_date(value: str) -> str | None:
    ymd = value if len(value) == 8 else ("20" + value if len(value) == 6 else "")
    return f"{ymd[:4]}-{ymd[4:6]}-{ymd[6:]}" if digits(ymd) else None


def _lines(view: SetView, index: int, ordinal: int, ack_type: AckType) -> list[dict[str, Any]]:
    seg = view.segments[index]
    base: dict[str, Any] = {"po_line_number": view.value(seg, 1), "ordered_qty": view.decimal(index, 2),
                            "ordered_uom": view.opt(seg, 3), "unit_price": view.decimal(index, 4)}
    if not base["po_line_number"]:
        base["po_line_number"] = str(ordinal)
        view.warn(index, 1, f"PO101 line number is empty; the line is taken as PO line {ordinal} by position")
    lots = item_pairs(view, index, 6, line=base, refs_field=None)
    if lots["lot_number"] or lots["serial_number"]:
        view.warn(index, 6, "lot/serial pairs on an 855 line are not kept (no place in the acknowledgement)")
    acks: list[tuple[int, list[str]]] = []
    dates: list[int] = []
    i = index + 1
    while i < len(view.segments) and view.segments[i][0] not in LINE_END:
        tag = view.segments[i][0]
        if tag == "ACK":
            acks.append((i, view.segments[i]))
        elif tag == "DTM":
            dates.append(i)
        i += 1
    if not acks:
        status = LINE_STATUS_OF_TYPE[ack_type]
        return [{**base, "status": status.value, "status_raw": view.value(view.first("BAK")[1], 2)}]
    return [_ack_line(view, base, ack_i, ack_seg) for ack_i, ack_seg in acks]


def _ack_line(view: SetView, base: dict[str, Any], index: int, seg: list[str]) -> dict[str, Any]:
    raw = view.need(index, 1, "ACK01 line item status code")
    status = ack_line_status_from_x12.get(raw)
    if status is None:
        raise view.fail(index, 1, f"line status {raw!r} is not a known ACK01 code", element_code="7", bad_value=raw)
    line = {**base, "status": status.value, "status_raw": raw, "reason_code": ack_reason_from_x12(raw),
            "qty": view.decimal(index, 2), "uom": view.opt(seg, 3), "date_qualifier_raw": view.opt(seg, 4)}
    if line["date_qualifier_raw"]:
        field = ack_date_field_from_x12.get(line["date_qualifier_raw"])
        if field is not None:
            line[field.value] = view.date(index, 5)
        else:
            view.warn(index, 4, f"date qualifier {line['date_qualifier_raw']!r} is not a promised ship/delivery date")
    line["item_ids"] = list(base.get("item_ids", []))
    substitute: dict[str, Any] = {}
    item_pairs(view, index, 7, line=substitute, ids_field="substitute_item_ids", refs_field=None)
    line["substitute_item_ids"] = substitute.get("substitute_item_ids", [])
    return line
