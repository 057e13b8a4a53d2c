"""A message cut into the parts the order-to-invoice messages share: the header (before the
first LIN), one group per LIN (up to the next LIN or UNS), and the summary (after UNS+S).
Each part collects the common segments in a typed, located form so the mappers of ORDERS,
ORDRSP, INVOIC, PRICAT and INVRPT only decide what goes where.
"""

from __future__ import annotations

from typing import Any

from edi.edifact.mapping.base import MessageView, comp
from edi.edifact.mapping.common import (
    PARTY_REFERENCES,
    ItemIds,
    control_count,
    Price,
    attach_to_party,
    currency,
    description,
    gin,
    lin,
    moa,
    party,
    pia,
    qty,
    rff,
)


class Part:
    """Segments of one part, read into dictionaries keyed by qualifier (first one wins)."""

    def __init__(self, view: MessageView, first: int) -> None:
        self.view = view
        self.first = first
        self.dates: dict[str, tuple[str, int]] = {}
        self.refs: list[tuple[str, str, int]] = []
        self.qtys: dict[str, tuple[str | None, str | None, int]] = {}
        self.amounts: dict[str, tuple[str | None, str | None, int]] = {}
        self.prices: list[Price] = []
        self.parties: dict[str, dict[str, Any]] = {}
        self.party_index: dict[str, int] = {}
        self.charges: list[dict[str, Any]] = []
        self.taxes: list[tuple[str, str | None, int]] = []  # (TAX rate, amount of the MOA after it)
        self.locations: list[tuple[str, str, int]] = []
        self.notes: list[str] = []
        self.terms_text: str | None = None
        self.other: dict[str, list[int]] = {}
        self._party: dict[str, Any] | None = None
        self._charge: dict[str, Any] | None = None
        self._tax: int | None = None

    def ref(self, qualifier: str) -> str | None:
        return next((value for q, value, _ in self.refs if q == qualifier and value), None)

    def date(self, *qualifiers: str) -> str | None:
        return next((self.dates[q][0] for q in qualifiers if q in self.dates), None)

    def amount(self, *qualifiers: str) -> str | None:
        return next((self.amounts[q][0] for q in qualifiers if q in self.amounts and self.amounts[q][0]), None)

    def add(self, index: int) -> None:
        view, seg = self.view, self.view.segments[index]
        tag = seg.tag
        if tag == "NAD":
            self._party = party(view, index)
            role = self._party.get("role", "")
            self.parties.setdefault(role, self._party)
            self.party_index.setdefault(role, index)
            return
        if self._party is not None and (tag in ("CTA", "COM") or tag == "RFF" and comp(seg, 0, 0) in PARTY_REFERENCES):
            attach_to_party(view, index, self._party)
            return
        if tag == "DTM":
            qualifier, value = view.date(index)
            if value is not None:
                self.dates.setdefault(qualifier, (value, index))
        elif tag == "RFF":
            qualifier, value = rff(view, index)
            self.refs.append((qualifier, value, index))
        elif tag == "QTY":
            qualifier, amount, uom = qty(view, index)
            self.qtys.setdefault(qualifier, (amount, uom, index))
        elif tag == "MOA":
            self._moa(index)
        elif tag == "PRI":
            self.prices.append(Price(view, index))
        elif tag == "ALC":
            self._charge = _charge(view, index)
            self.charges.append(self._charge)
        elif tag == "PCD" and self._charge is not None:
            self._charge.setdefault("percent", view.number(index, comp(seg, 0, 1), 1, 2))
        elif tag == "TAX":
            self._tax = index
        elif tag == "LOC":
            self.locations.append((comp(seg, 0, 0), comp(seg, 1, 0), index))
        elif tag == "FTX":
            text = " ".join(v for v in (comp(seg, 3, i) for i in range(5)) if v)
            if text and comp(seg, 0, 0) == "AAB":  # terms of payment
                self.terms_text = self.terms_text or text
            elif text:
                self.notes.append(text)
        else:
            self.other.setdefault(tag, []).append(index)
        if tag != "NAD" and tag not in ("RFF", "CTA", "COM"):
            self._party = None

    def _moa(self, index: int) -> None:
        qualifier, amount, currency_code = moa(self.view, index)
        if self._tax is not None and qualifier in ("124", "176", "150"):
            self.taxes.append((_tax_rate(self.view, self._tax), amount, index))
            self._tax = None
        elif self._charge is not None and qualifier in ("8", "23", "204", "131"):
            self._charge.setdefault("amount", amount)
            return
        self.amounts.setdefault(qualifier, (amount, currency_code, index))


