"""Canonical documents → X12 transaction set bodies (the segments between ST and SE):
850 from a ``PurchaseOrder`` (what the hospital sends), and 855 / 856 / 810 from
``PurchaseOrderAck`` / ``ShipNotice`` / ``Invoice``. Each builder is the mirror of its
mapping in ``edi.x12.mapping``, so what the hub writes reads back to the same document (the
round-trip tests hold them to that).

Codes go out as received when the document kept them (``purpose_raw``, ``status_raw``,
identifier qualifiers); otherwise the canonical value is turned back into the standard code.
Money and quantities are written from ``Decimal`` without floats; TDS01 and SAC05 are N2.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from hub.canonical.codes import item_scheme_from_x12, po_purpose_from_x12

Segment = list[Any]

# Canonical → X12 codes where the document did not keep the raw one.
_PURPOSE = {v.value: k for k, v in po_purpose_from_x12.codes.items()}
_ITEM_QUALIFIER = {"GTIN": "UK", "NDC11": "N4", "HIBC": "HI", "VENDOR_PART": "VP", "VENDOR_CATALOG": "VC",
                   "MFR_PART": "MG", "BUYER_ITEM": "BP", "UPC": "UP", "UPN": "UA"}
_PARTY_QUALIFIER = {"GLN": "UL", "HIN": "21", "DEA": "11", "DUNS": "1", "FEIN": "24", "ACCOUNT_AT_PARTNER": "92"}
_CHARGE_CODE = {"FREIGHT": "D240", "FUEL": "D170", "HANDLING": "D500", "DISCOUNT": "C310", "TAX": "H850"}
_ACK_TYPE = {"ACCEPTED": "AD", "ACCEPTED_WITH_CHANGES": "AC", "REJECTED": "RJ", "PARTIAL": "AE", "HOLD": "AH"}
_LINE_STATUS = {"ACCEPTED": "IA", "BACKORDERED": "IB", "PARTIAL_BACKORDER": "BP", "CHANGED": "IC",
                "PRICE_CHANGED": "IP", "QTY_CHANGED": "IQ", "SUBSTITUTED": "IS", "RESCHEDULED": "DR",
                "ON_HOLD": "IH", "DELETED": "ID", "REJECTED": "IR"}
_INVOICE_TYPE = {"INVOICE": "", "CREDIT_MEMO": "CR", "DEBIT_MEMO": "DR"}
FUNCTIONAL_IDS = {"850": "PO", "855": "PR", "856": "SH", "810": "IN"}


def _d(value: Any) -> str:
    """A date as CCYYMMDD (datetimes: their date)."""
    if value is None:
        return ""
    text = str(value)
    return text[:10].replace("-", "")


def _n(value: Any) -> str:
    if value is None:
        return ""
    text = format(Decimal(str(value)), "f")
    return text


def _n2(value: Any) -> str:
    """N2: two implied decimals (123.45 → 12345)."""
    if value is None:
        return ""
    return str(int((Decimal(str(value)) * 100).to_integral_value()))


def _pairs(ids: list[dict[str, Any]], lots: list[str] = (), serials: list[str] = ()) -> list[str]:
    out: list[str] = []
    for ident in ids:
        qualifier = ident.get("qualifier") or _ITEM_QUALIFIER[ident["scheme"]]
        scheme = item_scheme_from_x12.get(qualifier)
        value = ident["value"]
        if scheme is not None and scheme.value == "GTIN" and qualifier != "UK" and len(value) == 14:
            value = value.lstrip("0").zfill({"UP": 12, "EN": 13, "EO": 8}.get(qualifier, 14))
        out += [qualifier, value]
    for lot in lots:
        out += ["LT", lot]
    for serial in serials:
        out += ["SN", serial]
    return out


def _refs(refs: list[dict[str, Any]]) -> list[Segment]:
    return [["REF", r["qualifier"], r["value"], *([r["description"]] if r.get("description") else [])]
            for r in refs]


def _party(ref: dict[str, Any] | None, default_role: str) -> list[Segment]:
    """An N1 loop; identifiers the mapping derived from the ISA are not written."""
    if not ref:
        return []
    ids = [i for i in ref.get("identifiers") or [] if i["scheme"] != "ISA_ID"]
    if not ids and not ref.get("name") and not ref.get("address"):
        return []
    first = ids[0] if ids and not (ids[0].get("qualifier") or "").startswith("REF") else None
    n1: Segment = ["N1", ref.get("role") or default_role, ref.get("name") or ""]
    if first is not None:
        n1 += [first.get("qualifier") or _PARTY_QUALIFIER.get(first["scheme"], "ZZ"), first["value"]]
    out = [n1]
    address = ref.get("address") or {}
    lines = address.get("lines") or []
    for i in range(0, len(lines), 2):
        out.append(["N3", *lines[i:i + 2]])
    if any(address.get(k) for k in ("city", "region", "postal_code", "country")):
        out.append(["N4", address.get("city") or "", address.get("region") or "", address.get("postal_code") or "",
                    address.get("country") or ""])
    if ref.get("contact"):
        out.append(_per(ref["contact"]))
    for ident in ids:
        if ident is not first and (ident.get("qualifier") or "").startswith("REF"):
            out.append(["REF", ident["qualifier"][3:], ident["value"]])
    return out


def _per(contact: dict[str, Any]) -> Segment:
    per: Segment = ["PER", contact.get("function") or "IC", contact.get("name") or ""]
    if contact.get("phone"):
        per += ["TE", contact["phone"]]
    if contact.get("email"):
        per += ["EM", contact["email"]]
    return per


def _charge(charge: dict[str, Any]) -> Segment:
    code = charge.get("type_raw") or _CHARGE_CODE.get(charge["type"], "ZZZZ")
    sac: Segment = ["SAC", charge["allowance_or_charge"][0], code, "", "", _n2(charge["amount"]), "",
                    _n(charge.get("percent"))]
    if charge.get("description"):
        sac += [""] * 7 + [charge["description"]]
    return sac


def _purpose(doc: dict[str, Any]) -> str:
    return doc.get("purpose_raw") or _PURPOSE.get(doc.get("purpose") or "ORIGINAL", "00")


# -- 850 ------------------------------------------------------------------------------------
def build_850(po: dict[str, Any]) -> list[Segment]:
    body: list[Segment] = [["BEG", _purpose(po), po.get("po_type_raw") or "SA", po["po_number"],
                            po.get("release_number") or "", _d(po["order_date"]), po.get("contract_ref") or ""]]
    body.append(["CUR", "BY", po.get("currency") or "USD"])
    body += _refs(po.get("refs") or [])
    if po.get("buyer_contact"):
        body.append(_per(po["buyer_contact"]))
    if po.get("payment_terms"):
        body.append(["ITD", "", "", "", "", "", "", "", "", "", "", "", po["payment_terms"]])
    for field, qualifier in (("requested_delivery_date", "002"), ("requested_ship_date", "010")):
        if po.get(field):
            body.append(["DTM", qualifier, _d(po[field])])
    body += [["MSG", note] for note in po.get("notes") or []]
    body += _party(po.get("buyer_org"), "BY")
    if po.get("bill_to"):
        body += _party(po["bill_to"], "BT")
    body += _party(po.get("ship_to"), "ST")
    # Without a supplier party the reader takes the supplier from the ISA receiver (the profile).
    body += _party(po.get("supplier"), "SU")
    for line in po["lines"]:
        body.append(["PO1", line["line_number"], _n(line["qty"]), line.get("uom") or "", _n(line.get("unit_price")),
                     line.get("price_basis") or "", *_pairs(line["item_ids_sent"], line.get("lot_numbers") or [],
                                                            line.get("serial_numbers") or [])])
        if line.get("description"):
            body.append(["PID", "F", "", "", "", line["description"]])
        body += _refs(line.get("refs") or [])
        if line.get("requested_date"):
            body.append(["DTM", "002", _d(line["requested_date"])])
    body.append(["CTT", str(len(po["lines"]))])
    return body


# -- 855 ------------------------------------------------------------------------------------
def build_855(ack: dict[str, Any]) -> list[Segment]:
    ack_type_raw = ack.get("ack_type_raw") or _ACK_TYPE[ack["ack_type"]]
    body: list[Segment] = [["BAK", _purpose(ack), ack_type_raw, ack["po_number"], _d(ack.get("po_date")),
                            "", "", "", ack.get("supplier_order_number") or "", _d(ack["ack_date"])]]
    if ack.get("currency"):
        body.append(["CUR", "SE", ack["currency"]])
    body += _refs(ack.get("refs") or [])
    body.append(["N1", "SU", "", "92", ack["supplier_partner_id"]])
    previous: tuple | None = None
    for line in ack.get("lines") or []:
        echo = (line["po_line_number"], line.get("ordered_qty"), line.get("ordered_uom"), line.get("unit_price"),
                tuple((i["scheme"], i["value"]) for i in line.get("item_ids") or []))
        if echo != previous:
            body.append(["PO1", line["po_line_number"], _n(line.get("ordered_qty")), line.get("ordered_uom") or "",
                         _n(line.get("unit_price")), "", *_pairs(line.get("item_ids") or [])])
            previous = echo
        implied = (line["status_raw"] == ack_type_raw and line.get("qty") is None
                   and not line.get("date_qualifier_raw") and not line.get("substitute_item_ids"))
        if implied:
            continue
        date_value = line.get("promised_ship_date") or line.get("promised_delivery_date")
        body.append(["ACK", line.get("status_raw") or _LINE_STATUS[line["status"]], _n(line.get("qty")),
                     line.get("uom") or "", line.get("date_qualifier_raw") or "", _d(date_value), "",
                     *_pairs(line.get("substitute_item_ids") or [])])
    body.append(["CTT", str(len({line["po_line_number"] for line in ack.get("lines") or []}))])
    return body


# -- 856 ------------------------------------------------------------------------------------
def build_856(asn: dict[str, Any]) -> list[Segment]:
    created = asn.get("created_at")
    body: list[Segment] = [["BSN", _purpose(asn), asn["asn_number"], _d(created or asn["ship_date"]),
                            _time(created), asn.get("hierarchy_code") or ""]]
    ids = _HlIds(asn)
    shipment_id = ids.new()
    body.append(["HL", shipment_id, "", "S"])
    if asn.get("package_count") is not None or asn.get("gross_weight") is not None:
        body.append(["TD1", "", str(asn.get("package_count") or ""), "", "", "", "", _n(asn.get("gross_weight")),
                     asn.get("weight_uom") or ""])
    if asn.get("carrier_scac") or asn.get("carrier_name"):
        body.append(["TD5", "", "2" if asn.get("carrier_scac") else "", asn.get("carrier_scac") or "", "",
                     asn.get("carrier_name") or ""])
    if asn.get("bol"):
        body.append(["REF", "BM", asn["bol"]])
    body += [["REF", "CN", t] for t in asn.get("tracking_numbers") or []]
    body += _refs(asn.get("refs") or [])
    body.append(["DTM", "011", _d(asn["ship_date"])])
    if asn.get("est_delivery_date"):
        body.append(["DTM", "017", _d(asn["est_delivery_date"])])
    for field, role in (("ship_to", "ST"), ("ship_from", "SF"), ("buyer", "BY"), ("seller", "SE")):
        body += _party(asn.get(field), role)
    statement = asn.get("dscsa_transaction_statement")
    if statement:
        body.append(["YNQ", "", "Y" if statement.get("present") else "N", "", "", statement.get("text") or "",
                     "", "", "99", "TS"])
        if statement.get("direct_purchase") is not None:
            body.append(["YNQ", "", "Y" if statement["direct_purchase"] else "N", "", "", "", "", "", "99", "DPS"])
    packs = {p["pack_id"]: p for p in asn.get("packs") or []}
    for po_number in dict.fromkeys(line["po_number"] for line in asn["lines"]):
        order_id = ids.new()
        body += [["HL", order_id, shipment_id, "O"], ["PRF", po_number]]
        written: set[str] = set()
        for line in (ln for ln in asn["lines"] if ln["po_number"] == po_number):
            parent = order_id
            if line.get("pack_id") in packs:
                body += _pack_levels(packs, line["pack_id"], order_id, written)
                parent = line["pack_id"]
            body += _item_level(line, parent)
    body.append(["CTT", str(sum(1 for seg in body if seg[0] == "HL"))])
    return body


def _time(value: Any) -> str:
    text = str(value or "")
    return text[11:16].replace(":", "") if len(text) > 11 else ""


class _HlIds:
    """HL01 values: item and pack levels keep their canonical ids (line_id, pack_id) so the
    document reads back the same; shipment and order levels get numbers that do not collide."""

    def __init__(self, asn: dict[str, Any]) -> None:
        taken = {str(line.get("line_id")) for line in asn["lines"]} | {p["pack_id"] for p in asn.get("packs") or []}
        self.taken = taken
        self.next = 1

    def new(self) -> str:
        while str(self.next) in self.taken:
            self.next += 1
        self.taken.add(str(self.next))
        return str(self.next)


def _pack_levels(packs: dict[str, dict[str, Any]], pack_id: str, order_id: str, written: set[str]) -> list[Segment]:
    if pack_id in written:
        return []
    pack = packs[pack_id]
    out: list[Segment] = []
    parent = order_id
    if pack.get("parent_pack_id") in packs:
        out += _pack_levels(packs, pack["parent_pack_id"], order_id, written)
        parent = pack["parent_pack_id"]
    written.add(pack_id)
    out.append(["HL", pack_id, parent, "T" if pack.get("level") == "TARE" else "P"])
    if pack.get("weight") is not None:
        out.append(["TD1", "", "", "", "", "", "", _n(pack["weight"]), pack.get("weight_uom") or ""])
    if pack.get("sscc"):
        out.append(["MAN", "GM", pack["sscc"]])
    return out


def _item_level(line: dict[str, Any], parent: str) -> list[Segment]:
    lots = line.get("lots") or []
    lot_numbers = list(dict.fromkeys(lot["lot_number"] for lot in lots if lot.get("lot_number")))
    serials = [lot["serial_number"] for lot in lots if lot.get("serial_number")]
    out: list[Segment] = [["HL", str(line["line_id"]), parent, "I"],
                          ["LIN", "", *_pairs(line["item_ids"], lot_numbers, serials)],
                          ["SN1", line.get("po_line_number") or "", _n(line["qty_shipped"]), line.get("uom") or "",
                           "", _n(line.get("qty_ordered")), line.get("uom_ordered") or "", "",
                           line.get("line_status_raw") or ""]]
    if line.get("description"):
        out.append(["PID", "F", "", "", "", line["description"]])
    out += _refs(line.get("refs") or [])
    expiry = next((lot["expiration_date"] for lot in lots if lot.get("expiration_date")), None)
    production = next((lot["production_date"] for lot in lots if lot.get("production_date")), None)
    if expiry:
        out.append(["DTM", "036", _d(expiry)])
    if production:
        out.append(["DTM", "405", _d(production)])
    return out


# -- 810 ------------------------------------------------------------------------------------
def build_810(inv: dict[str, Any]) -> list[Segment]:
    body: list[Segment] = [["BIG", _d(inv["invoice_date"]), inv["invoice_number"], _d(inv.get("po_date")),
                            inv.get("po_number") or "", "", "",
                            inv.get("invoice_type_raw") or _INVOICE_TYPE[inv["invoice_type"]]]]
    body.append(["CUR", "SE", inv.get("currency") or "USD"])
    body += _refs(inv.get("refs") or [])
    body += _party(inv.get("supplier"), "SU")
    for field, role in (("remit_to", "RE"), ("bill_to", "BT"), ("ship_to", "ST")):
        body += _party(inv.get(field), role)
    terms = inv.get("terms")
    if terms:
        body.append(["ITD", "", "", _n(terms.get("discount_pct")), "", str(terms.get("discount_days") or ""), "",
                     str(terms.get("net_days") or ""), "", "", "", "", terms.get("description") or ""])
    if inv.get("ship_date"):
        body.append(["DTM", "011", _d(inv["ship_date"])])
    for line in inv["lines"]:
        body.append(["IT1", line.get("line_number") or "", _n(line["qty_invoiced"]), line.get("uom") or "",
                     _n(line["unit_price"]), line.get("price_basis") or "",
                     *_pairs(line["item_ids"])])
        if line.get("description"):
            body.append(["PID", "F", "", "", "", line["description"]])
        body += [["REF", "LT", lot] for lot in line.get("lot_numbers") or []]
        body += [["REF", "SE", serial] for serial in line.get("serial_numbers") or []]
        body += _refs(line.get("refs") or [])
        body += [_charge(c) for c in line.get("charges") or []]
        if line.get("tax") is not None:
            body.append(["TXI", "TX", _n(line["tax"])])
    body.append(["TDS", _n2(inv["total_amount"])])
    if inv.get("tax_total") is not None:
        body.append(["TXI", "TX", _n(inv["tax_total"])])
    body += [_charge(c) for c in inv.get("charges") or []]
    body.append(["CTT", str(len(inv["lines"]))])
    return body


BUILDERS: dict[str, tuple[str, Callable[[dict[str, Any]], list[Segment]]]] = {
    "purchase_order": ("850", build_850),
    "purchase_order_ack": ("855", build_855),
    "ship_notice": ("856", build_856),
    "invoice": ("810", build_810),
}


def set_for(document: dict[str, Any]) -> tuple[str, list[Segment]]:
    """(ST01, body) for a canonical document dict (``model_dump(mode="json")`` form)."""
    try:
        set_id, build = BUILDERS[document["document_type"]]
    except KeyError:
        known = ", ".join(BUILDERS)
        raise ValueError(f"no X12 writer for document type {document.get('document_type')!r}; "
                         f"writable: {known}") from None
    return set_id, build(document)


__all__ = ["build_850", "build_855", "build_856", "build_810", "set_for", "FUNCTIONAL_IDS"]
