"""Segment builders the canonical → EDIFACT writers share: the inverse of ``common`` and
``parts`` (NAD with RFF+VA / CTA / COM, LIN + PIA item identifiers, QTY, PRI, MOA, DTM, RFF,
CUX, PAT). Numbers are written with the profile's decimal mark; whatever a message cannot
carry is a ``WriteError`` naming the document field, never silently dropped.
"""

from __future__ import annotations

import re
from typing import Any

from pydifact.segments import Segment

from edi.common.outbound import WriteNotes, target_qualifier
from edi.edifact.mapping.common import EXTRA_ITEM_SCHEMES
from edi.edifact.profile import EdifactProfile
from edi.edifact.writer import seg
from edi.x12.mapping.common import EXTRA_PARTY_SCHEMES as X12_EXTRA_PARTY_SCHEMES
from edi.x12.mapping.common import ITEM_SCHEME_VALUES
from hub.canonical.codes import (
    item_scheme_from_edifact,
    party_scheme_from_edifact,
    party_scheme_from_x12,
)

# Scheme → the EDIFACT 7143 code written when the stored qualifier is not an EDIFACT code.
ITEM_QUALIFIERS = {"GTIN": "SRV", "UPC": "UP", "VENDOR_PART": "SA", "VENDOR_CATALOG": "SA", "BUYER_ITEM": "IN",
                   "MFR_PART": "MF", "HIBC": "AC", "NDC11": "NDC"}
_EDIFACT_ITEM_SCHEMES = {c: s.value for c, s in {**item_scheme_from_edifact.codes,
                                                                 **EXTRA_ITEM_SCHEMES}.items()}
_EDIFACT_PARTY_SCHEMES = {c: s.value for c, s in party_scheme_from_edifact.codes.items()}
_X12_PARTY_SCHEMES = {c: s.value for c, s in {**party_scheme_from_x12.codes, **X12_EXTRA_PARTY_SCHEMES}.items()}
_ITEM_CODE, _AGENCY = re.compile(r"[A-Z0-9]{1,3}"), re.compile(r"[0-9]{1,3}")
_GS1_CODES = {"SRV", "EN", "UP"}
# NAD 3035 roles the readers take for each slot: a party's own role is kept when it is one of
# them (ST for a delivery party), else the slot's goes out (an X12 RE remit-to becomes PE).
SLOT_ROLES = {"SU": ("SU", "SE"), "DP": ("DP", "ST", "UC"), "SF": ("SF", "SH"), "IV": ("IV",), "BY": ("BY",),
              "PE": ("PE",)}
# Scheme → NAD C082 3055 when the stored qualifier is not an EDIFACT agency code (X12 "UL").
PARTY_AGENCIES = {"GLN": "9", "DUNS": "16"}


