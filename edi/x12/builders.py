"""Canonical documents → X12 transaction set bodies (the segments between ST and SE):
850 from a ``PurchaseOrder`` (what the hospital sends), and 855 / 856 / 810 from
``PurchaseOrderAck`` / ``ShipNotice`` / ``Invoice``. Each builder is the mirror of its
mapping in ``edi.x12.mapping``, so what the hub writes reads back to the same document (the
round-trip tests hold them to that).

Codes go out as received when the document kept them (``purpose_raw``, ``status_raw``,
identifier qualifiers); otherwise the canonical value is turned back into the standard code.
Money and quantities are written from ``Decimal`` without floats; TDS01 and SAC05 are N2.
What a set cannot carry is a warning in ``WriteNotes`` naming the field (``CARRIED`` lists
what each builder maps; ``edi.common.outbound.uncarried`` reports the rest), never dropped
silently.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from edi.common.outbound import WriteError, WriteNotes, target_qualifier, uncarried
from edi.x12.mapping.ack855 import EXTRA_ACK_TYPES
from edi.x12.mapping.common import EXTRA_PARTY_SCHEMES, ITEM_SCHEME_VALUES
from hub.canonical.codes import (
    ack_line_status_from_x12,
    ack_type_from_x12,
    invoice_type_from_x12,
    item_scheme_from_edifact,
    item_scheme_from_x12,
    party_scheme_from_edifact,
    party_scheme_from_x12,
    po_purpose_from_x12,
    po_type_from_x12,
)

Segment = list[Any]

# Canonical → X12 codes where the document did not keep the raw one.
_PURPOSE = {v.value: k for k, v in po_purpose_from_x12.codes.items()}
_PO_TYPE = {v.value: k for k, v in reversed(po_type_from_x12.codes.items())}
_ITEM_QUALIFIER = {"GTIN": "UK", "NDC11": "N4", "HIBC": "HI", "VENDOR_PART": "VP", "VENDOR_CATALOG": "VC",
                   "MFR_PART": "MG", "BUYER_ITEM": "BP", "UPC": "UP", "UPN": "UA"}
_PARTY_QUALIFIER = {"GLN": "UL", "HIN": "21", "DEA": "11", "DUNS": "1", "FEIN": "24", "ACCOUNT_AT_PARTNER": "92"}
# SAC02 (element 1300) per canonical charge type; the reader maps these (and more) back.
CHARGE_CODES = {"FREIGHT": "D240", "FUEL": "D170", "HANDLING": "D500", "DISCOUNT": "C310", "TAX": "H850"}
_SAC_CODE = re.compile(r"[A-Z][0-9]{3}")
_ACK_TYPE = {"ACCEPTED": "AD", "ACCEPTED_WITH_CHANGES": "AC", "REJECTED": "RJ", "PARTIAL": "AE", "HOLD": "AH"}
_LINE_STATUS = {"ACCEPTED": "IA", "BACKORDERED": "IB", "PARTIAL_BACKORDER": "BP", "CHANGED": "IC",
                "PRICE_CHANGED": "IP", "QTY_CHANGED": "IQ", "SUBSTITUTED": "IS", "RESCHEDULED": "DR",
                "ON_HOLD": "IH", "DELETED": "ID", "REJECTED": "IR"}
_INVOICE_TYPE = {"INVOICE": "", "CREDIT_MEMO": "CR", "DEBIT_MEMO": "DR"}
_LINE_STATUS["NOT_FOUND"] = "R2"  # rejected, invalid item product number
_TWO = re.compile(r"[0-9A-Z]{2}")
_PARTY_CODE = re.compile(r"[0-9A-Z]{1,2}")
_ACK_TYPES = {*ack_type_from_x12.codes, *EXTRA_ACK_TYPES}
# Code → scheme of both standards, to tell an X12 qualifier from an EDIFACT one.
_EDIFACT_ITEM_SCHEMES = {c: s.value for c, s in item_scheme_from_edifact.codes.items()}
_X12_PARTY_SCHEMES = {c: s.value for c, s in {**party_scheme_from_x12.codes, **EXTRA_PARTY_SCHEMES}.items()}
_EDIFACT_PARTY_SCHEMES = {c: s.value for c, s in party_scheme_from_edifact.codes.items()}
_TWO_LETTERS = re.compile(r"[A-Z]{2}")
_DATE_QUALIFIER = re.compile(r"[0-9]{3}")
ORIGINAL_INVOICE_REFS = ("OI", "IV", "8M")
FUNCTIONAL_IDS = {"850": "PO", "855": "PR", "856": "SH", "810": "IN"}
# BSN05 codes that name an order level (S/O/P/I, S/O/I/P, S/O/I): their HL tree keeps it.
ORDER_HIERARCHIES = frozenset({"0001", "0002", "0004"})
MAX_PAIRS = 10  # PO1/IT1/LIN/ACK hold ten qualifier/ID pairs after their fixed elements
NOTE_HEAD, MSG_WIDTH = 45, 264  # N903 and MSG01 maximum lengths (4010 and 5010)

# Canonical fields each builder maps (a path carries everything under it); the rest is warned.
_PARTIES = ("buyer_org", "bill_to", "ship_to", "supplier", "remit_to", "ship_from", "seller", "buyer")
CARRIED: dict[str, frozenset[str]] = {
    "purchase_order": frozenset({
        "po_number", "release_number", "po_type", "po_type_raw", "purpose", "purpose_raw", "order_date",
        "buyer_org", "bill_to", "ship_to", "supplier", "currency", "contract_ref", "requested_delivery_date",
        "requested_ship_date", "payment_terms", "buyer_contact", "notes", "refs", "lines[].line_number",
        "lines[].item_ids_sent", "lines[].description", "lines[].qty", "lines[].uom", "lines[].unit_price",
        "lines[].price_basis", "lines[].requested_date", "lines[].lot_numbers", "lines[].serial_numbers",
        "lines[].refs"}),
    "purchase_order_ack": frozenset({
        "po_number", "po_date", "purpose", "purpose_raw", "ack_type", "ack_type_raw", "supplier_order_number",
        "ack_date", "currency", "refs", "lines[].po_line_number", "lines[].status", "lines[].status_raw",
        "lines[].reason_code", "lines[].item_ids", "lines[].ordered_qty", "lines[].ordered_uom", "lines[].qty",
        "lines[].uom", "lines[].qty_backordered", "lines[].unit_price", "lines[].substitute_item_ids",
        "lines[].promised_ship_date", "lines[].promised_delivery_date", "lines[].date_qualifier_raw"}),
    "ship_notice": frozenset({
        "asn_number", "purpose", "purpose_raw", "created_at", "ship_date", "est_delivery_date", "ship_from",
        "ship_to", "seller", "buyer", "carrier_scac", "carrier_name", "tracking_numbers", "bol", "package_count",
        "gross_weight", "weight_uom", "hierarchy_code", "dscsa_transaction_statement", "refs", "packs[].pack_id",
        "packs[].parent_pack_id", "packs[].sscc", "packs[].level", "packs[].weight", "packs[].weight_uom",
        "packs[].line_refs", "lines[].line_id", "lines[].po_number", "lines[].po_line_number", "lines[].item_ids",
        "lines[].description", "lines[].qty_shipped", "lines[].uom", "lines[].qty_ordered", "lines[].uom_ordered",
        "lines[].line_status", "lines[].line_status_raw", "lines[].pack_id", "lines[].refs", "lines[].lots[]"}),
    "invoice": frozenset({
        "invoice_number", "invoice_type", "invoice_type_raw", "invoice_date", "po_number", "po_date",
        "original_invoice_ref", "currency", "supplier", "remit_to", "bill_to", "ship_to", "terms", "ship_date",
        "total_amount", "tax_total", "charges", "refs", "lines[].line_number", "lines[].po_number",
        "lines[].po_line_number", "lines[].item_ids", "lines[].description", "lines[].qty_invoiced", "lines[].uom",
        "lines[].unit_price", "lines[].price_basis", "lines[].line_amount", "lines[].lot_numbers",
        "lines[].serial_numbers", "lines[].tax", "lines[].charges", "lines[].refs"}),
}


def _d(value: Any) -> str:
    """A date as CCYYMMDD (datetimes: their date)."""
    if value is None:
        return ""
    text = str(value)
    return text[:10].replace("-", "")


def _n(value: Any) -> str:
    if value is None:
        return ""
    return format(Decimal(str(value)), "f")


def _n2(value: Any) -> str:
    """N2: two implied decimals (123.45 → 12345)."""
    if value is None:
        return ""
    return str(int((Decimal(str(value)) * 100).to_integral_value()))


def _pairs(ids: list[dict[str, Any]], notes: WriteNotes, where: str, lots: Sequence[str] = (),
           serials: Sequence[str] = (), room: int = MAX_PAIRS) -> list[str]:
    """Qualifier/ID pairs (PO106…, LIN02…, IT106…, ACK07…): identifiers, then LT lots and SN
    serials; what does not fit the segment's pairs is named in a warning."""
    pairs: list[tuple[str, str, str]] = []
    for n, ident in enumerate(ids):
        qualifier = target_qualifier(ident, ITEM_SCHEME_VALUES, _EDIFACT_ITEM_SCHEMES, _ITEM_QUALIFIER, _TWO)
        if not qualifier:
            notes.warn(f"{where}.{n}", f"{ident['scheme']} {ident['value']} has no X12 product qualifier; not sent")
            continue
        scheme = item_scheme_from_x12.get(qualifier)
        value = ident["value"]
        if scheme is not None and scheme.value == "GTIN" and qualifier != "UK" and len(value) == 14:
            value = value.lstrip("0").zfill({"UP": 12, "EN": 13, "EO": 8}.get(qualifier, 14))
        pairs.append((qualifier, value, f"{where}.{n}"))
    pairs += [("LT", lot, "lot") for lot in lots] + [("SN", serial, "serial") for serial in serials]
    for qualifier, value, place in pairs[room:]:
        notes.warn(place, f"{qualifier} {value}: the segment holds {room} identifier pairs; not sent")
    return [text for qualifier, value, _ in pairs[:room] for text in (qualifier, value)]


