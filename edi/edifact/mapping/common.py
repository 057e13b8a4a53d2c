"""Segment mappings shared by several messages: NAD parties (with their RFF+VA, CTA, COM),
item identifiers from LIN and PIA, QTY, PRI, MOA, CUX, RFF.

Identifier rules (domain.md 1.4, A.3): GTINs are check-digit verified and stored as 14
digits; GLNs (NAD code list agency 9) are check-digit verified. A value that fails its check
is kept as sent under its own scheme with ``invalid_reason`` — never dropped nor relabelled —
and a warning (code ``invalid_identifier``) names its place (section C #12 "invalid
identifier format"); the route's ``identifier_check`` step holds the document for review.
"""

from __future__ import annotations

from typing import Any

from edi.common.numbers import NumberError, bounded_decimal, brief
from edi.common.text import digits
from edi.edifact.mapping.base import MessageView, comp, drop_empty, first_three, first_two, texts
from hub.canonical.codes import (
    LOT_QUALIFIERS_EDIFACT,
    item_scheme_from_edifact,
    party_scheme_from_edifact,
    po_purpose_from_edifact,
)
from hub.canonical.enums import ItemIdScheme, PartyIdScheme
from hub.canonical.identifiers import (
    IdentifierError,
    gs1_check_digit,
    normalize_gtin,
    validate_gln,
    validate_hibc,
    validate_sscc,
)

# EDIFACT 7143 codes beyond the canonical code table: buyer's part number, and "NDC" for US
# National Drug Codes (no UN code exists; domain.md 1.4: a partner-agreed code).
EXTRA_ITEM_SCHEMES = {"BP": ItemIdScheme.BUYER_ITEM, "NDC": ItemIdScheme.NDC11}
# An item number without a code type is the sender's own article number: the buyer's in an
# order, the supplier's in everything a supplier sends.
_SENDERS_OWN_SCHEME = {"ORDERS": ItemIdScheme.BUYER_ITEM, "INVRPT": ItemIdScheme.BUYER_ITEM}
_GS1_ITEM_QUALIFIERS = {"SRV", "EN", "UP"}
_ITEM_SCHEMES = dict(item_scheme_from_edifact.codes)


# -- parties -------------------------------------------------------------------------------------


def party(view: MessageView, index: int) -> dict[str, Any]:
    """NAD → PartyRef: role 3035, identifier C082, name C080 (else the first line of the
    unstructured C058), address C059 / 3164 / C819 / 3251 / 3207."""
    seg = view.segments[index]
    identifiers = []
    ident = comp(seg, 1, 0)
    if ident:
        identifiers.append(party_identifier(view, index, ident, comp(seg, 1, 2)))
    structured_name, unstructured, street = texts(seg, 3), texts(seg, 2), texts(seg, 4)
    if structured_name:
        name, lines = " ".join(structured_name), street or unstructured
    else:
        name, lines = (unstructured[0] if unstructured else None), street or unstructured[1:]
    address = drop_empty(
        {
            "lines": lines,
            "city": comp(seg, 5, 0) or None,
            "region": comp(seg, 6, 0) or None,
            "postal_code": comp(seg, 7, 0) or None,
            "country": comp(seg, 8, 0) or None,
        }
    )
    return drop_empty({"role": comp(seg, 0, 0) or None, "name": name, "identifiers": identifiers,
                       "address": address or None})


def party_identifier(view: MessageView, index: int, value: str, agency: str) -> dict[str, Any]:
    scheme = party_scheme_from_edifact.get(agency) if agency else None
    if scheme is PartyIdScheme.GLN:
        try:
            value = validate_gln(value)
        except IdentifierError as exc:
            return invalid_identifier(view, index, scheme.value, value, agency, exc, 2, 1)
    # Codes without a known agency are agreed between the partners.
    return drop_empty({"scheme": (scheme or PartyIdScheme.ACCOUNT_AT_PARTNER).value, "value": value,
                       "qualifier": agency or None})


def invalid_identifier(view: MessageView, index: int, scheme: str, value: str, qualifier: str, exc: Exception,
                       element: int, component: int) -> dict[str, Any]:
    """An identifier that failed its check, kept as sent under its scheme with the reason
    (domain.md C #12: held for review, never relabelled or dropped), and a located warning."""
    view.warn(index, f"{qualifier or scheme} identifier {value!r} kept as sent, flagged invalid: {exc}", element,
              component, code="invalid_identifier", bad_value=value)
    return drop_empty({"scheme": scheme, "invalid_reason": str(exc), "value": value, "qualifier": qualifier or None})


# RFF qualifiers after a NAD that identify the party: VAT number, additional party id.
PARTY_REFERENCES = {"VA": PartyIdScheme.VAT, "API": PartyIdScheme.ACCOUNT_AT_PARTNER}


