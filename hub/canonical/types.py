"""Field types that lose nothing between EDI, JSON and the database.

- ``Dec`` (money, quantities, factors): ``Decimal``. Accepted input: ``Decimal``, ``int`` or a
  decimal string (``"12.50"``). Floats are REJECTED: a float has already lost digits
  (``0.1 + 0.2``), and a JSON number parsed by Python is a float, so canonical JSON carries
  decimals as strings. Output JSON is a plain (never exponent) string that keeps trailing zeros:
  ``"12.50"`` stays ``"12.50"``.
- ``IsoDate``: ``YYYY-MM-DD`` strings or ``date`` objects; no timestamps, no datetimes.
- ``AwareDatetime``: ISO 8601 with an offset (``Z`` or ``+hh:mm``). A naive datetime is an
  error: a time without a zone cannot be placed on the timeline.
- ``DateOrDateTime``: a date when the source has no time (``DTM*011*20250314``), else an aware
  datetime.
- ``Code`` / ``Text``: strict strings, trimmed. Integers are refused, so identifiers keep their
  leading zeros (``"00612345678907"``).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    PlainSerializer,
    PlainValidator,
    StringConstraints,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError, PydanticKnownError

from hub.canonical.identifiers import validate_currency

_DECIMAL_TEXT = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DECIMAL_PATTERN = r"^-?\d+(\.\d+)?$"


def to_decimal(value: Any) -> Decimal:
    """Parse a Decimal from Decimal/int/str; refuse floats, bools, NaN and infinities."""
    kind = value.__class__  # exact-type fast paths first: this runs for every amount and quantity
    if kind is Decimal:
        if not value.is_finite():
            raise PydanticCustomError("decimal_finite", "decimal must be finite, got {value}", {"value": str(value)})
        return value
    if kind is str:
        return _decimal_from_text(value)
    if kind is int:
        return Decimal(value)
    if isinstance(value, bool) or isinstance(value, float):
        raise PydanticCustomError(
            "decimal_not_float",
            "give decimals as strings or integers, not floats ({value!r} may already have lost digits)",
            {"value": value},
        )
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        return to_decimal(Decimal(value))
    if isinstance(value, str):
        return _decimal_from_text(str(value))
    raise PydanticCustomError("decimal_type", "expected a decimal string or integer, got {type}", {"type": type(value).__name__})


# Texts already accepted, and what they gave: canonical JSON repeats quantities and dates
# (every line of a ship notice), and a hit skips the regex and the parse. Refusals are not
# kept; each cache is emptied when full, so distinct hostile values cannot grow it. Decimal
# and date are immutable: documents may share one instance.
_CACHE_SIZE = 4096
_DECIMALS: dict[str, Decimal] = {}
_DATES: dict[str, date] = {}


def _remember(cache: dict, key: str, value: Any) -> Any:
    if len(cache) >= _CACHE_SIZE:
        cache.clear()
    cache[key] = value
    return value


def _decimal_from_text(value: str) -> Decimal:
    found = _DECIMALS.get(value) if value.__class__ is str else None
    if found is not None:
        return found
    text = value.strip()
    if not _DECIMAL_TEXT.match(text):
        raise PydanticCustomError("decimal_text", "not a decimal number: {value!r}", {"value": value})
    try:
        number = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the regex admits only parseable text
        raise PydanticCustomError("decimal_text", "not a decimal number: {value!r}", {"value": value}) from None
    return _remember(_DECIMALS, value, number) if value.__class__ is str else number


def to_non_negative_decimal(value: Any) -> Decimal:
    """``to_decimal`` and ``>= 0``, reported as pydantic's own ``greater_than_equal`` error."""
    number = to_decimal(value)
    if number < 0:
        raise PydanticKnownError("greater_than_equal", {"ge": 0})
    return number