def _refs(refs: list[dict[str, Any]]) -> list[Segment]:
    return [["REF", r["qualifier"], r["value"], *([r["description"]] if r.get("description") else [])]
            for r in refs]


def _party(ref: dict[str, Any] | None, default_role: str, notes: WriteNotes, where: str) -> list[Segment]:
    """An N1 loop. N1 holds one identifier (a non-REF one first); identifiers read from an N1
    loop's REF go back there; any other one cannot be carried and is named in a warning.
    Identifiers the mapping derived from the ISA are not written (the envelope carries them)."""
    if not ref:
        return []
    ids = [(n, i) for n, i in enumerate(ref.get("identifiers") or []) if i["scheme"] != "ISA_ID"]
    if not ids and not ref.get("name") and not ref.get("address"):
        return []
    first = next(((n, i) for n, i in ids if not (i.get("qualifier") or "").startswith("REF")), None)
    n1: Segment = ["N1", ref.get("role") or default_role, ref.get("name") or ""]
    if first is not None:
        qualifier = target_qualifier(first[1], _X12_PARTY_SCHEMES, _EDIFACT_PARTY_SCHEMES, _PARTY_QUALIFIER, _PARTY_CODE)
        n1 += [qualifier or "ZZ", first[1]["value"]]
    out = [n1]
    address = ref.get("address") or {}
    lines = address.get("lines") or []
    for i in range(0, min(len(lines), 4), 2):  # N3 repeats twice in the loop, two lines each
        out.append(["N3", *lines[i:i + 2]])
    if len(lines) > 4:
        notes.warn(f"{where}.address.lines.4", "N3 carries four address lines; the rest is not sent")
    if any(address.get(k) for k in ("city", "region", "postal_code", "country")):
        out.append(["N4", address.get("city") or "", address.get("region") or "", address.get("postal_code") or "",
                    address.get("country") or ""])
    if address.get("name"):
        notes.warn(f"{where}.address.name", "an N1 loop names the party once (N102); not sent")
    if ref.get("contact"):
        out.append(_per(ref["contact"]))
    for n, ident in ids:
        if first is not None and ident is first[1]:
            continue
        if (ident.get("qualifier") or "").startswith("REF"):
            out.append(["REF", ident["qualifier"][3:], ident["value"]])
        else:
            notes.warn(f"{where}.identifiers.{n}", f"{ident['scheme']} {ident['value']}: N1 holds one identifier "
                       "(N103/N104); not sent")
    return out


