"""ORDRSP → PurchaseOrderAck (domain.md B.9).

BGM 1004 ack_id, 1225 ack type (29 accepted, 4/28/30/34 accepted with changes, 27 rejected,
12 not processed); DTM 137 ack date; RFF ON order number (its DTM 171 the order date); NAD SU.
Lines: LIN 1082 order line, 1229 line status (5 accepted, 6/24/3 changed, 7 rejected, 10 not
found; a line without 1229 under a header 29 is accepted), LIN C212 / PIA echoed item ids,
QTY 21 ordered / 113 to be delivered / 83 backordered, DTM 2 / 69 promised delivery, 11
promised despatch, PRI unit price, QVR reason (4295 reason, else 4221 discrepancy).

Substitutions: ORDRSP echoes the confirmed item; whether it differs from the ordered one is
decided against the stored order (section C #19), not here.
"""

from __future__ import annotations

from typing import Any

from pydifact.segments import Segment

from edi.edifact.mapping.base import MessageView, drop_empty, mapper
from edi.edifact.mapping.common import best_price, reference, supplier_id
from edi.common.outbound import WriteNotes
from edi.edifact.mapping.out import Out
from edi.edifact.mapping.parts import LinePart, MessageParts
from edi.edifact.profile import EdifactProfile
from edi.edifact.writer import WriteError
from hub.canonical import PurchaseOrderAck
from hub.canonical.codes import ack_line_status_from_edifact, ack_type_from_edifact
from hub.canonical.enums import AckType

_SHIP_DATES = ("11", "10")
_DELIVERY_DATES = ("2", "69", "17", "64")


@mapper("ORDRSP")
def map_ordrsp(view: MessageView) -> list[dict[str, Any]]:
    parts = MessageParts(view)
    header = parts.header
    raw_type = parts.bgm_value(2)
    if not raw_type:
        raise view.missing("response type", "BGM 1225")
    ack_type = view.code(ack_type_from_edifact, parts.bgm, raw_type, 3)
    po_number = header.ref("ON")
    if po_number is None:
        raise view.missing("order number", "RFF+ON")
    index_of = {"ack_date": header.dates.get("137", ("", parts.bgm))[1], "lines": parts.lines[0].first if parts.lines else None}
    supplier = header.parties.get("SU") or header.parties.get("SE")
    doc = {
        "document_type": "purchase_order_ack",
        "ack_id": parts.bgm_value(1) or None,
        "po_number": po_number,
        "po_date": header.date("171", "4"),
        "ack_type": ack_type.value,
        "ack_type_raw": raw_type,
        "supplier_partner_id": supplier_id(view, supplier) if supplier else None,
        "ack_date": parts.document_date("response date", "137"),
        "currency": parts.currency,
        "refs": [r for q, v, _ in header.refs if q != "ON" and (r := reference(q, v))],
        "lines": [_line(view, line, ack_type, raw_type) for line in parts.lines],
    }
    parts.check_line_count()
    return [view.validated(PurchaseOrderAck, drop_empty(doc), index_of)]



def _line(view: MessageView, line: LinePart, ack_type: AckType, header_code: str) -> dict[str, Any]:
    if not line.number:
        raise view.fail(line.first, "LIN has no order line number (1082)", 1, code="missing_line_number", ack="13")
    raw = line.action
    if raw:
        status = view.code(ack_line_status_from_edifact, line.first, raw, 2).value
    elif ack_type is AckType.ACCEPTED:
        # No line code: the header's "accepted without amendment" decided it; say so in the raw code.
        status, raw = "ACCEPTED", f"BGM 1225 {header_code}"
    else:
        raise view.fail(line.first, f"LIN has no action code (1229) and the response ({ack_type.value}) does "
                        "not accept every line", 2, code="missing_line_status", ack="13")
    ordered = line.qtys.get("21", (None, None, 0))
    confirmed = line.qtys.get("113") or line.qtys.get("12") or (None, None, 0)
    backorder = line.qtys.get("83", (None, None, 0))
    price = best_price(line.prices)
    reason = None
    if line.qvr is not None:
        reason = line.qvr[1] or line.qvr[0] or None
    return drop_empty(
        {
            "po_line_number": line.number,
            "status": status,
            "status_raw": raw,
            "reason_code": reason,
            "item_ids": line.ids.ids,
            "ordered_qty": ordered[0],
            "ordered_uom": ordered[1],
            "qty": confirmed[0],
            "uom": confirmed[1],
            "qty_backordered": backorder[0],
            "unit_price": price.amount if price else None,
            "price_uom": price.uom if price else None,
            "promised_ship_date": line.date(*_SHIP_DATES),
            "promised_delivery_date": line.date(*_DELIVERY_DATES),
            "date_qualifier_raw": next((q for q in _DELIVERY_DATES + _SHIP_DATES if q in line.dates), None),
        }
    )


