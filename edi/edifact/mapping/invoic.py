"""INVOIC → Invoice (domain.md B.11).

BGM 1001 invoice type (380 invoice, 381 credit note, 383 debit note, 384 corrected invoice),
1004 number; DTM 137 (or 3) invoice date, 35 delivery date; RFF ON order (+ its DTM 171 / 4 the
order date), IV original invoice, DQ / AAK / CT and others kept; NAD SU or SE supplier, IV or
BY bill-to, DP ship-to, PE payee remit-to (+ RFF VA); CUX; PAT / PCD terms; header and summary
ALC + MOA / PCD charges. Lines: LIN / PIA / IMD, QTY 47 invoiced (else 46 delivered or 12
despatched, warned), PRI unit price (without PRI: MOA 203 ÷ quantity, warned), MOA 203 (66)
line amount, TAX + MOA 124 line tax, ALC line charges, RFF ON / LI. Summary after UNS: MOA 77
(else 39, 86, 128, 9) total, MOA 124 / 176 tax total. CNT+2 is checked.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from pydifact.segments import Segment

from edi.common.outbound import WriteNotes
from edi.common.text import digits
from edi.edifact.mapping.base import MessageView, comp, drop_empty, mapper
from edi.edifact.mapping.common import best_price, reference, supplier_id
from edi.edifact.mapping.orders import payment_terms
from edi.edifact.mapping.out import Out
from edi.edifact.mapping.parts import LinePart, MessageParts, Part
from edi.edifact.profile import EdifactProfile
from hub.canonical import Invoice
from hub.canonical.codes import allowance_or_charge_from_code, invoice_type_from_edifact
from hub.canonical.enums import ChargeType
from hub.canonical.types import decimal_text

TOTAL_QUALIFIERS = ("77", "39", "86", "128", "9")
TAX_QUALIFIERS = ("176", "124")
# ALC C214 7161 / C552 codes → canonical charge types (UNCL 7161); the raw code is kept.
CHARGE_TYPES = {
    "FC": ChargeType.FREIGHT,
    "FI": ChargeType.FREIGHT,
    "ABW": ChargeType.FREIGHT,
    "FAC": ChargeType.FREIGHT,
    "HD": ChargeType.HANDLING,
    "PC": ChargeType.HANDLING,
    "DI": ChargeType.DISCOUNT,
    "QD": ChargeType.DISCOUNT,
    "ADR": ChargeType.DISCOUNT,
    "TX": ChargeType.TAX,
    "FUE": ChargeType.FUEL,
}


@mapper("INVOIC")
def map_invoic(view: MessageView) -> list[dict[str, Any]]:
    parts = MessageParts(view)
    header, summary = parts.header, parts.summary
    raw_type = parts.bgm_value(0)
    if parts.bgm is None or not parts.bgm_value(1):
        raise view.missing("invoice number", "BGM 1004")
    invoice_type = view.code(invoice_type_from_edifact, parts.bgm, raw_type, 1, 1)
    if not parts.lines:
        raise view.missing("invoice lines", "LIN")
    total = summary.amount(*TOTAL_QUALIFIERS) or header.amount(*TOTAL_QUALIFIERS)
    if total is None:
        raise view.missing("invoice total", "MOA+77")
    supplier = header.parties.get("SU") or header.parties.get("SE")
    index_of = {"invoice_date": parts.bgm, "lines": parts.lines[0].first, "supplier": header.party_index.get("SU"),
                "currency": parts.currency_index}
    doc = {
        "document_type": "invoice",
        "invoice_number": parts.bgm_value(1),
        "supplier_partner_id": supplier_id(view, supplier),
        "invoice_type": invoice_type.value,
        "invoice_type_raw": raw_type,
        "invoice_date": parts.document_date("invoice date", "137", "3"),
        "po_number": header.ref("ON"),
        "po_date": header.date("171", "4"),
        "original_invoice_ref": header.ref("IV") or header.ref("OI"),
        "currency": parts.document_currency(),
        "supplier": supplier,
        "remit_to": header.parties.get("PE"),
        "bill_to": header.parties.get("IV") or header.parties.get("BY"),
        "ship_to": header.parties.get("DP") or header.parties.get("ST"),
        "terms": _terms(view, parts, header),
        "ship_date": header.date("35", "11"),
        "total_amount": total,
        "tax_total": summary.amount(*TAX_QUALIFIERS) or _sum_taxes(summary),
        "charges": _charges(view, header) + _charges(view, summary),
        "refs": [r for q, v, _ in header.refs if q not in ("ON", "IV") and (r := reference(q, v))],
        "lines": [_line(view, line) for line in parts.lines],
    }
    parts.check_line_count()
    return [view.validated(Invoice, drop_empty(doc), index_of)]



def _terms(view: MessageView, parts: MessageParts, header: Part) -> dict[str, Any] | None:
    text = payment_terms(view, parts.pat)
    if text is None:
        return None
    net_days = None
    for index in parts.pat:
        seg = view.segments[index]
        # C112: time reference 2475, relation 2009, period unit 2151 (D = days), number 2152.
        if comp(seg, 0, 0) == "1" and comp(seg, 2, 2) == "D" and digits(comp(seg, 2, 3)):
            net_days = int(comp(seg, 2, 3))
    discount = next((c.get("percent") for c in header.charges if c.get("indicator") == "A" and c.get("percent")), None)
    return drop_empty({"description": text, "net_days": net_days, "discount_pct": discount})


def _sum_taxes(part: Part) -> str | None:
    amounts = [Decimal(amount) for _, amount, _ in part.taxes if amount is not None]
    return decimal_text(sum(amounts, Decimal(0))) if amounts else None


def _charges(view: MessageView, part: Part) -> list[dict[str, Any]]:
    out = []
    for charge in part.charges:
        index = charge["index"]
        if charge.get("amount") is None:
            view.warn(index, "allowance/charge without an amount (MOA 8 / 23 / 204) left out", code="charge_amount")
            continue
        raw = charge.get("type_raw")
        kind = view.code(allowance_or_charge_from_code, index, charge["indicator"], 1)
        out.append(drop_empty({
            "type": CHARGE_TYPES.get(raw or "", ChargeType.OTHER).value,
            "type_raw": raw,
            "allowance_or_charge": kind.value,
            "amount": charge["amount"],
            "percent": charge.get("percent"),
            "description": charge.get("description"),
        }))
    return out


def _quantity(view: MessageView, line: LinePart) -> tuple[str | None, str | None]:
    for qualifier in ("47", "46", "12"):
        found = line.qtys.get(qualifier)
        if found is not None and found[0] is not None:
            if qualifier != "47":
                view.warn(found[2], f"no invoiced quantity (QTY+47): QTY+{qualifier} used", 1, 1, code="quantity_fallback")
            return found[0], found[1]
    raise view.fail(line.first, "invoice line has no quantity (QTY+47)", code="missing_quantity", ack="13")


def _line(view: MessageView, line: LinePart) -> dict[str, Any]:
    qty, uom = _quantity(view, line)
    amount = line.amount("203", "66", "38")
    price = best_price(line.prices)
    unit_price = price.amount if price else None
    if unit_price is None:
        if amount is None or not Decimal(qty or "0"):
            raise view.fail(line.first, "invoice line has no unit price (PRI) nor line amount (MOA+203)",
                            code="missing_price", ack="13")
        unit_price = decimal_text(Decimal(amount) / Decimal(qty))
        view.warn(line.first, f"no unit price (PRI): {amount} ÷ {qty} = {unit_price} from MOA+203", code="derived_price")
    if not line.ids.ids:
        raise view.fail(line.first, "invoice line names no item (LIN C212 / PIA)", 3, code="missing_item", ack="13")
    return drop_empty(
        {
            "line_number": line.number or None,
            "po_number": line.ref("ON"),
            "po_line_number": line.ref("LI"),
            "item_ids": line.ids.ids,
            "description": line.description,
            "qty_invoiced": qty,
            "uom": uom,
            "unit_price": unit_price,
            "price_uom": price.uom if price else None,
            "price_basis": price.basis if price else None,
            "line_amount": amount,
            "lot_numbers": line.ids.lots,
            "serial_numbers": line.ids.serials,
            "tax": _sum_taxes(line),
            "charges": _charges(view, line),
            "refs": [r for q, v, _ in line.refs if q not in ("ON", "LI") and (r := reference(q, v))] + line.ids.refs,
        }
    )


# -- Invoice → INVOIC ----------------------------------------------------------------------------


def build_invoic(doc: dict[str, Any], profile: EdifactProfile, notes: WriteNotes | None = None
                ) -> tuple[str, list[Segment], str]:
    out = Out(profile, notes)
    raw = doc.get("invoice_type_raw")
    code = raw if raw in invoice_type_from_edifact.codes else next(
        c for c, t in invoice_type_from_edifact.codes.items() if t.value == doc["invoice_type"])
    out.add("BGM", code, doc["invoice_number"])
    out.dtm("137", doc["invoice_date"])
    out.dtm("35", doc.get("ship_date"))
    out.payment_terms((doc.get("terms") or {}).get("description"), part="FTX")
    out.rff("ON", doc.get("po_number"))
    out.dtm("171", doc.get("po_date"))
    out.rff("IV", doc.get("original_invoice_ref"))
    out.refs(doc.get("refs", []), skip=("ON", "IV"))
    written: list[dict[str, Any]] = []
    out.party("SU", doc.get("supplier") or {"role": "SU", "identifiers": [
        {"scheme": "ACCOUNT_AT_PARTNER", "value": doc["supplier_partner_id"]}]}, written)
    out.party("IV", doc.get("bill_to"), written, roles=("IV", "BY"))  # the reader takes either
    out.party("DP", doc.get("ship_to"), written)
    out.party("PE", doc.get("remit_to"), written)
    out.currency(doc["currency"])
    out.terms(doc.get("terms"))
    _write_charges(out, doc.get("charges", []), "charges")
    for n, line in enumerate(doc["lines"]):
        out.line_item(line.get("line_number"), None, line["item_ids"], line.get("lot_numbers", []),
                      line.get("serial_numbers", []))
        out.description(line.get("description"))
        out.qty("47", line["qty_invoiced"], line.get("uom"))
        out.moa("203", line.get("line_amount"))
        out.pri(line["unit_price"], line.get("price_basis"), line.get("price_uom"))
        out.rff("ON", line.get("po_number"))
        out.rff("LI", line.get("po_line_number"))
        out.refs(line.get("refs", []), skip=("ON", "LI"))
        if line.get("tax") is not None:
            out.add("TAX", "7", "VAT")
            out.moa("124", line["tax"])
        _write_charges(out, line.get("charges", []), f"lines.{n}.charges")
    out.summary(len(doc["lines"]))
    out.moa("77", doc["total_amount"])
    out.moa("176", doc.get("tax_total"))
    return "INVOIC", out.segments, doc["invoice_number"]


def charge_code(charge: dict[str, Any]) -> str:
    """ALC C214 7161 (an..3): the code as sent when it is an EDIFACT one, else the canonical
    type's first code in ``CHARGE_TYPES``; '' when there is none (an X12 SAC02 such as D240
    never travels into an INVOIC)."""
    raw = charge.get("type_raw") or ""
    if raw in CHARGE_TYPES or re.fullmatch(r"[A-Z0-9]{1,3}", raw):
        return raw
    return next((code for code, kind in CHARGE_TYPES.items() if kind.value == charge["type"]), "")


def _write_charges(out: Out, charges: list[dict[str, Any]], where: str) -> None:
    for n, charge in enumerate(charges):
        allowance = charge["allowance_or_charge"] == "ALLOWANCE"
        type_code = charge_code(charge)
        if not type_code:
            out.warn(f"{where}.{n}.type_raw", f"{charge.get('type_raw') or charge['type']} has no UNCL 7161 code: the "
                     "charge is sent without one (its description and amount travel)")
        out.add("ALC", "A" if allowance else "C", "", "", "", [type_code, "", "", charge.get("description") or ""])
        if charge.get("percent") is not None:
            out.add("PCD", ["1" if allowance else "2", out.number(charge["percent"])])
        out.moa("204" if allowance else "23", charge["amount"])