def _per(contact: dict[str, Any]) -> Segment:
    per: Segment = ["PER", contact.get("function") or "IC", contact.get("name") or ""]
    if contact.get("phone"):
        per += ["TE", contact["phone"]]
    if contact.get("email"):
        per += ["EM", contact["email"]]
    return per


def charge_code(charge: dict[str, Any]) -> str:
    """SAC02 (element 1300): the code as sent when it is an X12 one (a letter and three digits),
    else the canonical type's X12 code; ZZZZ (mutually defined) for others. An EDIFACT 7161
    code read from an INVOIC never travels into an 810."""
    raw = charge.get("type_raw") or ""
    if _SAC_CODE.fullmatch(raw):
        return raw
    return CHARGE_CODES.get(charge["type"], "ZZZZ")


def _charge(charge: dict[str, Any]) -> Segment:
    sac: Segment = ["SAC", charge["allowance_or_charge"][0], charge_code(charge), "", "", _n2(charge["amount"]), "",
                    _n(charge.get("percent"))]
    if charge.get("percent") is not None:
        sac[6] = "3"  # SAC06 percent qualifier: discount/gross (SAC07 needs one, P0607)
    if charge.get("description"):
        sac += [""] * 7 + [charge["description"]]
    return sac


def _purpose(doc: dict[str, Any]) -> str:
    """BEG01 / BAK01 / BSN01 (353): the code as sent when it is an X12 one (two characters),
    else the canonical purpose's code — an EDIFACT 1225 ('9') never travels into X12."""
    return _raw(doc.get("purpose_raw"), _TWO) or _PURPOSE.get(doc.get("purpose") or "ORIGINAL", "00")


