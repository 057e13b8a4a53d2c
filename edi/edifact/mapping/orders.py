"""ORDERS → PurchaseOrder (domain.md B.8).

BGM 1001 order type (220 standard, 221/226 blanket or call-off, 227 consignment; any other code
is a standard order with the code kept in ``po_type_raw``), 1004 po_number, 1225 purpose;
DTM 137 order date, 2 requested delivery, 10 requested ship; RFF CT contract; NAD BY / SU / DP /
IV; CUX; PAT; FTX notes. Lines: LIN 1082 (kept as sent) and C212, PIA (SA, IN, MF, AC, BP),
IMD, QTY 21 (+6411), PRI AAA net (AAB gross when no net), DTM 2 per line, RFF per line.
CNT+2 is checked against the lines.
"""

from __future__ import annotations

import re
from typing import Any

from pydifact.segments import Segment

from edi.common.outbound import WriteNotes
from edi.edifact.mapping.base import MessageView, comp, drop_empty, mapper
from edi.edifact.mapping.common import best_price, purpose_code, reference, supplier_id
from edi.edifact.mapping.out import Out, wrap
from edi.edifact.mapping.parts import LinePart, MessageParts, Part
from edi.edifact.profile import EdifactProfile
from edi.edifact.writer import WriteError
from hub.canonical import PurchaseOrder
from hub.canonical.codes import po_purpose_from_edifact
from hub.canonical.enums import PoType

ORDER_TYPES = {
    "220": PoType.STANDARD,
    "221": PoType.BLANKET_RELEASE,  # blanket order
    "226": PoType.BLANKET_RELEASE,  # call off order
    "227": PoType.CONSIGNMENT_REPLENISH,  # consignment order
}


@mapper("ORDERS")
def map_orders(view: MessageView) -> list[dict[str, Any]]:
    parts = MessageParts(view)
    header = parts.header
    if parts.bgm is None or not parts.bgm_value(1):
        raise view.missing("order number", "BGM 1004")
    index_of = {"po_number": parts.bgm, "order_date": header.dates.get("137", ("", parts.bgm))[1],
                "currency": parts.currency_index}
    order_type = parts.bgm_value(0)
    doc: dict[str, Any] = {
        "document_type": "purchase_order",
        "po_number": parts.bgm_value(1),
        "po_type": ORDER_TYPES.get(order_type, PoType.STANDARD).value,
        "po_type_raw": order_type or None,
        "order_date": parts.document_date("order date", "137"),
        "currency": parts.document_currency(),
        "contract_ref": header.ref("CT"),
        "requested_delivery_date": header.date("2", "64"),
        "requested_ship_date": header.date("10"),
        "payment_terms": payment_terms(view, parts.pat) or header.terms_text,
        "notes": header.notes,
        "refs": [r for q, v, _ in header.refs if q != "CT" and (r := reference(q, v))],
    }
    doc.update(purpose(view, parts))
    doc.update(order_parties(view, header, index_of))
    doc["lines"] = [_line(view, line, number) for number, line in enumerate(parts.lines, start=1)]
    if not parts.lines:
        raise view.missing("order lines", "LIN")
    index_of["lines"] = parts.lines[0].first
    parts.check_line_count()
    return [view.validated(PurchaseOrder, drop_empty(doc), index_of)]


def purpose(view: MessageView, parts: MessageParts) -> dict[str, Any]:
    """BGM 1225 → purpose (ORIGINAL when absent: the message is the order itself)."""
    raw = parts.bgm_value(2)
    if not raw:
        return {"purpose": "ORIGINAL"}
    return {"purpose": view.code(po_purpose_from_edifact, parts.bgm, raw, 3).value, "purpose_raw": raw}



def order_parties(view: MessageView, header: Part, index_of: dict[str, int]) -> dict[str, Any]:
    parties = header.parties
    buyer = parties.get("BY")
    ship_to = parties.get("DP") or parties.get("ST") or parties.get("UC")
    if buyer is None:
        buyer = _sender_party(view)
    if ship_to is None:
        view.warn(None, "no delivery party (NAD+DP): the buyer is the ship-to", code="ship_to_from_buyer")
        ship_to = buyer
    index_of.update({f: header.party_index.get(r, 0) for f, r in (("buyer_org", "BY"), ("ship_to", "DP"))})
    supplier = parties.get("SU") or parties.get("SE")
    return {
        "buyer_org": buyer,
        "ship_to": ship_to,
        "bill_to": parties.get("IV"),
        "supplier": supplier,
        "supplier_partner_id": supplier_id(view, supplier) if supplier else view.message.interchange.recipient_id,
    }