def attach_to_party(view: MessageView, index: int, target: dict[str, Any]) -> None:
    """RFF+VA, CTA and COM after a NAD belong to that party."""
    seg = view.segments[index]
    tag = seg.tag
    if tag == "RFF" and comp(seg, 0, 0) in PARTY_REFERENCES and comp(seg, 0, 1):
        scheme = PARTY_REFERENCES[comp(seg, 0, 0)]
        target.setdefault("identifiers", []).append({"scheme": scheme.value, "value": comp(seg, 0, 1),
                                                     "qualifier": comp(seg, 0, 0)})
    elif tag == "CTA":
        contact = target.setdefault("contact", {})
        contact.update(drop_empty({"function": comp(seg, 0, 0) or None,
                                   "name": comp(seg, 1, 1) or comp(seg, 1, 0) or None}))
    elif tag == "COM":
        contact = target.setdefault("contact", {})
        number, channel = comp(seg, 0, 0), comp(seg, 0, 1)
        if channel == "EM":
            contact.setdefault("email", number)
        elif number:
            contact.setdefault("phone", number)


# -- document identity -----------------------------------------------------------------------


def supplier_id(view: MessageView, seller: dict[str, Any] | None) -> str:
    """The supplier as the message names it (NAD+SU identifier), else the interchange sender;
    the crosswalk step resolves it to a hub partner id."""
    if seller and seller.get("identifiers"):
        return seller["identifiers"][0]["value"]
    return view.message.interchange.sender_id


def purpose_code(doc: dict[str, Any]) -> str:
    """BGM 1225: purpose_raw when it is an EDIFACT code (not an X12 BEG01), else the code of
    the purpose (9 for ORIGINAL)."""
    raw = doc.get("purpose_raw")
    if raw in po_purpose_from_edifact.codes:
        return raw
    purpose = doc.get("purpose") or "ORIGINAL"
    return next(code for code, value in po_purpose_from_edifact.codes.items() if value.value == purpose)


# -- items ---------------------------------------------------------------------------------------


class ItemIds:
    """Identifiers, lots/serials and unmapped codes collected for one line."""

    __slots__ = ("ids", "lots", "serials", "refs")

    def __init__(self) -> None:
        self.ids: list[dict[str, Any]] = []
        self.lots: list[str] = []
        self.serials: list[str] = []
        self.refs: list[dict[str, Any]] = []

    def add(self, view: MessageView, index: int, value: str, qualifier: str, element: int, component: int) -> None:
        if not value:
            return
        lot_field = LOT_QUALIFIERS_EDIFACT.get(qualifier)
        if lot_field == "lot_number":
            self.lots.append(value)
            return
        if lot_field == "serial_number":
            self.serials.append(value)
            return
        identifier = item_identifier(view, index, value, qualifier, element, component)
        if identifier is None:
            self.refs.append({"qualifier": qualifier or "PIA", "value": value})
        elif identifier not in self.ids:
            self.ids.append(identifier)


def item_identifier(
    view: MessageView, index: int, value: str, qualifier: str, element: int, component: int
) -> dict[str, Any] | None:
    """An ItemIdentifier dict, or None for a qualifier the hub has no scheme for (warned)."""
    # The codes as the table lists them first; the table itself also reads other cases.
    scheme = _ITEM_SCHEMES.get(qualifier) or (item_scheme_from_edifact.get(qualifier) if qualifier else None)
    scheme = scheme or EXTRA_ITEM_SCHEMES.get(qualifier)
    if scheme is None and not qualifier:
        if _looks_like_gtin(value):
            scheme, why = ItemIdScheme.GTIN, "a GTIN (valid GS1 check digit)"
        else:
            scheme = _SENDERS_OWN_SCHEME.get(view.message.type, ItemIdScheme.VENDOR_PART)
            why = f"the sender's own article number ({scheme.value})"
        view.warn(index, f"item number {value} has no code type (7143): taken as {why}", element, component + 1,
                  code="inferred_item_scheme")
    if scheme is None:
        view.warn(index, f"item code type {qualifier or '(none)'!r} has no canonical scheme: {value} kept in refs",
                  element, component + 1, code="unmapped_item_code")
        return None
    try:
        if scheme is ItemIdScheme.GTIN:
            value = normalize_gtin(value)
        elif scheme is ItemIdScheme.HIBC:
            value = validate_hibc(value)
    except IdentifierError as exc:
        return invalid_identifier(view, index, scheme.value, value, qualifier, exc, element, component + 1)
    return {"scheme": scheme.value, "value": value, "qualifier": qualifier} if qualifier else {
        "scheme": scheme.value, "value": value}


def _looks_like_gtin(value: str) -> bool:
    if not digits(value) or len(value) not in (8, 12, 13, 14):
        return False
    return gs1_check_digit(value[:-1]) == int(value[-1])


def lin(view: MessageView, index: int, ids: ItemIds) -> tuple[str, str]:
    """LIN → (line number 1082, action 1229); C212 into ``ids``."""
    seg = view.segments[index]
    value, code_type = first_two(seg, 2)
    ids.add(view, index, value, code_type, 3, 0)
    return comp(seg, 0, 0), comp(seg, 1, 0)