def _raw(value: str | None, known: Collection[str] | re.Pattern[str]) -> str | None:
    """A code kept as received, when it belongs to X12 (a known code or the element's shape);
    None for a code another standard sent (the canonical value is mapped instead)."""
    if not value:
        return None
    ok = known.fullmatch(value) if isinstance(known, re.Pattern) else value in known
    return value if ok else None


def _mapped(table: dict[str, str], value: str, field_name: str, element: str) -> str:
    try:
        return table[value]
    except KeyError:
        raise WriteError(f"{field_name}: {value} has no {element} code") from None


def _notes_loops(notes_text: list[str], version: str) -> list[Segment]:
    """Free-text notes as N9*L1 loops (an 850 has MSG only inside N9 or SPI; 005010 replaced it
    by MTX): a note that fits N903 (45) is the N9 itself; a longer one puts its first words
    there and the rest in MSG lines of 264 (004010) or one MTX02 (005010)."""
    out: list[Segment] = []
    for note in notes_text:
        head, rest = _split_words(note, NOTE_HEAD)
        out.append(["N9", "L1", "", head])
        if rest and version[:6] >= "005010":
            out.append(["MTX", "", rest])
            continue
        while rest:
            line, rest = _split_words(rest, MSG_WIDTH)
            out.append(["MSG", line])
    return out


def _split_words(text: str, width: int) -> tuple[str, str]:
    if len(text) <= width:
        return text, ""
    cut = text.rfind(" ", 1, width + 1)
    cut = cut if cut > 0 else width
    return text[:cut].rstrip(), text[cut:].lstrip()


# -- 850 ------------------------------------------------------------------------------------
def build_850(po: dict[str, Any], notes: WriteNotes, version: str = "004010") -> list[Segment]:
    if not _raw(po.get("po_type_raw"), _TWO_LETTERS) and po.get("po_type") not in _PO_TYPE:
        notes.warn("po_type", f"{po.get('po_type')} has no BEG02 code (agree one with the partner: po_type_raw); "
                   "sent as SA")
    body: list[Segment] = [["BEG", _purpose(po), _raw(po.get("po_type_raw"), _TWO_LETTERS) or _PO_TYPE.get(
                            po.get("po_type"), "SA"),
                            po["po_number"], po.get("release_number") or "", _d(po["order_date"]),
                            po.get("contract_ref") or ""]]
    body.append(["CUR", "BY", po.get("currency") or "USD"])
    body += _refs(po.get("refs") or [])
    if po.get("buyer_contact"):
        body.append(_per(po["buyer_contact"]))
    if po.get("payment_terms"):
        body.append(["ITD", "", "", "", "", "", "", "", "", "", "", "", po["payment_terms"]])
    for field_name, qualifier in (("requested_delivery_date", "002"), ("requested_ship_date", "010")):
        if po.get(field_name):
            body.append(["DTM", qualifier, _d(po[field_name])])
    if any(len(n) > NOTE_HEAD for n in po.get("notes") or []):
        notes.warn("notes", f"a note longer than {NOTE_HEAD} characters travels as N9 text + MSG lines; "
                   "partners (and the hub) read the parts as separate notes")
    body += _notes_loops(po.get("notes") or [], version)
    body += _party(po.get("buyer_org"), "BY", notes, "buyer_org")
    body += _party(po.get("bill_to"), "BT", notes, "bill_to")
    body += _party(po.get("ship_to"), "ST", notes, "ship_to")
    # Without a supplier party the reader takes the supplier from the ISA receiver (the profile).
    body += _party(po.get("supplier"), "SU", notes, "supplier")
    for n, line in enumerate(po["lines"]):
        where = f"lines.{n}"
        body.append(["PO1", line["line_number"], _n(line["qty"]), line.get("uom") or "", _n(line.get("unit_price")),
                     line.get("price_basis") or "",
                     *_pairs(line["item_ids_sent"], notes, f"{where}.item_ids_sent", line.get("lot_numbers") or [],
                             line.get("serial_numbers") or [])])
        if line.get("description"):
            body.append(["PID", "F", "", "", "", line["description"]])
        body += _refs(line.get("refs") or [])
        if line.get("requested_date"):
            body.append(["DTM", "002", _d(line["requested_date"])])
    body.append(["CTT", str(len(po["lines"]))])
    return body