def _sender_party(view: MessageView) -> dict[str, Any]:
    interchange = view.message.interchange
    view.warn(None, "no buyer (NAD+BY): the interchange sender is the buyer", code="buyer_from_unb")
    return {"role": "BY", "identifiers": [drop_empty({"scheme": "UNB_ID", "value": interchange.sender_id,
                                                       "qualifier": interchange.sender_qualifier or None})]}


def payment_terms(view: MessageView, indexes: list[int]) -> str | None:
    """PAT as text: type 4279, then C112 time reference / relation / unit / number."""
    texts = []
    for index in indexes:
        seg = view.segments[index]
        terms = [comp(seg, 0, 0)] + [comp(seg, 2, i) for i in range(4)]
        texts.append(":".join(terms).rstrip(":"))
    return "; ".join(t for t in texts if t) or None


def _line(view: MessageView, line: LinePart, position: int) -> dict[str, Any]:
    ordered = line.qtys.get("21") or line.qtys.get("1")
    if ordered is None or ordered[0] is None:
        raise view.fail(line.first, "order line has no ordered quantity (QTY+21)", code="missing_quantity", ack="13")
    if not line.ids.ids:
        raise view.fail(line.first, "order line names no item (LIN C212 / PIA)", 3, code="missing_item", ack="13")
    price = best_price(line.prices)
    number = line.number
    if not number:
        number = str(position)
        view.warn(line.first, f"LIN has no line number (1082): position {number} used", 1, code="line_number")
    return drop_empty(
        {
            "line_number": number,
            "item_ids_sent": line.ids.ids,
            "description": line.description,
            "qty": ordered[0],
            "uom": ordered[1],
            "unit_price": price.amount if price else None,
            "price_uom": price.uom if price else None,
            "price_basis": price.basis if price else None,
            "requested_date": line.date("2", "64", "10"),
            "lot_numbers": line.ids.lots,
            "serial_numbers": line.ids.serials,
            "refs": [r for q, v, _ in line.refs if (r := reference(q, v))] + line.ids.refs,
        }
    )


# -- PurchaseOrder → ORDERS ----------------------------------------------------------------------

_ORDER_TYPE_CODES = {PoType.STANDARD.value: "220", PoType.BLANKET_RELEASE.value: "221",
                     PoType.CONSIGNMENT_REPLENISH.value: "227"}


def build_orders(doc: dict[str, Any], profile: EdifactProfile, notes: WriteNotes | None = None
                ) -> tuple[str, list[Segment], str]:
    out = Out(profile, notes)
    raw = doc.get("po_type_raw") or ""
    # Keep the partner's code when it is an EDIFACT 1001 code (220, 50E ...), not an X12 BEG02.
    order_type = raw if re.fullmatch(r"[0-9]{1,3}[A-Z]?", raw) else _ORDER_TYPE_CODES.get(doc["po_type"])
    if order_type is None:
        raise WriteError(f"po_type {doc['po_type']} has no EDIFACT order type code: set po_type_raw to the "
                         "partner's BGM 1001 code")
    # No 1225 reads back as ORIGINAL without a raw code: write one only when it says more.
    explicit = doc.get("purpose_raw") in po_purpose_from_edifact.codes or doc.get("purpose", "ORIGINAL") != "ORIGINAL"
    out.add("BGM", order_type, doc["po_number"], purpose_code(doc) if explicit else None)
    out.dtm("137", doc["order_date"])
    out.dtm("2", doc.get("requested_delivery_date"))
    out.dtm("10", doc.get("requested_ship_date"))
    for note in doc.get("notes", []):
        out.add("FTX", "AAI", "", "", wrap(note, 70, 5))
    out.payment_terms(doc.get("payment_terms"), part="FTX")
    out.rff("CT", doc.get("contract_ref"))
    out.refs(doc.get("refs", []), skip=("CT",))
    written: list[dict[str, Any]] = []
    out.party("BY", doc["buyer_org"], written)
    out.party("SU", doc.get("supplier") or {"role": "SU", "identifiers": [
        {"scheme": "ACCOUNT_AT_PARTNER", "value": doc["supplier_partner_id"]}]}, written)
    out.party("DP", doc["ship_to"], written)
    out.party("IV", doc.get("bill_to"), written)
    out.currency(doc["currency"])
    out.payment_terms(doc.get("payment_terms"))
    for line in doc["lines"]:
        out.line_item(line["line_number"], None, line["item_ids_sent"], line.get("lot_numbers", []),
                      line.get("serial_numbers", []))
        out.description(line.get("description"))
        out.qty("21", line["qty"], line.get("uom"))
        out.dtm("2", line.get("requested_date"))
        out.pri(line.get("unit_price"), line.get("price_basis"), line.get("price_uom"))
        out.refs(line.get("refs", []))
    out.summary(len(doc["lines"]))
    return "ORDERS", out.segments, doc["po_number"]