# -- PurchaseOrderAck → ORDRSP ------------------------------------------------------------------


# Canonical line status → LIN 1229 for statuses the reading table has no code of its own for:
# backorders and changes are "3 changed" (QTY+83 / QTY+113 / PRI say what changed).
LINE_ACTION_CODES = {
    "ACCEPTED": "5", "CHANGED": "3", "PRICE_CHANGED": "3", "QTY_CHANGED": "3", "RESCHEDULED": "3",
    "SUBSTITUTED": "3", "BACKORDERED": "3", "PARTIAL_BACKORDER": "3", "REJECTED": "7", "DELETED": "7",
    "NOT_FOUND": "10",
}


def _code_for(table, value: str) -> str:
    code = next((code for code, enum in table.codes.items() if enum.value == value), None)
    if code is None:
        raise WriteError(f"{value} has no code in {table.element}")
    return code


def _line_action(line: dict[str, Any]) -> str | None:
    raw = line["status_raw"]
    if raw.startswith("BGM"):
        return None  # accepted by the header (BGM 1225 = 29): no line code, as it was read
    if raw in ack_line_status_from_edifact.codes:
        return raw
    code = LINE_ACTION_CODES.get(line["status"])
    if code is None:
        raise WriteError(f"line {line['po_line_number']}: status {line['status']} has no ORDRSP line action code")
    return code


def build_ordrsp(doc: dict[str, Any], profile: EdifactProfile, notes: WriteNotes | None = None
                ) -> tuple[str, list[Segment], str]:
    out = Out(profile, notes)
    raw = doc.get("ack_type_raw") if doc.get("ack_type_raw") in ack_type_from_edifact.codes else None
    out.add("BGM", "231", doc.get("ack_id"), raw or _code_for(ack_type_from_edifact, doc["ack_type"]))
    out.dtm("137", doc["ack_date"])
    out.rff("ON", doc["po_number"])
    out.dtm("171", doc.get("po_date"))
    out.refs(doc.get("refs", []), skip=("ON",))
    if doc.get("supplier_partner_id"):
        out.party("SU", {"role": "SU", "identifiers": [{"scheme": "ACCOUNT_AT_PARTNER",
                                                         "value": doc["supplier_partner_id"]}]}, [])
    out.currency(doc.get("currency"))
    for line in doc.get("lines", []):
        out.line_item(line["po_line_number"], _line_action(line), line.get("item_ids", []))
        out.qty("21", line.get("ordered_qty"), line.get("ordered_uom"))
        out.qty("113", line.get("qty"), line.get("uom"))
        out.qty("83", line.get("qty_backordered"))
        delivery_qualifier = line.get("date_qualifier_raw") if line.get("date_qualifier_raw") in _DELIVERY_DATES else "2"
        out.dtm(delivery_qualifier, line.get("promised_delivery_date"))
        out.dtm("11", line.get("promised_ship_date"))
        out.pri(line.get("unit_price"), uom=line.get("price_uom"))
        if line.get("reason_code"):
            out.add("QVR", "", "", [line["reason_code"]])
    out.summary(len(doc.get("lines", [])))
    return "ORDRSP", out.segments, doc["po_number"]