# -- 855 ------------------------------------------------------------------------------------
def build_855(ack: dict[str, Any], notes: WriteNotes, version: str = "004010") -> list[Segment]:
    ack_type_raw = _raw(ack.get("ack_type_raw"), _ACK_TYPES) or _mapped(
        _ACK_TYPE, ack["ack_type"], "ack_type", "BAK02")
    body: list[Segment] = [["BAK", _purpose(ack), ack_type_raw, ack["po_number"], _d(ack.get("po_date")),
                            "", "", "", ack.get("supplier_order_number") or "", _d(ack["ack_date"])]]
    if ack.get("currency"):
        body.append(["CUR", "SE", ack["currency"]])
    body += _refs(ack.get("refs") or [])
    if ack.get("supplier_partner_id"):
        body.append(["N1", "SU", "", "92", ack["supplier_partner_id"]])
    previous: tuple | None = None
    for n, line in enumerate(ack.get("lines") or []):
        echo = (line["po_line_number"], line.get("ordered_qty"), line.get("ordered_uom"), line.get("unit_price"),
                tuple((i["scheme"], i["value"]) for i in line.get("item_ids") or []))
        if echo != previous:
            body.append(["PO1", line["po_line_number"], _n(line.get("ordered_qty")), line.get("ordered_uom") or "",
                         _n(line.get("unit_price")), "", *_pairs(line.get("item_ids") or [], notes,
                                                                   f"lines.{n}.item_ids")])
            previous = echo
        # A PO1 without ACK reads back with the header's BAK02 as its status.
        implied = (line.get("status_raw") == ack_type_raw and line.get("qty") is None
                   and not line.get("date_qualifier_raw") and not line.get("substitute_item_ids"))
        if not implied:
            date_value = line.get("promised_ship_date") or line.get("promised_delivery_date")
            qualifier = _raw(line.get("date_qualifier_raw"), _DATE_QUALIFIER) or (
                "068" if line.get("promised_ship_date") else "067" if line.get("promised_delivery_date") else "")
            body.append(["ACK", _line_status(line.get("status_raw"), line["status"], f"lines.{n}.status"),
                         _n(line.get("qty")),
                         line.get("uom") or "", qualifier, _d(date_value), "",
                         *_pairs(line.get("substitute_item_ids") or [], notes, f"lines.{n}.substitute_item_ids")])
        if line.get("qty_backordered") is not None:
            # The backordered part is its own ACK (IB), read back as a BACKORDERED line.
            body.append(["ACK", "IB", _n(line["qty_backordered"]), line.get("uom") or line.get("ordered_uom") or ""])
            notes.warn(f"lines.{n}.qty_backordered", "sent as an ACK*IB line of its own (an 855 has no "
                       "backordered quantity beside the status quantity)")
    body.append(["CTT", str(len({line["po_line_number"] for line in ack.get("lines") or []}))])
    return body


# -- 856 ------------------------------------------------------------------------------------
@dataclass
class _Level:
    """One HL: its level code, parent, body segments and the canonical id it should keep."""

    code: str
    parent: _Level | None
    segments: list[Segment]
    wanted: str | None = None
    field_path: str | None = None  # lines.N.line_id / packs.N.pack_id, for the renumbering warning
    number: str = ""


def build_856(asn: dict[str, Any], notes: WriteNotes, version: str = "004010") -> list[Segment]:
    created = asn.get("created_at")
    time = _time(created)
    if not time:
        time = "0000"
        notes.warn("created_at", "no time of day: BSN04 (mandatory) is sent as 0000")
    body: list[Segment] = [["BSN", _purpose(asn), asn["asn_number"], _d(created or asn["ship_date"]), time,
                            asn.get("hierarchy_code") or ""]]
    shipment = _Level("S", None, _shipment_segments(asn, notes))
    levels = _layout(asn, shipment, notes)
    for level in levels:
        body.append(["HL", level.number, level.parent.number if level.parent else "", level.code])
        body += level.segments
    body.append(["CTT", str(len(levels))])
    return body


