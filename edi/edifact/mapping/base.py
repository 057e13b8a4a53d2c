"""What every EDIFACT → canonical mapper uses: the message view with located errors and
warnings, typed values (numbers with either decimal mark, DTM dates), and the registry of
mappers by message type (UNH S009 0065).

A mapper is ``fn(view) -> list[dict]``: JSON-ready canonical documents (most messages give one;
PRICAT gives one ``price_catalog_entry`` per item). Bad data raises ``MappingError`` whose
diagnostic names the segment (file position and position in the message), element and
component, with the CONTRL 0085 code. Recoverable oddities are warnings on ``view.warnings``.

Acks report syntax only. The reader's directory checks are the syntax; what the mappings find
beyond them — a conditional segment or value the hub needs (BGM 1004, LIN, QTY+47), a code the
canonical tables do not know, a currency the canonical model refuses, CNT totals — is a
business problem of a well-formed message: ``fail`` defaults to ``syntax=False``, the CONTRL
accepts the message and the route records a business exception. A value that is not a number
is syntax (0085 37).
"""

from __future__ import annotations

import importlib
from functools import lru_cache
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from pydantic import BaseModel, ValidationError
from pydifact.segments import Segment

from edi.common.diagnostics import UNMAPPABLE_DOCUMENT, MappingError
from edi.common.numbers import MAX_DIGITS, NumberError, bounded_decimal, shown
from edi.common.text import digits as ascii_digits
from edi.edifact.diagnostics import Diagnostic, Level, SyntaxCode
from edi.edifact.model import ReadMessage
from hub.canonical.codes import CodeTable, UnknownCode
from hub.canonical.types import decimal_text

Mapper = Callable[["MessageView"], list[dict[str, Any]]]
MAPPERS: dict[str, Mapper] = {}
# Which module maps which message type; imported on first use.
MAPPER_MODULES = {
    "ORDERS": "orders",
    "ORDRSP": "ordrsp",
    "DESADV": "desadv",
    "INVOIC": "invoic",
    "PRICAT": "pricat",
    "INVRPT": "invrpt",
    "RECADV": "recadv",
    "CONTRL": "contrl",
}


def mapper(*message_types: str) -> Callable[[Mapper], Mapper]:
    def register(fn: Mapper) -> Mapper:
        for message_type in message_types:
            MAPPERS[message_type] = fn
        return fn

    return register


def mapper_for(message_type: str) -> Mapper | None:
    if message_type not in MAPPERS and message_type in MAPPER_MODULES:
        importlib.import_module(f"edi.edifact.mapping.{MAPPER_MODULES[message_type]}")
    return MAPPERS.get(message_type)


@dataclass(frozen=True)
class MappingOptions:
    """Partner agreement values a message may leave out."""

    # EANCOM messages often omit CUX; the agreement then fixes the currency.
    default_currency: str = "EUR"


