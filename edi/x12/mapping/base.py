"""Helpers every X12 → canonical mapping uses: element access, typed values with located
errors, and the registry of mappers by transaction set id (ST01).

A mapper is ``fn(view: SetView) -> dict`` returning a JSON-ready canonical document (validated
by its pydantic model). Bad data raises ``MappingError`` whose diagnostic names the segment
(file position and set position), the element and the reason, with the 997/999 codes
(AK304 = 8 "segment has data element errors", AK403 per element problem).

Acks report syntax only. The typed values (dates, times, numbers within the bounds of
``edi.common.numbers``), the segments and elements the X12 standard makes mandatory, and
codes of lists the standard fixes completely are syntax (``syntax=True``: AK3/AK4, AK5 R);
``fail`` without ``syntax=True`` is a business problem of a well-formed set (no usable item,
no ship-to, canonical validation, control totals …): the 997/999 accepts the set and the
route records a business exception (``edi.common.diagnostics.MappingError``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, time
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from edi.common.diagnostics import UNMAPPABLE_DOCUMENT, Diagnostic, Level, MappingError, error, warning
from edi.common.numbers import NumberError, accepted_decimals, bounded_decimal, count_value, shown
from edi.x12.reader import TransactionSet
from edi.common.text import digits

Mapper = Callable[["SetView"], "BaseModel | list[BaseModel]"]
MAPPERS: dict[str, Mapper] = {}
# Dates read before (an expiry or ship date repeats on every line of a file): accepted texts
# only, emptied when full so hostile input cannot grow it. Dates are immutable: sharing is safe.
_DATES: dict[str, date] = {}
_DATE_CACHE_SIZE = 4096
# Type R values ``bounded_decimal`` accepted before (its own bounded cache, read directly).
_ACCEPTED_R = accepted_decimals(exponent=True)
# Which module maps which set; imported on first use so importing the engine stays cheap.
MAPPER_MODULES = {"850": "po850", "855": "ack855", "856": "asn856", "810": "inv810", "846": "inv846",
                  "832": "cat832", "997": "acks", "999": "acks"}


def mapper(*set_ids: str) -> Callable[[Mapper], Mapper]:
    def register(fn: Mapper) -> Mapper:
        for set_id in set_ids:
            MAPPERS[set_id] = fn
        return fn

    return register


def mapper_for(set_id: str) -> Mapper | None:
    if set_id not in MAPPERS and set_id in MAPPER_MODULES:
        import importlib

        importlib.import_module(f"edi.x12.mapping.{MAPPER_MODULES[set_id]}")
    return MAPPERS.get(set_id)


class SetView:
    """A transaction set as the mappers see it: segments by index (0 = ST)."""

    def __init__(self, ts: TransactionSet) -> None:
        self.ts = ts
        self.segments = ts.segments
        self.component = ts.delimiters.component
        self.repetition = ts.delimiters.repetition
        self.warnings: list[Diagnostic] = []
        # Identifiers are first left to the canonical model to check (one pass); when it refuses
        # one, the set is mapped again with every identifier checked by the mapping itself.
        self.precheck_ids = False

    # -- access ----------------------------------------------------------------------------
    def iter(self, *ids: str) -> Iterator[tuple[int, list[str]]]:
        for i, seg in enumerate(self.segments):
            if not ids or seg[0] in ids:
                yield i, seg

    def first(self, seg_id: str) -> tuple[int, list[str]] | None:
        return next(self.iter(seg_id), None)

    def require(self, seg_id: str) -> tuple[int, list[str]]:
        """A segment the X12 set definition makes mandatory (BEG, BAK, BSN …): syntax."""
        found = self.first(seg_id)
        if found is None:
            raise MappingError(error(
                f"mandatory segment {seg_id} missing from transaction set {self.ts.set_id}",
                segment_position=self.ts.position, segment_id=seg_id, set_position=None,
                code="segment_missing", ack_code="3",
                extra={"missing_segment": seg_id}))
        return found

    @staticmethod
    def value(seg: list[str], n: int) -> str:
        return seg[n].strip() if len(seg) > n else ""

    def opt(self, seg: list[str], n: int) -> str | None:
        return self.value(seg, n) or None

    def components(self, seg: list[str], n: int) -> list[str]:
        raw = self.value(seg, n)
        return raw.split(self.component) if self.component and raw else [raw]

    # -- located errors --------------------------------------------------------------------
    def where(self, index: int, element: int | None = None) -> dict[str, Any]:
        # A mapper may point past the body ("the lines start here", and there are none): the
        # place is then the last segment read (SE), never an IndexError.
        index = max(0, min(index, len(self.segments) - 1))
        return {"segment_position": self.ts.segment_position(index), "segment_id": self.segments[index][0][:20],
                "set_position": index + 1, "element_position": element}

    def fail(self, index: int, element: int | None, reason: str, *, element_code: str = "",
             bad_value: str | None = None, syntax: bool = False, code: str = "element_invalid",
             exception_kind: str = UNMAPPABLE_DOCUMENT) -> MappingError:
        """A located error. ``syntax=True`` for what the X12 standard itself forbids (the
        997/999 rejects the set); otherwise a business problem of a well-formed set."""
        return MappingError(error(reason, level=Level.SEGMENT, code=code, ack_code="8",
                                  bad_value=bad_value, extra={"element_code": element_code},
                                  **self.where(index, element)), syntax=syntax, exception_kind=exception_kind)

    def warn(self, index: int, element: int | None, reason: str, *, code: str = "mapping_warning",
             bad_value: str | None = None) -> None:
        self.warnings.append(warning(reason, level=Level.SEGMENT, code=code, bad_value=bad_value,
                                     **self.where(index, element)))

    def need(self, index: int, n: int, what: str, *, mandatory: bool = True) -> str:
        """An element the mapping needs. ``mandatory``: the X12 segment definition makes it
        mandatory too (a syntax error when missing); False for an optional element the hub
        needs (a business problem)."""
        value = self.value(self.segments[index], n)
        if not value:
            raise self.fail(index, n, f"{what} is missing", element_code="1", syntax=mandatory)
        return value

    # -- typed values ----------------------------------------------------------------------
    def date(self, index: int, n: int, *, required: bool = False) -> date | None:
        seg = self.segments[index]
        raw = seg[n].strip() if len(seg) > n else ""
        if not raw:
            if required:
                raise self.fail(index, n, "date is missing", element_code="1", syntax=True)
            return None
        found = _DATES.get(raw)
        if found is not None:
            return found
        ymd = raw if len(raw) == 8 else ("20" + raw if len(raw) == 6 else raw)
        try:
            if not digits(ymd) or len(ymd) != 8:
                raise ValueError
            found = date(int(ymd[:4]), int(ymd[4:6]), int(ymd[6:]))
        except ValueError:
            raise self.fail(index, n, f"{shown(raw)} is not a CCYYMMDD date", element_code="8",
                            bad_value=raw, syntax=True) from None
        if len(_DATES) >= _DATE_CACHE_SIZE:
            _DATES.clear()
        _DATES[raw] = found
        return found

    def time(self, index: int, n: int) -> time | None:
        raw = self.value(self.segments[index], n)
        if not raw:
            return None
        try:
            if not digits(raw) or len(raw) not in (4, 6, 8):
                raise ValueError
            return time(int(raw[:2]), int(raw[2:4]), int(raw[4:6] or 0))
        except ValueError:
            raise self.fail(index, n, f"{shown(raw)} is not an HHMM[SS] time", element_code="9",
                            bad_value=raw, syntax=True) from None

    def integer(self, index: int, n: int, *, required: bool = False, mandatory: bool = True) -> int | None:
        """A whole number (type N0) of at most ``MAX_COUNT_DIGITS`` significant digits.
        ``mandatory`` as for ``need``, when ``required``."""
        raw = self.value(self.segments[index], n)
        if not raw:
            if required:
                raise self.fail(index, n, "number is missing", element_code="1", syntax=mandatory)
            return None
        value = count_value(raw)
        if value is None:
            too_long = digits(raw)
            reason = f"{shown(raw)} has more digits than any X12 number" if too_long else \
                f"{shown(raw)} is not a whole number"
            raise self.fail(index, n, reason, element_code="5" if too_long else "6", bad_value=raw, syntax=True)
        return value

    def decimal(self, index: int, n: int, *, implied: int = 0, required: bool = False,
                mandatory: bool = True) -> Decimal | None:
        """A number (type R, exponent allowed) or, with ``implied`` decimals, type N2 (TDS01,
        SAC05), within the bounds of ``edi.common.numbers``: past them the value is longer than
        any X12 numeric element (AK403 5). ``mandatory`` as for ``need``, when ``required``."""
        seg = self.segments[index]
        raw = seg[n].strip() if len(seg) > n else ""
        if not implied and (number := _ACCEPTED_R.get(raw)) is not None:
            return number  # read before (quantities repeat on every line): no call, no checks again
        if not raw:
            if required:
                raise self.fail(index, n, "number is missing", element_code="1", syntax=mandatory)
            return None
        try:
            if implied and not digits(raw.lstrip("-")):
                raise NumberError(f"{shown(raw)} is not an N{implied} number (implied decimals)", too_long=False)
            number = bounded_decimal(raw, exponent=not implied)
        except NumberError as exc:
            raise self.fail(index, n, exc.reason, element_code="5" if exc.too_long else "6", bad_value=raw,
                            syntax=True) from None
        return number.scaleb(-implied) if implied else number