def _shipment_segments(asn: dict[str, Any], notes: WriteNotes) -> list[Segment]:
    out: list[Segment] = []
    if asn.get("package_count") is not None or asn.get("gross_weight") is not None:
        out.append(["TD1", "", str(asn.get("package_count") or ""), "", "", "", "G" if asn.get("gross_weight") else "",
                    _n(asn.get("gross_weight")), asn.get("weight_uom") or ""])
    if asn.get("carrier_scac") or asn.get("carrier_name"):
        out.append(["TD5", "", "2" if asn.get("carrier_scac") else "", asn.get("carrier_scac") or "", "",
                    asn.get("carrier_name") or ""])
    if asn.get("bol"):
        out.append(["REF", "BM", asn["bol"]])
    out += [["REF", "CN", t] for t in asn.get("tracking_numbers") or []]
    out += _refs(asn.get("refs") or [])
    out.append(["DTM", "011", _d(asn["ship_date"]), *_hhmm(asn["ship_date"])])
    if asn.get("est_delivery_date"):
        out.append(["DTM", "017", _d(asn["est_delivery_date"]), *_hhmm(asn["est_delivery_date"])])
    for field_name, role in (("ship_to", "ST"), ("ship_from", "SF"), ("buyer", "BY"), ("seller", "SE")):
        out += _party(asn.get(field_name), role, notes, field_name)
    statement = asn.get("dscsa_transaction_statement")
    if statement:
        out.append(["YNQ", "", "Y" if statement.get("present") else "N", "", "", statement.get("text") or "",
                    "", "", "99", "TS"])
        if statement.get("direct_purchase") is not None:
            out.append(["YNQ", "", "Y" if statement["direct_purchase"] else "N", "", "", "", "", "", "99", "DPS"])
    return out


def _hhmm(value: Any) -> list[str]:
    """DTM03 time when the date carries one (DTM04 would need a zone code; the offset is kept
    out, as the reader reads the date only)."""
    time = _time(value)
    return [time] if time else []


def _layout(asn: dict[str, Any], shipment: _Level, notes: WriteNotes) -> list[_Level]:
    """The HL levels in the order they are written: S/O/(T/P)/I, or S/(T/P)/I with the PRF in
    each item when a pack holds lines of several orders or when only that keeps the document's
    own HL numbers in order. HL01 must increase in the order written, parents first."""
    items = [_item_segments(line, n, notes) for n, line in enumerate(asn["lines"])]
    shared = _packs_shared_by_orders(asn)
    by_order = None if shared else _levels(asn, shipment, items, with_orders=True)
    if by_order is not None and _keep_numbers(by_order):
        return by_order
    hierarchy = asn.get("hierarchy_code") or ""
    if shared or hierarchy not in ORDER_HIERARCHIES:
        flat = _levels(asn, shipment, items, with_orders=False)
        if shared or _keep_numbers(flat):
            if shared:
                notes.warn(f"packs.{shared}", "holds lines of several orders: the orders are named in each item "
                           "level (PRF), not as order levels")
            if not _keep_numbers(flat):
                _renumber(flat, notes)
            return flat
    assert by_order is not None
    _renumber(by_order, notes)
    return by_order


def _packs_shared_by_orders(asn: dict[str, Any]) -> int | None:
    orders: dict[str, set[str]] = {}
    for line in asn["lines"]:
        if line.get("pack_id"):
            orders.setdefault(line["pack_id"], set()).add(line["po_number"])
    return next((n for n, p in enumerate(asn.get("packs") or []) if len(orders.get(p["pack_id"], ())) > 1), None)


def _levels(asn: dict[str, Any], shipment: _Level, items: list[list[list[Segment]]], *,
            with_orders: bool) -> list[_Level]:
    packs = {p["pack_id"]: (n, p) for n, p in enumerate(asn.get("packs") or [])}
    out = [shipment]
    written: dict[str, _Level] = {}
    groups = list(dict.fromkeys(line["po_number"] for line in asn["lines"])) if with_orders else [None]
    for po_number in groups:
        parent = shipment
        if po_number is not None:
            parent = _Level("O", shipment, [["PRF", po_number]])
            out.append(parent)
        for n, line in enumerate(asn["lines"]):
            if po_number is not None and line["po_number"] != po_number:
                continue
            above = _pack_levels(packs, line.get("pack_id"), parent, written, out) or parent
            for k, segments in enumerate(items[n]):
                if po_number is None:
                    segments = [*segments[:2], ["PRF", line["po_number"]], *segments[2:]]
                level = _Level("I", above, segments)
                if k == 0:
                    level.wanted, level.field_path = _wanted(line.get("line_id")), f"lines.{n}.line_id"
                out.append(level)
    return out


def _wanted(value: Any) -> str | None:
    return str(value) if value is not None else None


def _pack_levels(packs: dict[str, tuple[int, dict[str, Any]]], pack_id: str | None, parent: _Level,
                 written: dict[str, _Level], out: list[_Level]) -> _Level | None:
    if pack_id not in packs:
        return None
    if pack_id in written:
        return written[pack_id]
    n, pack = packs[pack_id]
    above = _pack_levels(packs, pack.get("parent_pack_id"), parent, written, out) or parent
    segments: list[Segment] = []
    if pack.get("weight") is not None:
        segments.append(["TD1", "", "", "", "", "", "G", _n(pack["weight"]), pack.get("weight_uom") or ""])
    if pack.get("sscc"):
        segments.append(["MAN", "GM", pack["sscc"]])
    level = _Level("T" if pack.get("level") == "TARE" else "P", above, segments, pack_id, f"packs.{n}.pack_id")
    written[pack_id] = level
    out.append(level)
    return level