def decimal_text(value: Decimal) -> str:
    """Plain notation, never an exponent; trailing zeros kept (they carry precision)."""
    text = format(value, "f")
    return "0" if text in {"-0", "+0"} else text


def _to_date(value: Any) -> date:
    if isinstance(value, datetime):
        raise PydanticCustomError("date_not_datetime", "expected a date without time, got a datetime")
    if isinstance(value, date):
        return value
    if value.__class__ is str and (found := _DATES.get(value)) is not None:
        return found
    if isinstance(value, str) and _ISO_DATE.match(value.strip()):
        try:
            parsed = date.fromisoformat(value.strip())
            return _remember(_DATES, value, parsed) if value.__class__ is str else parsed
        except ValueError as exc:
            raise PydanticCustomError("date_invalid", "invalid date {value!r}: {reason}", {"value": value, "reason": str(exc)}) from None
    raise PydanticCustomError("date_format", "expected an ISO date YYYY-MM-DD, got {value!r}", {"value": value})


def _to_aware_datetime(value: Any) -> datetime:
    if isinstance(value, str):
        text = value.strip()
        if "T" not in text:
            raise PydanticCustomError("datetime_format", "expected an ISO 8601 datetime with 'T', got {value!r}", {"value": value})
        try:
            value = datetime.fromisoformat(text)
        except ValueError as exc:
            raise PydanticCustomError("datetime_invalid", "invalid datetime {value!r}: {reason}", {"value": text, "reason": str(exc)}) from None
    if not isinstance(value, datetime):
        raise PydanticCustomError("datetime_type", "expected an ISO 8601 datetime string, got {type}", {"type": type(value).__name__})
    if value.tzinfo is None or value.utcoffset() is None:
        raise PydanticCustomError(
            "datetime_naive", "datetime {value} has no time zone offset (naive datetimes are refused)", {"value": value.isoformat()}
        )
    return value


def _to_date_or_datetime(value: Any) -> date | datetime:
    if isinstance(value, datetime):
        return _to_aware_datetime(value)
    if isinstance(value, str) and "T" in value:
        return _to_aware_datetime(value)
    return _to_date(value)


def _iso(value: date | datetime) -> str:
    return value.isoformat()


# Plain validators: the function is the whole check (no second pass by pydantic's own decimal or
# date validator, whose work it already did), so each value costs one Python call.
_DECIMAL_JSON = {"type": "string", "pattern": DECIMAL_PATTERN, "description": "Decimal as a string"}
Dec = Annotated[
    Decimal,
    PlainValidator(to_decimal),
    PlainSerializer(decimal_text, return_type=str, when_used="json"),
    WithJsonSchema(_DECIMAL_JSON),
]
NonNegDec = Annotated[
    Decimal,
    PlainValidator(to_non_negative_decimal),
    PlainSerializer(decimal_text, return_type=str, when_used="json"),
    WithJsonSchema(_DECIMAL_JSON),
]
IsoDate = Annotated[
    date,
    PlainValidator(_to_date),
    PlainSerializer(_iso, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date"}),
]
AwareDatetime = Annotated[
    datetime,
    BeforeValidator(_to_aware_datetime),
    PlainSerializer(_iso, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time", "description": "ISO 8601 with a UTC offset"}),
]
DateOrDateTime = Annotated[
    date | datetime,
    BeforeValidator(_to_date_or_datetime),
    PlainSerializer(_iso, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "date"},
                {"type": "string", "format": "date-time", "description": "ISO 8601 with a UTC offset"},
            ]
        }
    ),
]
Code = Annotated[str, StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=256)]
Text = Annotated[str, StringConstraints(strict=True, strip_whitespace=True, min_length=1)]
Currency = Annotated[
    str,
    StringConstraints(strict=True, strip_whitespace=True, to_upper=True),
    AfterValidator(validate_currency),
    WithJsonSchema({"type": "string", "pattern": "^[A-Z]{3}$", "description": "ISO 4217 alphabetic code"}),
]
