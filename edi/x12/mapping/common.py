"""Segment groups several X12 sets share: N1 party loops, item identifier pairs, REF, PER,
ITD, SAC, and the call that validates a mapped dict with its canonical model.

Item identifier pairs (PO106/PO107…, LIN02/03…, IT106…, ACK07…): every qualifier of X12
element 235 that names an item identifier is kept as an ``ItemIdentifier`` (GTINs normalised
to 14 digits, NDCs to 11, HIBC check characters verified); LT/SN pairs are lots/serials; any
other pair (CB, PR, RO …) is kept as a reference with a warning, never dropped. An identifier
whose format or check digit fails keeps its scheme
and its value as sent, with ``invalid_reason`` and a located ``invalid_identifier`` warning
(domain.md C #12): the route's ``identifier_check`` step holds the document for review.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from hub.canonical.codes import (
    LOT_QUALIFIERS_X12,
    UnknownCode,
    allowance_or_charge_from_code,
    item_scheme_from_x12,
    party_scheme_from_x12,
    po_purpose_from_x12,
)
from hub.canonical.enums import ChargeType, ItemIdScheme, PartyIdScheme
from hub.canonical.identifiers import IdentifierError, validate_gln
from hub.canonical.items import normalize_item_identifier

from edi.x12.mapping.base import MappingError, SetView

# Qualifiers outside the canonical table that still name an item (X12 element 235).
EXTRA_ITEM_SCHEMES = {"CB": ItemIdScheme.BUYER_ITEM,  # buyer's catalog number
                      "PI": ItemIdScheme.BUYER_ITEM,  # purchaser's item code
                      "PN": ItemIdScheme.VENDOR_PART,  # company part number
                      "SK": ItemIdScheme.VENDOR_PART,  # stock keeping unit
                      "ST": ItemIdScheme.VENDOR_PART,  # style number (assigned by the vendor)
                      # U.P.C./EAN case code (2-5-5): a manufacturer product number with no check
                      # digit, so not a GTIN; UPN is the canonical scheme for such numbers.
                      "UA": ItemIdScheme.UPN}
# N103 qualifiers outside the canonical table: mutually defined / assigned codes are accounts.
EXTRA_PARTY_SCHEMES = {"ZZ": PartyIdScheme.ACCOUNT_AT_PARTNER, "93": PartyIdScheme.ACCOUNT_AT_PARTNER,
                       "94": PartyIdScheme.ACCOUNT_AT_PARTNER, "10": PartyIdScheme.DEA}
# SAC02 (element 1300) codes → charge type; others are OTHER with the raw code kept.
SAC_CHARGE_TYPES = {"D240": ChargeType.FREIGHT, "D242": ChargeType.FREIGHT, "G830": ChargeType.FREIGHT,
                    "D500": ChargeType.HANDLING, "H000": ChargeType.HANDLING, "D170": ChargeType.FUEL,
                    "F050": ChargeType.FUEL, "C310": ChargeType.DISCOUNT, "H850": ChargeType.TAX,
                    "H770": ChargeType.TAX}
PARTY_LOOP = ("N1", "N2", "N3", "N4", "PER", "REF")
# Qualifier → scheme, looked up once per pair on the hot path (the code table normalises case);
# and → the scheme's value, so the hot path does not go through the enum's value property.
ITEM_SCHEMES = {**{code: scheme for code, scheme in item_scheme_from_x12.codes.items()}, **EXTRA_ITEM_SCHEMES}
ITEM_SCHEME_VALUES = {code: scheme.value for code, scheme in ITEM_SCHEMES.items()}


def item_pairs(view: SetView, index: int, start: int, *, line: dict[str, Any],
               ids_field: str = "item_ids", refs_field: str | None = "refs") -> dict[str, list[str]]:
    """Read qualifier/value pairs from element ``start`` of ``segments[index]`` into
    ``line[ids_field]`` (and ``line[refs_field]``); returns the lot/serial values found."""
    lots: dict[str, list[str]] = {"lot_number": [], "serial_number": []}
    add_item_pairs(view, index, start, line, lots["lot_number"], lots["serial_number"], ids_field=ids_field,
                   refs_field=refs_field)
    return lots


def add_item_pairs(view: SetView, index: int, start: int, line: dict[str, Any], lot_numbers: list[str],
                   serials: list[str], *, ids_field: str = "item_ids", refs_field: str | None = "refs") -> None:
    """``item_pairs`` appending lots and serials to the caller's lists (an 856 line reads
    every LIN this way, without a dict of two new lists per segment)."""
    seg = view.segments[index]
    ids = line.setdefault(ids_field, [])
    precheck = view.precheck_ids
    for n in range(start, len(seg) - 1, 2):
        qualifier, value = seg[n].strip(), seg[n + 1].strip()
        if not value:
            if qualifier:
                view.warn(index, n + 1, f"identifier qualifier {qualifier!r} has no value")
            continue
        kind = LOT_QUALIFIERS_X12.get(qualifier)
        if kind is not None:
            (lot_numbers if kind == "lot_number" else serials).append(value)
            continue
        if not precheck and (name := ITEM_SCHEME_VALUES.get(qualifier)) is not None:
            # Optimistic: the model normalises and checks; a refusal re-maps with checks here.
            ids.append({"scheme": name, "value": value, "qualifier": qualifier})
            continue
        scheme = ITEM_SCHEMES.get(qualifier) or ITEM_SCHEMES.get(qualifier.upper())
        if scheme is not None and not precheck:
            ids.append({"scheme": scheme.value, "value": value, "qualifier": qualifier})
            continue
        if scheme is not None:
            try:
                ids.append({"scheme": scheme.value, "value": normalize_item_identifier(scheme, value),
                            "qualifier": qualifier})
            except ValueError as exc:
                ids.append(invalid_identifier(view, index, n + 1, scheme.value, value, qualifier, exc))
            continue
        if refs_field is not None:
            line.setdefault(refs_field, []).append({"qualifier": qualifier or "?", "value": value})
        else:
            view.warn(index, n, f"identifier {qualifier}={value!r} has no place in this document; ignored")


def require_item_ids(view: SetView, index: int, line: dict[str, Any], ids_field: str) -> None:
    if not line.get(ids_field):
        raise view.fail(index, None, "no usable item identifier on the line (none of VP/VN/VC/BP/IN/MG/"
                        "UK/UP/EN/HI/N4 with a valid value)", element_code="1")


def party(view: SetView, index: int) -> tuple[dict[str, Any], int]:
    """An N1 loop starting at ``index`` (N1, N2, N3, N4, PER, REF); returns the PartyRef dict
    and the index after the loop."""
    n1 = view.segments[index]
    ref: dict[str, Any] = {"role": view.opt(n1, 1), "name": view.opt(n1, 2)}
    qualifier, value = view.value(n1, 3), view.value(n1, 4)
    if value:
        ref["identifiers"] = [party_identifier(view, index, qualifier, value)]
    address: dict[str, Any] = {}
    i = index + 1
    while i < len(view.segments) and view.segments[i][0] in PARTY_LOOP[1:]:
        seg = view.segments[i]
        tag = seg[0]
        if tag == "N2":
            extra = " ".join(v for v in (view.value(seg, 1), view.value(seg, 2)) if v)
            if extra:
                ref["name"] = f"{ref['name']} {extra}" if ref.get("name") else extra
        elif tag == "N3":
            address.setdefault("lines", []).extend(v for v in (view.value(seg, 1), view.value(seg, 2)) if v)
        elif tag == "N4":
            address.update({k: v for k, v in (("city", view.opt(seg, 1)), ("region", view.opt(seg, 2)),
                                               ("postal_code", view.opt(seg, 3)), ("country", view.opt(seg, 4)))
                            if v})
        elif tag == "PER" and "contact" not in ref:
            ref["contact"] = contact(view, seg)
        elif tag == "REF" and view.value(seg, 2):
            ref.setdefault("identifiers", []).append(
                {"scheme": PartyIdScheme.ACCOUNT_AT_PARTNER.value, "value": view.value(seg, 2),
                 "qualifier": f"REF{view.value(seg, 1)}"})
        i += 1
    if address:
        ref["address"] = address
    if ref.get("name") is None:
        ref.pop("name")
    return ref, i


def party_identifier(view: SetView, index: int, qualifier: str, value: str) -> dict[str, Any]:
    scheme = party_scheme_from_x12.get(qualifier) or EXTRA_PARTY_SCHEMES.get(qualifier)
    if scheme is None:
        view.warn(index, 3, f"identification code qualifier {qualifier!r} is not a known N103 code; "
                  "kept as an account number")
        scheme = PartyIdScheme.ACCOUNT_AT_PARTNER
    if scheme is PartyIdScheme.GLN:
        try:
            validate_gln(value)
        except IdentifierError as exc:
            return invalid_identifier(view, index, 4, scheme.value, value, qualifier or None, exc)
    return {"scheme": scheme.value, "value": value, "qualifier": qualifier or None}


def invalid_identifier(view: SetView, index: int, element: int, scheme: str, value: str, qualifier: str | None,
                       exc: Exception) -> dict[str, Any]:
    """An identifier that failed its check, kept as sent under its scheme with the reason
    (domain.md C #12: held for review, never relabelled or dropped), and a located warning."""
    view.warn(index, element, f"{qualifier or scheme} identifier {value!r} kept as sent, flagged invalid: {exc}",
              code="invalid_identifier", bad_value=value)
    found = {"scheme": scheme, "invalid_reason": str(exc), "value": value}
    if qualifier:
        found["qualifier"] = qualifier
    return found


def parties(view: SetView, start: int = 0, stop: int | None = None) -> dict[str, dict[str, Any]]:
    """Every N1 loop between ``start`` and ``stop``, by entity code (first of each wins)."""
    found: dict[str, dict[str, Any]] = {}
    i, stop = start, len(view.segments) if stop is None else stop
    while i < stop:
        if view.segments[i][0] == "N1":
            ref, i = party(view, i)
            found.setdefault(ref.get("role") or "", ref)
        else:
            i += 1
    return found


def contact(view: SetView, seg: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"function": view.opt(seg, 1), "name": view.opt(seg, 2)}
    for n in (3, 5, 7):
        qualifier, value = view.value(seg, n), view.value(seg, n + 1)
        if qualifier in ("TE", "PH") and value and "phone" not in out:
            out["phone"] = value
        elif qualifier == "EM" and value and "email" not in out:
            out["email"] = value
    return {k: v for k, v in out.items() if v is not None}


def reference(view: SetView, seg: list[str]) -> dict[str, Any] | None:
    """REF01/REF02 (REF03 description when REF02 is empty)."""
    qualifier, value, text = view.value(seg, 1), view.value(seg, 2), view.value(seg, 3)
    if not qualifier or not (value or text):
        return None
    ref = {"qualifier": qualifier, "value": value or text}
    if value and text:
        ref["description"] = text
    return ref


def terms(view: SetView, index: int) -> dict[str, Any]:
    """ITD: discount %, discount days, net days, description."""
    seg = view.segments[index]
    out = {"discount_pct": view.decimal(index, 3), "discount_days": view.integer(index, 5),
           "net_days": view.integer(index, 7), "description": view.opt(seg, 12)}
    return {k: v for k, v in out.items() if v is not None}


def terms_text(view: SetView, index: int) -> str | None:
    t = terms(view, index)
    if t.get("description"):
        return t["description"]
    parts = []
    if "discount_pct" in t:
        parts.append(f"{t['discount_pct']}% {t.get('discount_days', '')} days".replace("  ", " "))
    if "net_days" in t:
        parts.append(f"net {t['net_days']}")
    return ", ".join(parts) or None


def charge(view: SetView, index: int) -> dict[str, Any] | None:
    """SAC: allowance/charge, code, amount (SAC05 N2), percent (SAC07), description (SAC15).
    None for SAC01 = N ("no allowance or charge"): informational, kept by the caller as a ref."""
    seg = view.segments[index]
    if view.value(seg, 1) == "N":
        return None
    try:
        kind = allowance_or_charge_from_code(view.value(seg, 1))
    except UnknownCode as exc:
        # SAC01 (element 248) has three codes, A, C and N: anything else is a syntax error.
        raise view.fail(index, 1, str(exc), element_code="7", bad_value=view.value(seg, 1), syntax=True) from None
    code = view.value(seg, 2)
    amount = view.decimal(index, 5, implied=2)
    out = {"type": SAC_CHARGE_TYPES.get(code, ChargeType.OTHER).value, "type_raw": code or None,
           "allowance_or_charge": kind.value, "amount": amount if amount is not None else 0,
           "percent": view.decimal(index, 7), "description": view.opt(seg, 15)}
    if amount is None:
        view.warn(index, 5, "SAC05 amount is empty; recorded as 0")
    return {k: v for k, v in out.items() if v is not None}


def sac_reference(view: SetView, index: int) -> dict[str, Any]:
    seg = view.segments[index]
    amount = view.decimal(index, 5, implied=2)
    ref = {"qualifier": "SAC-N", "value": view.value(seg, 2) or view.value(seg, 1)}
    text = " ".join(str(v) for v in (amount, view.value(seg, 15)) if v)
    return {**ref, "description": text} if text else ref


def optional_purpose(view: SetView, index: int, doc: dict[str, Any]) -> None:
    """Element 353 purpose (BAK01, BSN01) into ``purpose``; an unknown code stays in
    ``purpose_raw`` with a warning (these documents do not need it to be understood)."""
    purpose = po_purpose_from_x12.get(doc.get("purpose_raw"))
    if purpose is not None:
        doc["purpose"] = purpose.value
    elif doc.get("purpose_raw"):
        tag = view.segments[index][0]
        view.warn(index, 1, f"purpose {doc['purpose_raw']!r} is not a known {tag}01 code; kept as sent")


def line_loop(view: SetView, index: int, end_tags: tuple[str, ...]):
    """Indexes and segments after a line segment up to the next line / summary segment."""
    i = index + 1
    while i < len(view.segments) and view.segments[i][0] not in end_tags:
        yield i, view.segments[i]
        i += 1


IDENTIFIER_FIELDS = {"item_ids", "item_ids_sent", "substitute_item_ids", "sscc"}


class RecheckIdentifiers(Exception):
    """The optimistic pass handed an identifier the model refused: map again with every
    identifier checked first, so a bad one becomes a warning and a reference."""


def validate(view: SetView, model: type[BaseModel], data: dict[str, Any], index_of: dict[str, Any]) -> BaseModel:
    """Validate with the canonical model; errors name the field path and the segment the field
    came from."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        if not view.precheck_ids and any(IDENTIFIER_FIELDS & {str(p) for p in e["loc"]} for e in exc.errors()):
            raise RecheckIdentifiers() from None
        first = exc.errors()[0]
        loc = [str(p) for p in first["loc"]]
        index = _index_for(loc, index_of)
        raise view.fail(index, None, f"{'.'.join(loc)}: {first['msg']}", element_code="7") from None


def _index_for(loc: list[str], index_of: dict[str, Any]) -> int:
    # Most specific first: "lines.3" before "lines". A list under "lines.*" holds line n's
    # index at n (built once, instead of a "lines.n" key per line the model may never refuse).
    for depth in range(len(loc), 0, -1):
        key = ".".join(loc[:depth])
        if key in index_of:
            return index_of[key]
        if depth > 1 and loc[depth - 1].isdigit():
            listed = index_of.get(".".join(loc[:depth - 1]) + ".*")
            if isinstance(listed, list) and int(loc[depth - 1]) < len(listed):
                return listed[int(loc[depth - 1])]
    return 0


__all__ = ["MappingError", "item_pairs", "party", "parties", "reference", "terms", "charge", "validate"]