def _keep_numbers(levels: list[_Level]) -> bool:
    """Give every level a number: the canonical ids where they are increasing integers in the
    order written, the shipment/order levels the smallest free numbers between them. False when
    the ids do not allow it."""
    last = 0
    for level in levels:
        wanted = level.wanted
        if wanted is not None:
            if not (wanted.isdigit() and len(wanted) <= 12 and int(wanted) > last):
                return False
            last = int(wanted)
        else:
            last += 1
        level.number = str(last)
    return True


def _renumber(levels: list[_Level], notes: WriteNotes) -> None:
    for number, level in enumerate(levels, start=1):
        level.number = str(number)
        if level.wanted is not None and level.wanted != level.number:
            notes.warn(level.field_path or "", f"{level.wanted} is sent as HL01 {level.number} (HL numbers must "
                       "increase in the order the levels are written, parents first)")


def _line_status(raw: str | None, status: str | None, field_name: str) -> str:
    """ACK01 / SN108 (668): as sent when X12 knows it, else the canonical status's code."""
    if not raw and not status:
        return ""
    return _raw(raw, ack_line_status_from_x12.codes) or _mapped(_LINE_STATUS, status or "", field_name, "668")


def _time(value: Any) -> str:
    text = str(value or "")
    return text[11:16].replace(":", "") if len(text) > 11 else ""


def _item_segments(line: dict[str, Any], n: int, notes: WriteNotes) -> list[list[Segment]]:
    """The segments of the line's item level(s). Lots that share their dates and state no
    quantity of their own ride in one LIN (LT/SN pairs) with one DTM*036/405; otherwise each
    lot gets an item level of its own with its quantity in SN1 (one lot per item HL keeps
    quantities and expiry unambiguous)."""
    lots = line.get("lots") or []
    dates = {(lot.get("expiration_date"), lot.get("production_date")) for lot in lots}
    own_qty = any(lot.get("qty") is not None for lot in lots)
    if len(dates) <= 1 and not own_qty:
        return [_item_level(line, n, lots, line["qty_shipped"], line.get("uom"), notes, first=True)]
    if not own_qty:
        raise WriteError(f"lines.{n}.lots: lots with different expiry or production dates and no quantity of "
                         "their own: an 856 item level needs the quantity of each lot")
    notes.warn(f"lines.{n}.lots", f"{len(lots)} lots with their own quantity or dates are sent as {len(lots)} item "
               "levels (HL I, one per lot); read back they are one line per lot")
    return [_item_level(line, n, [lot], lot["qty"], lot.get("uom") or line.get("uom"), notes, first=k == 0)
            for k, lot in enumerate(lots)]


def _item_level(line: dict[str, Any], n: int, lots: list[dict[str, Any]], qty: Any, uom: str | None,
                notes: WriteNotes, *, first: bool) -> list[Segment]:
    lot_numbers = list(dict.fromkeys(lot["lot_number"] for lot in lots if lot.get("lot_number")))
    serials = [lot["serial_number"] for lot in lots if lot.get("serial_number")]
    for k, lot in enumerate(lots):
        if lot.get("gtin"):
            notes.warn(f"lines.{n}.lots.{k}.gtin", "an 856 item level has one item: the lot's own GTIN is not sent")
    ordered = (_n(line.get("qty_ordered")), line.get("uom_ordered") or "") if first else ("", "")
    out: list[Segment] = [["LIN", "", *_pairs(line["item_ids"], notes if first else WriteNotes(),
                                              f"lines.{n}.item_ids", lot_numbers, serials)],
                          ["SN1", line.get("po_line_number") or "", _n(qty), uom or "", "", *ordered, "",
                           _line_status(line.get("line_status_raw"), line.get("line_status"),
                                        f"lines.{n}.line_status")]]
    if line.get("description"):
        out.append(["PID", "F", "", "", "", line["description"]])
    if first:
        out += _refs(line.get("refs") or [])
    expiry = next((lot["expiration_date"] for lot in lots if lot.get("expiration_date")), None)
    production = next((lot["production_date"] for lot in lots if lot.get("production_date")), None)
    if expiry:
        out.append(["DTM", "036", _d(expiry)])
    if production:
        out.append(["DTM", "405", _d(production)])
    return out