class Out:
    """Collects the body segments of one message, and the warnings about what it cannot carry."""

    def __init__(self, profile: EdifactProfile, notes: WriteNotes | None = None) -> None:
        self.profile = profile
        self.notes = notes if notes is not None else WriteNotes()
        self.segments: list[Segment] = []

    def warn(self, field_path: str, reason: str) -> None:
        self.notes.warn(field_path, reason)

    def add(self, tag: str, *elements: Any) -> None:
        self.segments.append(seg(tag, *elements))

    def number(self, value: Any) -> str:
        text = str(value)
        return text.replace(".", self.profile.decimal) if self.profile.decimal != "." else text

    def dtm(self, qualifier: str, value: str | None) -> None:
        """A date (or the date of an ISO datetime) as format 102 CCYYMMDD."""
        if value:
            self.add("DTM", [qualifier, value[:10].replace("-", ""), "102"])

    def rff(self, qualifier: str, value: str | None) -> None:
        if value:
            self.add("RFF", [qualifier, value])

    def refs(self, refs: list[dict[str, Any]], skip: tuple[str, ...] = ()) -> None:
        for ref in refs:
            if ref["qualifier"] not in skip:
                self.rff(ref["qualifier"], ref["value"])

    def qty(self, qualifier: str, amount: Any, uom: str | None = None) -> None:
        if amount is not None:
            self.add("QTY", [qualifier, self.number(amount), uom or ""])

    def moa(self, qualifier: str, amount: Any) -> None:
        if amount is not None:
            self.add("MOA", [qualifier, self.number(amount)])

    def pri(self, price: Any, basis: str | None = None, uom: str | None = None, qualifier: str = "AAA") -> None:
        if price is not None:
            self.add("PRI", [qualifier, self.number(price), "", basis or "", "", uom or ""])

    def currency(self, code: str | None) -> None:
        if code:
            self.add("CUX", ["2", code, "9"])

    def party(self, role: str, data: dict[str, Any] | None, written: list[dict[str, Any]],
              roles: tuple[str, ...] | None = None) -> None:
        """NAD (+ RFF+VA, CTA, COM). The party's own role wins over the slot's when the reader
        takes it for that slot (SLOT_ROLES); a party written already (a slot the reader fills
        from another one) is not repeated."""
        if not data or data in written:
            return
        written.append(data)
        # NAD C082 holds one identifier (a GLN when there is one); further ones follow as
        # RFF+API (additional party identification), which the reader adds back.
        ids = sorted((i for i in data.get("identifiers", []) if i["scheme"] != "VAT"), key=lambda i: i["scheme"] != "GLN")
        c082 = [ids[0]["value"], "", _agency(ids[0])] if ids else ""
        address = data.get("address") or {}
        name = data.get("name")
        self.add(
            "NAD",
            data.get("role") if data.get("role") in (roles or SLOT_ROLES.get(role, (role,))) else role,
            c082,
            "",
            wrap(name, 35, 5) if name else "",
            address.get("lines", [])[:4] or "",
            address.get("city"),
            address.get("region"),
            address.get("postal_code"),
            address.get("country"),
        )
        for identifier in ids[1:]:
            self.rff("API", identifier["value"])
        for identifier in data.get("identifiers", []):
            if identifier["scheme"] == "VAT":
                self.rff("VA", identifier["value"])
        contact = data.get("contact")
        if contact:
            self.add("CTA", contact.get("function"), ["", contact["name"]] if contact.get("name") else "")
            if contact.get("phone"):
                self.add("COM", [contact["phone"], "TE"])
            if contact.get("email"):
                self.add("COM", [contact["email"], "EM"])

    def line_item(self, number: str | None, action: str | None, ids: list[dict[str, Any]],
                  lots: list[str] = (), serials: list[str] = ()) -> None:
        """LIN with the first GS1 identifier, PIA for the others, lots (NB) and serials (SN)."""
        coded = [(i["value"], _qualifier(i)) for i in ids]
        gs1 = next((c for c in coded if c[1] in _GS1_CODES or (c[1] == "" and _is_gtin_scheme(ids, c))), None)
        self.add("LIN", number, action, [gs1[0], gs1[1]] if gs1 else "")
        rest = [list(c) for c in coded if c is not gs1]
        if rest:
            self.add("PIA", "5", *rest[:5])
        for start in range(5, len(rest), 5):
            self.add("PIA", "1", *rest[start : start + 5])
        batches = [[lot, "NB"] for lot in lots] + [[serial, "SN"] for serial in serials]
        for start in range(0, len(batches), 5):
            self.add("PIA", "1", *batches[start : start + 5])

    def description(self, text: str | None) -> None:
        """IMD C273: two 7008 parts of 35, split between words (the reader joins them with a space)."""
        if text:
            self.add("IMD", "F", "", ["", "", "", *wrap(text, 35, 2)])

    def payment_terms(self, text: str | None, part: str = "PAT") -> None:
        """From the reader's 'type:reference:relation:unit:number' form: the parts that are PAT
        codes (``part="PAT"``) or the free text the header's FTX+AAB carries (``part="FTX"``,
        called where FTX stands, before RFF)."""
        if not text:
            return
        for piece in text.split("; "):
            fields = piece.split(":")
            coded = len(fields) <= 5 and all(len(f) <= 3 for f in fields)
            if coded and part == "PAT":
                self.add("PAT", fields[0], "", fields[1:])
            elif not coded and part == "FTX":
                self.add("FTX", "AAB", "", "", wrap(piece, 70, 5))

    def terms(self, terms: dict[str, Any] | None) -> None:
        """Invoice terms: the reader's PAT text as it came, else PAT 1 (net days after the
        invoice date) and PAT 22 (discount days) with PCD 12 (discount %), C112 = 5:3:D:n."""
        if not terms:
            return
        if terms.get("description"):
            self.payment_terms(terms["description"])  # its FTX part went out with the header's FTX
            return
        if terms.get("net_days") is not None:
            self.add("PAT", "1", "", ["5", "3", "D", str(terms["net_days"])])
        if terms.get("discount_pct") is not None or terms.get("discount_days") is not None:
            self.add("PAT", "22", "", ["5", "3", "D", str(terms["discount_days"])] if terms.get(
                "discount_days") is not None else "")
            if terms.get("discount_pct") is not None:
                self.add("PCD", ["12", self.number(terms["discount_pct"])])

    def summary(self, lines: int) -> None:
        self.add("UNS", "S")
        self.add("CNT", ["2", str(lines)])


def wrap(text: str, width: int, parts: int) -> list[str]:
    """``text`` in pieces of at most ``width`` cut between words (a word longer than ``width``
    is cut), for composites that repeat one data element; the reader joins them with a space.
    More pieces than ``parts`` are returned as they are: the write check then names the place."""
    pieces: list[str] = []
    rest = text
    while len(rest) > width:
        cut = rest.rfind(" ", 1, width + 1)
        cut = cut if cut > 0 else width
        pieces.append(rest[:cut])
        rest = rest[cut + 1:] if rest[cut:cut + 1] == " " else rest[cut:]
    return pieces + [rest] if rest or not pieces else pieces


def _agency(identifier: dict[str, Any]) -> str:
    if not identifier.get("qualifier") and identifier["scheme"] not in PARTY_AGENCIES:
        return ""  # sent without agency, kept so
    return target_qualifier(identifier, _EDIFACT_PARTY_SCHEMES, _X12_PARTY_SCHEMES, PARTY_AGENCIES, _AGENCY)


def _qualifier(identifier: dict[str, Any]) -> str:
    if not identifier.get("qualifier") and identifier["scheme"] != "UPN":
        # A number without code type stays without one, and reads back the same.
        return ""
    return target_qualifier(identifier, _EDIFACT_ITEM_SCHEMES, ITEM_SCHEME_VALUES, ITEM_QUALIFIERS, _ITEM_CODE)


def _is_gtin_scheme(ids: list[dict[str, Any]], coded: tuple[str, str]) -> bool:
    return any(i["value"] == coded[0] and i["scheme"] == "GTIN" for i in ids)
