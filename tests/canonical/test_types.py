"""Lossless field types: decimals as strings, strict dates, aware datetimes, strict identifiers."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from hub.canonical.types import AwareDatetime, Code, Currency, DateOrDateTime, Dec, IsoDate

DEC = TypeAdapter(Dec)


def test_decimal_accepts_strings_ints_and_decimals() -> None:
    assert DEC.validate_python("12.50") == Decimal("12.50")
    assert DEC.validate_python(3) == Decimal(3)
    assert DEC.validate_python(Decimal("0.10")) == Decimal("0.10")


@pytest.mark.parametrize("bad", [0.1, 1.0, True, "1e3x", "NaN", "", "1,5", None])
def test_decimal_refuses_floats_and_junk(bad) -> None:
    with pytest.raises(ValidationError):
        DEC.validate_python(bad)


def test_float_error_says_why() -> None:
    with pytest.raises(ValidationError, match="not floats"):
        DEC.validate_python(12.5)


@given(st.decimals(allow_nan=False, allow_infinity=False, places=6, min_value=-10**12, max_value=10**12))
def test_decimal_json_round_trip_is_exact(value: Decimal) -> None:
    text = DEC.dump_json(value)
    assert text.startswith(b'"') and b"E" not in text.upper()
    assert DEC.validate_json(text) == value
    assert DEC.dump_json(DEC.validate_json(text)) == text


def test_decimal_keeps_trailing_zeros_and_plain_notation() -> None:
    assert DEC.dump_json(Decimal("45.10")) == b'"45.10"'
    assert DEC.dump_json(Decimal("1E+3")) == b'"1000"'


def test_dates_are_strict_iso() -> None:
    adapter = TypeAdapter(IsoDate)
    assert adapter.validate_python("2027-09-30") == date(2027, 9, 30)
    for bad in ("20270930", "2027-09-31", 1700000000, "2027-09-30T00:00:00Z", datetime(2027, 9, 30, tzinfo=timezone.utc)):
        with pytest.raises(ValidationError):
            adapter.validate_python(bad)


def test_naive_datetime_is_an_error() -> None:
    adapter = TypeAdapter(AwareDatetime)
    assert adapter.validate_python("2025-03-14T10:22:00-05:00").utcoffset().total_seconds() == -5 * 3600
    with pytest.raises(ValidationError, match="no time zone"):
        adapter.validate_python("2025-03-14T10:22:00")
    with pytest.raises(ValidationError, match="no time zone"):
        adapter.validate_python(datetime(2025, 3, 14, 10, 22))
    with pytest.raises(ValidationError):
        adapter.validate_python(1700000000)
    assert adapter.dump_json(adapter.validate_python("2025-03-14T10:22:00Z")) == b'"2025-03-14T10:22:00+00:00"'


def test_date_or_datetime() -> None:
    adapter = TypeAdapter(DateOrDateTime)
    assert adapter.validate_python("2025-03-14") == date(2025, 3, 14)
    assert isinstance(adapter.validate_python("2025-03-14T17:30:00-05:00"), datetime)
    with pytest.raises(ValidationError, match="no time zone"):
        adapter.validate_python("2025-03-14T17:30:00")


def test_identifiers_keep_leading_zeros_and_refuse_numbers() -> None:
    adapter = TypeAdapter(Code)
    assert adapter.validate_python(" 00612345678907 ") == "00612345678907"
    with pytest.raises(ValidationError):
        adapter.validate_python(612345678907)


def test_currency() -> None:
    adapter = TypeAdapter(Currency)
    assert adapter.validate_python("eur") == "EUR"
    with pytest.raises(ValidationError, match="ISO 4217"):
        adapter.validate_python("EUX")