# -- 810 ------------------------------------------------------------------------------------
def build_810(inv: dict[str, Any], notes: WriteNotes, version: str = "004010") -> list[Segment]:
    body: list[Segment] = [["BIG", _d(inv["invoice_date"]), inv["invoice_number"], _d(inv.get("po_date")),
                            inv.get("po_number") or "", "", "",
                            _raw(inv.get("invoice_type_raw"), invoice_type_from_x12.codes) or _INVOICE_TYPE[
                                inv["invoice_type"]]]]
    body.append(["CUR", "SE", inv.get("currency") or "USD"])
    refs = inv.get("refs") or []
    body += _refs(refs)
    original = inv.get("original_invoice_ref")
    if original and not any(r["value"] == original and r["qualifier"] in ORIGINAL_INVOICE_REFS for r in refs):
        body.append(["REF", "OI", original])
    body += _party(inv.get("supplier"), "SU", notes, "supplier")
    for field_name, role in (("remit_to", "RE"), ("bill_to", "BT"), ("ship_to", "ST")):
        body += _party(inv.get(field_name), role, notes, field_name)
    terms = inv.get("terms")
    if terms:
        body.append(["ITD", "", "", _n(terms.get("discount_pct")), "", str(terms.get("discount_days") or ""), "",
                     str(terms.get("net_days") or ""), "", "", "", "", terms.get("description") or ""])
    if inv.get("ship_date"):
        body.append(["DTM", "011", _d(inv["ship_date"])])
    for n, line in enumerate(inv["lines"]):
        body += _invoice_line(inv, line, n, notes)
    body.append(["TDS", _n2(inv["total_amount"])])
    if inv.get("tax_total") is not None:
        body.append(["TXI", "TX", _n(inv["tax_total"])])
    body += [_charge(c) for c in inv.get("charges") or []]
    body.append(["CTT", str(len(inv["lines"]))])
    return body


def _invoice_line(inv: dict[str, Any], line: dict[str, Any], n: int, notes: WriteNotes) -> list[Segment]:
    """IT1 loop in the 810's order: IT1, TXI, PID, REF, SAC."""
    out: list[Segment] = [["IT1", line.get("line_number") or "", _n(line["qty_invoiced"]), line.get("uom") or "",
                           _n(line["unit_price"]), line.get("price_basis") or "",
                           *_pairs(line["item_ids"], notes, f"lines.{n}.item_ids")]]
    if line.get("tax") is not None:
        out.append(["TXI", "TX", _n(line["tax"])])
    if line.get("description"):
        out.append(["PID", "F", "", "", "", line["description"]])
    out += [["REF", "LT", lot] for lot in line.get("lot_numbers") or []]
    out += [["REF", "SE", serial] for serial in line.get("serial_numbers") or []]
    if line.get("po_number") and line["po_number"] != inv.get("po_number"):
        out.append(["REF", "PO", line["po_number"]])
        notes.warn(f"lines.{n}.po_number", "sent as a line REF*PO (BIG04 names the invoice's one order); "
                   "read back it is a line reference")
    out += _refs(line.get("refs") or [])
    if line.get("po_line_number") and line.get("po_line_number") != line.get("line_number"):
        notes.warn(f"lines.{n}.po_line_number", "IT101 echoes the PO line; a different PO line number is not sent")
    if line.get("line_amount") is not None:
        notes.warn(f"lines.{n}.line_amount", "an 810 line (IT1) has no extended amount (IT102 × IT104 is implied); "
                   "not sent")
    out += [_charge(c) for c in line.get("charges") or []]
    return out


BUILDERS: dict[str, tuple[str, Callable[[dict[str, Any], WriteNotes, str], list[Segment]]]] = {
    "purchase_order": ("850", build_850),
    "purchase_order_ack": ("855", build_855),
    "ship_notice": ("856", build_856),
    "invoice": ("810", build_810),
}


def set_for(document: dict[str, Any], notes: WriteNotes | None = None,
            version: str = "004010") -> tuple[str, list[Segment]]:
    """(ST01, body) for a canonical document dict (``model_dump(mode="json")`` form) in the
    GS08 ``version``; what the set cannot carry goes to ``notes``."""
    notes = notes if notes is not None else WriteNotes()
    try:
        set_id, build = BUILDERS[document["document_type"]]
    except KeyError:
        known = ", ".join(BUILDERS)
        raise WriteError(f"no X12 writer for document type {document.get('document_type')!r}; "
                         f"writable: {known}") from None
    body = build(document, notes, version)
    notes.extend(notes.where + text for text in uncarried(document, CARRIED[document["document_type"]],
                                                          f"X12 {set_id}"))
    return set_id, body


__all__ = ["CARRIED", "FUNCTIONAL_IDS", "build_810", "build_850", "build_855", "build_856", "set_for"]
