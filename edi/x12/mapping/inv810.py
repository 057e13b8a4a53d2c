"""X12 810 Invoice → ``Invoice`` (domain.md B.4). TDS01/TDS02 and SAC05 are N2 (two implied
decimals): ``TDS*12345`` is 123.45. Money stays ``Decimal`` throughout."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from hub.canonical import Invoice
from hub.canonical.codes import invoice_type_from_x12

from edi.x12.mapping.base import SetView, mapper
from edi.x12.mapping.common import line_loop, charge, sac_reference, item_pairs, parties, reference, require_item_ids, terms, validate

LINE_END = ("IT1", "TDS", "CTT", "SE", "CAD", "ISS", "AMT")
ORIGINAL_INVOICE_REFS = ("OI", "IV", "8M")  # original invoice number / seller's invoice / originating company
PARTY_FIELDS = {"RE": "remit_to", "RI": "remit_to", "BT": "bill_to", "ST": "ship_to"}
SUPPLIER_ROLES = ("SU", "SE", "VN", "II")


@mapper("810")
def map_810(view: SetView) -> BaseModel:
    big_i, big = view.require("BIG")
    type_raw = view.value(big, 7)
    invoice_type = invoice_type_from_x12.get(type_raw)
    if invoice_type is None:
        raise view.fail(big_i, 7, f"transaction type {type_raw!r} is not a known BIG07 code", element_code="7",
                        bad_value=type_raw)
    inv: dict[str, Any] = {
        "invoice_date": view.date(big_i, 1, required=True),
        "invoice_number": view.need(big_i, 2, "BIG02 invoice number"),
        "po_date": view.date(big_i, 3), "po_number": view.opt(big, 4),
        "invoice_type": invoice_type.value, "invoice_type_raw": type_raw or None,
        "currency": "USD",  # the partner default when CUR is absent (domain.md B.1 convention)
    }
    first_line = next((i for i, _ in view.iter("IT1")), len(view.segments))
    index_of = {"invoice_date": big_i, "invoice_number": big_i}
    _header(view, inv, first_line)
    inv["lines"] = []
    for i, _ in view.iter("IT1"):
        index_of[f"lines.{len(inv['lines'])}"] = i
        inv["lines"].append(_line(view, i))
    _summary(view, inv, index_of)
    return validate(view, Invoice, inv, index_of)


def _header(view: SetView, inv: dict[str, Any], stop: int) -> None:
    refs = []
    for i, seg in enumerate(view.segments[:stop]):
        tag = seg[0]
        if tag == "CUR" and view.value(seg, 2):
            inv["currency"] = view.value(seg, 2)
        elif tag == "REF" and (ref := reference(view, seg)):
            refs.append(ref)
            if ref["qualifier"] in ORIGINAL_INVOICE_REFS and not inv.get("original_invoice_ref"):
                inv["original_invoice_ref"] = ref["value"]
        elif tag == "ITD" and "terms" not in inv:
            inv["terms"] = terms(view, i)
        elif tag == "DTM" and view.value(seg, 1) == "011":
            inv["ship_date"] = view.date(i, 2)
    inv["refs"] = refs
    found = parties(view, 0, stop)
    for role, field_name in PARTY_FIELDS.items():
        if role in found and field_name not in inv:
            inv[field_name] = found[role]
    supplier = next((found[r] for r in SUPPLIER_ROLES if r in found), None)
    inv["supplier"] = supplier
    ids = (supplier or {}).get("identifiers") or []
    inv["supplier_partner_id"] = ids[0]["value"] if ids else view.ts.interchange.sender_id


def _line(view: SetView, index: int) -> dict[str, Any]:
    seg = view.segments[index]
    line: dict[str, Any] = {"line_number": view.opt(seg, 1), "qty_invoiced": view.decimal(index, 2, required=True, mandatory=False),
                            "uom": view.opt(seg, 3), "unit_price": view.decimal(index, 4, required=True, mandatory=False),
                            "price_basis": view.opt(seg, 5), "refs": [], "charges": []}
    if line["line_number"]:
        line["po_line_number"] = line["line_number"]  # IT101 echoes PO101 (domain.md B.4)
    lots = item_pairs(view, index, 6, line=line)
    line["lot_numbers"], line["serial_numbers"] = lots["lot_number"], lots["serial_number"]
    require_item_ids(view, index, line, "item_ids")
    for i, sub in line_loop(view, index, LINE_END):
        tag = sub[0]
        if tag == "PID" and view.value(sub, 5) and "description" not in line:
            line["description"] = view.value(sub, 5)
        elif tag == "REF" and (ref := reference(view, sub)):
            if ref["qualifier"] == "LT":
                line["lot_numbers"].append(ref["value"])
            elif ref["qualifier"] in ("SE", "LS"):
                line["serial_numbers"].append(ref["value"])
            else:
                line["refs"].append(ref)
        elif tag == "SAC":
            found = charge(view, i)
            if found is not None:
                line["charges"].append(found)
            else:
                line["refs"].append(sac_reference(view, i))
        elif tag == "TXI":
            line["tax"] = view.decimal(i, 2)
    return line


def _summary(view: SetView, inv: dict[str, Any], index_of: dict[str, int]) -> None:
    tds = view.first("TDS")
    if tds is None:
        raise view.fail(len(view.segments) - 1, None, "mandatory segment TDS (total monetary value) missing",
                        element_code="1", syntax=True)
    tds_i, _ = tds
    inv["total_amount"] = view.decimal(tds_i, 1, implied=2, required=True)
    index_of["total_amount"] = tds_i
    inv["charges"] = []
    tax = None
    for i, seg in view.iter("SAC", "TXI"):
        if i < tds_i:  # SAC/TXI before TDS sit in IT1 loops; summary ones follow TDS
            continue
        if seg[0] == "SAC":
            found = charge(view, i)
            if found is not None:
                inv["charges"].append(found)
            else:
                inv["refs"].append(sac_reference(view, i))
        else:
            amount = view.decimal(i, 2)
            tax = amount if tax is None else tax + (amount or 0)
    inv["tax_total"] = tax