def pia(view: MessageView, index: int, ids: ItemIds) -> None:
    """PIA: up to five C212 (value 7140, type 7143); batch NB / serial SN go to lots."""
    seg = view.segments[index]
    for element in range(1, min(len(seg.elements), 6)):
        value, code_type = first_two(seg, element)
        ids.add(view, index, value, code_type, element + 1, 0)


def gin(view: MessageView, index: int, ids: ItemIds | None) -> list[dict[str, str]]:
    """GIN → BX batch / BN serial numbers go to ``ids`` (dropped when None: a pack keeps
    none); BJ (SSCC) come back as pack fields (``sscc`` and, when the check digit fails,
    ``sscc_invalid_reason``), in order."""
    seg = view.segments[index]
    kind = comp(seg, 0, 0)
    values = _gin_values(seg.elements)
    if kind == "BX":
        if ids is not None:
            ids.lots.extend(values)
    elif kind == "BN":
        if ids is not None:
            ids.serials.extend(values)
    return [_sscc(view, index, value) for value in values] if kind == "BJ" else []


def _gin_values(elements: list) -> list[str]:
    """The non-empty components of every element after the first, trimmed, in order (what
    ``texts`` gives per element; a GIN+BJ of one SSCC per pack is one plain string)."""
    values: list[str] = []
    for value in elements[1:]:
        if value.__class__ is list:
            values += [v.strip() for v in value if v.strip()]
        elif text := value.strip():
            values.append(text)
    return values


def _sscc(view: MessageView, index: int, value: str) -> dict[str, str]:
    try:
        return {"sscc": validate_sscc(value)}
    except IdentifierError as exc:
        element = next((n + 1 for n in range(1, len(view.segments[index].elements))
                        if value in texts(view.segments[index], n)), None)
        view.warn(index, f"SSCC {value!r} kept as sent, flagged invalid: {exc}", element, 1,
                  code="invalid_identifier", bad_value=value)
        return {"sscc_invalid_reason": str(exc), "sscc": value}


# -- amounts, quantities, references -----------------------------------------------------------


def qty(view: MessageView, index: int) -> tuple[str, str | None, str | None]:
    """QTY → (qualifier 6063, quantity, unit 6411)."""
    qualifier, amount, unit = first_three(view.segments[index])
    return qualifier, view.number(index, amount, 1, 2), unit or None


def moa(view: MessageView, index: int) -> tuple[str, str | None, str | None]:
    """MOA → (qualifier 5025, amount, currency 6345)."""
    seg = view.segments[index]
    return comp(seg, 0, 0), view.number(index, comp(seg, 0, 1), 1, 2), comp(seg, 0, 2) or None


class Price:
    __slots__ = ("qualifier", "amount", "price_type", "basis", "basis_qty", "uom")

    def __init__(self, view: MessageView, index: int) -> None:
        seg = view.segments[index]
        self.qualifier = comp(seg, 0, 0)
        self.amount = view.number(index, comp(seg, 0, 1), 1, 2)
        self.price_type = comp(seg, 0, 2) or None
        self.basis = comp(seg, 0, 3) or None
        self.basis_qty = view.number(index, comp(seg, 0, 4), 1, 5)
        self.uom = comp(seg, 0, 5) or None


# PRI 5125 qualifiers in order of preference for "the unit price": net, invoice, gross, then
# the EANCOM information prices.
PRICE_PREFERENCE = ("AAA", "INV", "NTP", "CAL", "AAB", "AAE", "INF")


def best_price(prices: list[Price]) -> Price | None:
    priced = [p for p in prices if p.amount is not None]
    for qualifier in PRICE_PREFERENCE:
        for price in priced:
            if price.qualifier == qualifier:
                return price
    return priced[0] if priced else None


def rff(view: MessageView, index: int) -> tuple[str, str]:
    qualifier, value, _ = first_three(view.segments[index])
    return qualifier, value


def reference(qualifier: str, value: str) -> dict[str, Any] | None:
    return {"qualifier": qualifier, "value": value} if qualifier and value else None


def currency(view: MessageView, index: int) -> str | None:
    """CUX C504 6345 (the first currency details)."""
    return comp(view.segments[index], 0, 1) or None


def description(view: MessageView, index: int) -> str | None:
    """IMD free-form description: C273 7008 (both occurrences)."""
    seg = view.segments[index]
    parts = [comp(seg, 2, 3), comp(seg, 2, 4)]
    text = " ".join(p for p in parts if p)
    return text or None


def control_count(view: MessageView, index: int, counted: int, what: str) -> None:
    """CNT+2 (number of line items) must match what the message holds."""
    seg = view.segments[index]
    if comp(seg, 0, 0) != "2":
        return
    stated = comp(seg, 0, 1)
    try:
        matches = bounded_decimal(stated.replace(",", ".")) == counted
    except NumberError:
        matches = False
    if not matches:
        raise view.fail(index, f"CNT+2 says {brief(stated)} line items but the message has {counted} {what}", 1, 2,
                        code="control_total", ack="29", exception_kind="totals_do_not_reconcile")