class MessageView:
    """A message as the mappers see it: body segments by index (UNH not included)."""

    def __init__(self, message: ReadMessage, options: MappingOptions | None = None) -> None:
        self.message = message
        self.segments: list[Segment] = message.segments
        self.options = options or MappingOptions()
        self.warnings: list[Diagnostic] = []

    # -- located diagnostics -------------------------------------------------------------
    def _locate(self, severity: str, code: str, reason: str, ack: str, index: int | None, element, component):
        message = self.message
        position = message.position_of(index) if index is not None else message.position
        tag = self.segments[index].tag if index is not None else "UNH"
        level = Level.SEGMENT if index is not None else Level.TRANSACTION
        return message.finding(severity, code, reason, ack, position=position, tag=tag, element=element,
                               component=component, level=level)

    def fail(
        self,
        index: int | None,
        reason: str,
        element: int | None = None,
        component: int | None = None,
        *,
        code: str = "invalid_value",
        ack: str = SyntaxCode.INVALID_VALUE,
        syntax: bool = False,
        exception_kind: str = UNMAPPABLE_DOCUMENT,
    ) -> MappingError:
        """A located error: a business problem of a well-formed message unless ``syntax``."""
        return MappingError(self._locate("error", code, reason, ack, index, element, component), syntax=syntax,
                            exception_kind=exception_kind)

    def missing(self, what: str, tag: str) -> MappingError:
        return self.fail(None, f"{what} ({tag}) is missing from the {self.message.type} message",
                         code="missing_segment", ack=SyntaxCode.MISSING)

    def warn(
        self,
        index: int | None,
        reason: str,
        element: int | None = None,
        component: int | None = None,
        *,
        code: str = "mapping_warning",
        bad_value: str | None = None,
    ) -> None:
        found = self._locate("warning", code, reason, "", index, element, component)
        self.warnings.append(replace(found, bad_value=bad_value) if bad_value is not None else found)

    # -- values -------------------------------------------------------------------------
    def number(self, index: int, text: str, element: int, component: int | None = None) -> str | None:
        """A decimal as canonical JSON text ('12,50' → '12.50'); None when empty. EDIFACT
        numbers have no exponent; not a number is syntax (0085 37). More than
        ``MAX_DIGITS`` digits is past the hub's bounds (``edi.common.numbers``): the directory
        allows up to n..35 in places, so that is a business problem, not syntax."""
        if not text:
            return None
        if ascii_digits(text) and len(text) <= MAX_DIGITS:  # the common case, without a Decimal round trip
            return text.lstrip("0") or "0"
        try:
            value = bounded_decimal(text.replace(",", "."))
        except NumberError as exc:
            if exc.too_long:
                raise self.fail(index, f"{exc.reason} (the hub reads numbers of at most {MAX_DIGITS} digits)",
                                element, component, code="number_out_of_bounds", ack=SyntaxCode.TOO_LONG) from None
            raise self.fail(index, f"{shown(text)} is not a number", element, component, code="not_numeric",
                            ack=SyntaxCode.INVALID_CHARACTER_TYPE, syntax=True) from None
        return decimal_text(value)

    def code(self, table: CodeTable, index: int, value: str, element: int, component: int | None = None, overrides=None):
        try:
            return table(value, overrides)
        except UnknownCode as exc:
            raise self.fail(index, str(exc), element, component, code="unknown_code",
                            ack=SyntaxCode.VALUE_NOT_SUPPORTED) from None

    def date(self, index: int) -> tuple[str, str | None]:
        """DTM → (qualifier 2005, ISO date or None when the value cannot be read; warned)."""
        qualifier, text, fmt = first_three(self.segments[index])
        parsed = parse_dtm(text, fmt)
        if parsed is None and text:
            self.warn(index, f"DTM {qualifier} value {text!r} is not a date in format {fmt or '102'}; left out", 1, 2,
                      code="bad_date")
        elif parsed is not None and len(text) > 8 and fmt in _WITH_TIME:
            self.warn(index, f"DTM {qualifier} time {text[8:]} dropped: EDIFACT sends no time zone", 1, 2,
                      code="time_dropped")
        return qualifier, parsed

    def validated(self, model: type[BaseModel], data: dict[str, Any], index_of: dict[str, int]) -> dict[str, Any]:
        """The canonical JSON form of ``data`` after the model validated it; a refusal becomes
        a located error (``index_of``: top-level field → segment index it came from)."""
        try:
            return model.model_validate(data).model_dump(mode="json", exclude_none=True)
        except ValidationError as exc:
            first = exc.errors()[0]
            path = ".".join(str(p) for p in first["loc"])
            index = index_of.get(str(first["loc"][0])) if first["loc"] else None
            raise self.fail(index, f"{path}: {first['msg']}", code="canonical_invalid") from None


_WITH_TIME = {"203", "204", "205"}
_DATE_FORMATS = {"102": 8, "203": 8, "204": 8, "205": 8, "101": 6, "718": 8, "719": 8, "": 8}


@lru_cache(maxsize=8192)
def parse_dtm(text: str, fmt: str) -> str | None:
    """ISO date of a DTM value in formats 102/203/204 (CCYYMMDD…), 101 (YYMMDD), 718/719
    (a period: its start). None when it is not a valid date."""
    size = _DATE_FORMATS.get(fmt)
    if size is None or len(text) < size:
        return None
    digits = text[:size]
    if not ascii_digits(digits):
        return None
    if size == 6:
        digits = "20" + digits
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:8])).isoformat()
    except ValueError:
        return None


def comp(seg: Segment, index: int, component: int) -> str:
    """Element ``index`` (0-based after the tag), component ``component``, trimmed; '' when absent."""
    elements = seg.elements
    if index >= len(elements):
        return ""
    value = elements[index]
    if value.__class__ is list:
        return value[component].strip() if component < len(value) else ""
    return value.strip() if component == 0 else ""


def first_two(seg: Segment, index: int) -> tuple[str, str]:
    """Components 0 and 1 of element ``index``, trimmed, '' where absent: ``comp(seg, index,
    0), comp(seg, index, 1)`` with one look at the element (a C212 value and its code type)."""
    elements = seg.elements
    if index >= len(elements):
        return "", ""
    value = elements[index]
    if value.__class__ is not list:
        return value.strip(), ""
    size = len(value)
    return (value[0].strip() if size else ""), (value[1].strip() if size > 1 else "")


def first_three(seg: Segment) -> tuple[str, str, str]:
    """The first three components of the first element, trimmed, '' where absent: qualifier,
    value and format or unit of DTM, QTY and RFF (one call per such segment, no lists)."""
    elements = seg.elements
    if not elements:
        return "", "", ""
    value = elements[0]
    if value.__class__ is not list:
        return value.strip(), "", ""
    size = len(value)
    return (value[0].strip(), value[1].strip() if size > 1 else "", value[2].strip() if size > 2 else "")


def texts(seg: Segment, index: int) -> list[str]:
    """The non-empty components of an element, trimmed."""
    if index >= len(seg.elements):
        return []
    value = seg.elements[index]
    values = value if isinstance(value, list) else [value]
    return [v.strip() for v in values if v.strip()]


def drop_empty(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` without None, [] and {} values (comparing each value with a new ``[]`` and
    ``{}`` built two containers per value: a tenth of a DESADV's mapping)."""
    return {k: v for k, v in data.items() if v is not None and (v or not isinstance(v, (list, dict)))}