def _tax_rate(view: MessageView, index: int) -> str:
    return comp(view.segments[index], 4, 3)


def _charge(view: MessageView, index: int) -> dict[str, Any]:
    seg = view.segments[index]
    raw = comp(seg, 4, 0) or comp(seg, 1, 1) or comp(seg, 1, 0)
    return {"indicator": comp(seg, 0, 0), "type_raw": raw or None, "index": index,
            "description": comp(seg, 4, 3) or None}


class LinePart(Part):
    """One LIN group: LIN 1082 / 1229 / C212, PIA, IMD, GIN plus the common segments."""

    def __init__(self, view: MessageView, index: int) -> None:
        super().__init__(view, index)
        self.ids = ItemIds()
        self.number, self.action = lin(view, index, self.ids)
        self.description: str | None = None
        self.qvr: tuple[str, str, int] | None = None

    def add(self, index: int) -> None:
        view, seg = self.view, self.view.segments[index]
        tag = seg.tag
        if tag == "PIA":
            pia(view, index, self.ids)
        elif tag == "IMD":
            self.description = self.description or description(view, index)
        elif tag == "GIN":
            gin(view, index, self.ids)
        elif tag == "QVR":
            self.qvr = (comp(seg, 1, 0), comp(seg, 2, 0), index)
        else:
            super().add(index)
            if tag == "RFF" and comp(seg, 0, 0) == "ON" and comp(seg, 0, 2):
                # EANCOM sends the order line in C506 1156 (RFF+ON:<PO>:<line>); the first line reference wins.
                self.refs.append(("LI", comp(seg, 0, 2), index))


class MessageParts:
    def __init__(self, view: MessageView) -> None:
        self.view = view
        self.bgm: int | None = None
        self.header = Part(view, 0)
        self.lines: list[LinePart] = []
        self.summary = Part(view, len(view.segments))
        self.cnt: list[int] = []
        self.currency: str | None = None
        self.currency_index: int | None = None
        self.pat: list[int] = []
        self._split()

    def _split(self) -> None:
        part: Part = self.header
        for index, seg in enumerate(self.view.segments):
            tag = seg.tag
            if tag == "LIN":
                part = LinePart(self.view, index)
                self.lines.append(part)
            elif tag == "UNS":
                if comp(seg, 0, 0) != "D":  # UNS+D closes a DELFOR-style header only
                    part = self.summary
            elif tag == "BGM":
                self.bgm = index
            elif tag == "CNT":
                self.cnt.append(index)
            elif tag == "CUX" and self.currency is None:
                self.currency, self.currency_index = currency(self.view, index), index
            elif tag == "PAT":
                self.pat.append(index)
            else:
                part.add(index)

    def bgm_value(self, element: int, component: int = 0) -> str:
        return comp(self.view.segments[self.bgm], element, component) if self.bgm is not None else ""

    def document_date(self, what: str, *qualifiers: str) -> str | None:
        """The header DTM with the first of ``qualifiers``, else the interchange preparation
        date (warned), else None."""
        found = self.header.date(*qualifiers)
        if found is not None:
            return found
        stamp = self.view.message.interchange.timestamp
        if stamp is None:
            return None
        self.view.warn(None, f"no {what} (DTM+{qualifiers[0]}): the interchange date (UNB S004) is used",
                       code="date_from_unb")
        return stamp.date().isoformat()

    def check_line_count(self) -> None:
        for index in self.cnt:
            control_count(self.view, index, len(self.lines), "LIN line items")

    def document_currency(self) -> str:
        """CUX, else the currency the amounts name, else the partner agreement (warned)."""
        if self.currency:
            return self.currency
        for part in (self.summary, self.header, *self.lines):
            for _, code, _ in part.amounts.values():
                if code:
                    return code
        default = self.view.options.default_currency
        self.view.warn(None, f"no currency (CUX): {default} from the partner agreement", code="default_currency")
        return default
