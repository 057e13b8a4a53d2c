"""Helpers every X12 → canonical mapping uses: element access, typed values with located
errors, and the registry of mappers by transaction set id (ST01).

A mapper is ``fn(view: SetView) -> dict`` returning a JSON-ready canonical document (validated
by its pydantic model). Bad data raises ``MappingError`` whose diagnostic names the segment
(file position and set position), the element and the reason, with the 997/999 codes
(AK304 = 8 "segment has data element errors", AK403 per element problem).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, time
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel

from edi.common.diagnostics import Diagnostic, Level, error, warning
from edi.x12.reader import TransactionSet
from edi.common.text import digits

Mapper = Callable[["SetView"], "BaseModel | list[BaseModel]"]
MAPPERS: dict[str, Mapper] = {}
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


class MappingError(Exception):
    def __init__(self, diagnostic: Diagnostic) -> None:
        self.diagnostic = diagnostic
        super().__init__(str(diagnostic))


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
        return {"segment_position": self.ts.segment_position(index), "segment_id": self.segments[index][0],
                "set_position": index + 1, "element_position": element}

    def fail(self, index: int, element: int | None, reason: str, *, element_code: str = "",
             bad_value: str | None = None) -> MappingError:
        return MappingError(error(reason, level=Level.SEGMENT, code="element_invalid", ack_code="8",
                                  bad_value=bad_value, extra={"element_code": element_code},
                                  **self.where(index, element)))

    def warn(self, index: int, element: int | None, reason: str, *, code: str = "mapping_warning",
             bad_value: str | None = None) -> None:
        self.warnings.append(warning(reason, level=Level.SEGMENT, code=code, bad_value=bad_value,
                                     **self.where(index, element)))

    def need(self, index: int, n: int, what: str) -> str:
        value = self.value(self.segments[index], n)
        if not value:
            raise self.fail(index, n, f"{what} is missing", element_code="1")
        return value

    # -- typed values ----------------------------------------------------------------------
    def date(self, index: int, n: int, *, required: bool = False) -> date | None:
        raw = self.value(self.segments[index], n)
        if not raw:
            if required:
                raise self.fail(index, n, "date is missing", element_code="1")
            return None
        ymd = raw if len(raw) == 8 else ("20" + raw if len(raw) == 6 else raw)
        try:
            if not digits(ymd) or len(ymd) != 8:
                raise ValueError
            return date(int(ymd[:4]), int(ymd[4:6]), int(ymd[6:]))
        except ValueError:
            raise self.fail(index, n, f"{raw!r} is not a CCYYMMDD date", element_code="8",
                            bad_value=raw) from None

    def time(self, index: int, n: int) -> time | None:
        raw = self.value(self.segments[index], n)
        if not raw:
            return None
        try:
            if not digits(raw) or len(raw) not in (4, 6, 8):
                raise ValueError
            return time(int(raw[:2]), int(raw[2:4]), int(raw[4:6] or 0))
        except ValueError:
            raise self.fail(index, n, f"{raw!r} is not an HHMM[SS] time", element_code="9",
                            bad_value=raw) from None

    def integer(self, index: int, n: int, *, required: bool = False) -> int | None:
        raw = self.value(self.segments[index], n)
        if not raw:
            if required:
                raise self.fail(index, n, "number is missing", element_code="1")
            return None
        if not digits(raw):
            raise self.fail(index, n, f"{raw!r} is not a whole number", element_code="6", bad_value=raw)
        return int(raw)

    def decimal(self, index: int, n: int, *, implied: int = 0, required: bool = False) -> Decimal | None:
        """A number (type R); ``implied`` decimals for type N2 elements (TDS01, SAC05)."""
        raw = self.value(self.segments[index], n)
        if not raw:
            if required:
                raise self.fail(index, n, "number is missing", element_code="1")
            return None
        try:
            number = Decimal(raw)
            if not number.is_finite() or (implied and not digits(raw.lstrip("-"))):
                raise InvalidOperation
        except InvalidOperation:
            kind = f"an N{implied} number (implied decimals)" if implied else "a number"
            raise self.fail(index, n, f"{raw!r} is not {kind}", element_code="6", bad_value=raw) from None
        return number.scaleb(-implied) if implied else number
