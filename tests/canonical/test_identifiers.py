"""Identifier rules: GS1 check digits, NDC layouts, HIBC mod 43, GS1 dates, ISO 4217."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.canonical.identifiers import (
    HIBC_CHARSET,
    IdentifierError,
    currencies,
    gs1_century_year,
    gs1_check_digit,
    gs1_date,
    hibc_check_character,
    normalize_gtin,
    normalize_ndc,
    validate_currency,
    validate_gln,
    validate_hibc,
    validate_sscc,
)


def with_check(body: str) -> str:
    return body + str(gs1_check_digit(body))


def gs1_numbers(length: int):
    return st.text("0123456789", min_size=length - 1, max_size=length - 1).map(with_check)


def substitute(number: str, position: int, digit: str) -> str:
    return number[:position] + digit + number[position + 1 :]


def single_substitutions(length: int):
    """A valid number and a copy with exactly one digit changed."""

    @st.composite
    def build(draw):
        number = draw(gs1_numbers(length))
        position = draw(st.integers(0, length - 1))
        digit = draw(st.sampled_from([d for d in "0123456789" if d != number[position]]))
        return number, substitute(number, position, digit)

    return build()


@pytest.mark.parametrize("length", [8, 12, 13, 14])
@given(data=st.data())
def test_valid_gtins_pass_and_pad_to_14(length: int, data) -> None:
    number = data.draw(gs1_numbers(length))
    assert normalize_gtin(number) == number.zfill(14)


@pytest.mark.parametrize("length", [8, 12, 13, 14])
@given(data=st.data())
def test_any_single_digit_change_breaks_a_gtin(length: int, data) -> None:
    _, changed = data.draw(single_substitutions(length))
    with pytest.raises(IdentifierError):
        normalize_gtin(changed)


@given(pair=single_substitutions(13))
def test_gln_check_digit(pair) -> None:
    valid, changed = pair
    assert validate_gln(valid) == valid
    with pytest.raises(IdentifierError, match="GLN"):
        validate_gln(changed)


@given(pair=single_substitutions(18))
def test_sscc_check_digit(pair) -> None:
    valid, changed = pair
    assert validate_sscc(valid) == valid
    assert validate_sscc(f"(00){valid}") == valid
    with pytest.raises(IdentifierError, match="SSCC"):
        validate_sscc(changed)


def test_known_gs1_numbers() -> None:
    assert normalize_gtin("612345678907"[:0] + "00612345678907") == "00612345678907"
    assert normalize_gtin("036000291452") == "00036000291452"  # UPC-A of a well-known product
    assert validate_gln("0614141000012") == "0614141000012"


@pytest.mark.parametrize(
    ("value", "reason"),
    [("0061234567890", "13 digits|check digit"), ("0061234567890A", "digits only"), ("1234567", "must have")],
)
def test_gtin_errors_name_the_reason(value: str, reason: str) -> None:
    with pytest.raises(IdentifierError, match=reason):
        normalize_gtin(value)


# ----------------------------------------------------------------- NDC

digits = lambda n: st.text("0123456789", min_size=n, max_size=n)  # noqa: E731


@given(labeler=digits(4), product=digits(4), package=digits(2))
def test_ndc_4_4_2(labeler: str, product: str, package: str) -> None:
    assert normalize_ndc(f"{labeler}-{product}-{package}") == f"0{labeler}{product}{package}"


@given(labeler=digits(5), product=digits(3), package=digits(2))
def test_ndc_5_3_2(labeler: str, product: str, package: str) -> None:
    assert normalize_ndc(f"{labeler}-{product}-{package}") == f"{labeler}0{product}{package}"


@given(labeler=digits(5), product=digits(4), package=digits(1))
def test_ndc_5_4_1(labeler: str, product: str, package: str) -> None:
    assert normalize_ndc(f"{labeler}-{product}-{package}") == f"{labeler}{product}0{package}"


@given(labeler=digits(5), product=digits(4), package=digits(2))
def test_ndc_11_digits_kept(labeler: str, product: str, package: str) -> None:
    eleven = f"{labeler}{product}{package}"
    assert normalize_ndc(eleven) == eleven
    assert normalize_ndc(f"{labeler}-{product}-{package}") == eleven


@given(layout=st.sampled_from([(4, 4, 2), (5, 3, 2), (5, 4, 1)]), data=st.data())
def test_ndc_segments_survive(layout: tuple[int, int, int], data) -> None:
    parts = [data.draw(digits(n)) for n in layout]
    result = normalize_ndc("-".join(parts))
    assert len(result) == 11
    # 5-4-2 segments of the result, stripped of the one pad zero, give back the originals
    assert [int(result[:5]), int(result[5:9]), int(result[9:])] == [int(p) for p in parts]
    assert result[:5].endswith(parts[0]) and result[5:9].endswith(parts[1]) and result[9:].endswith(parts[2])


@pytest.mark.parametrize(
    ("value", "reason"),
    [("1234567890", "10 digits without hyphens"), ("123-4567-89", "not in a"), ("12345-67-890", "not in a"), ("1234", "10 \\(hyphenated\\)")],
)
def test_ndc_errors(value: str, reason: str) -> None:
    with pytest.raises(IdentifierError, match=reason):
        normalize_ndc(value)


# ----------------------------------------------------------------- HIBC


def test_hibc_known_example() -> None:
    # The HIBC LIC example from the HIBC standard / bwipp: +A123BJC5D6E71, check character G.
    assert hibc_check_character("+A123BJC5D6E71") == "G"
    assert validate_hibc("+A123BJC5D6E71G") == "+A123BJC5D6E71G"
    assert validate_hibc("a123bjc5d6e71g") == "+A123BJC5D6E71G"  # '+' restored, upper-cased
    assert validate_hibc("*+A123BJC5D6E71G*") == "+A123BJC5D6E71G"


@st.composite
def hibc_primaries(draw) -> str:
    alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    lic = draw(st.sampled_from(alnum[10:])) + draw(st.text(alnum, min_size=3, max_size=3))
    product = draw(st.text(alnum, min_size=1, max_size=18))
    data = f"+{lic}{product}{draw(st.sampled_from('0123456789'))}"
    return data + hibc_check_character(data)


@given(primary=hibc_primaries(), data=st.data())
def test_hibc_any_single_change_fails(primary: str, data) -> None:
    assert validate_hibc(primary) == primary
    position = data.draw(st.integers(1, len(primary) - 1))
    replacement = data.draw(st.sampled_from([c for c in HIBC_CHARSET if c != primary[position]]))
    changed = primary[:position] + replacement + primary[position + 1 :]
    with pytest.raises(IdentifierError):
        validate_hibc(changed)


def test_hibc_rejects_secondary_data() -> None:
    with pytest.raises(IdentifierError, match="secondary"):
        validate_hibc("+A123BJC5D6E71/$$420020216LOT123G")


# ----------------------------------------------------------------- GS1 dates


def test_gs1_expiry_day_zero_is_month_end() -> None:
    today = date(2025, 6, 1)
    assert gs1_date("270900", today) == date(2027, 9, 30)
    assert gs1_date("280200", today) == date(2028, 2, 29)  # leap year
    assert gs1_date("270200", today) == date(2027, 2, 28)
    assert gs1_date("271215", today) == date(2027, 12, 15)


@pytest.mark.parametrize(
    ("yy", "today", "year"),
    [
        (25, date(2025, 1, 1), 2025),
        (75, date(2025, 1, 1), 2075),  # diff 50: current century
        (76, date(2025, 1, 1), 1976),  # diff 51: previous century
        (99, date(2025, 1, 1), 1999),
        (1, date(2099, 1, 1), 2101),  # diff -98: next century
        (49, date(2099, 1, 1), 2149),  # diff -50: next century
        (50, date(2099, 1, 1), 2050),  # diff -49: current century
    ],
)
def test_gs1_century_rule(yy: int, today: date, year: int) -> None:
    assert gs1_century_year(yy, today) == year


@pytest.mark.parametrize(("value", "reason"), [("271300", "month 13"), ("270231", "day 31"), ("2709", "6 digits")])
def test_gs1_date_errors(value: str, reason: str) -> None:
    with pytest.raises(IdentifierError, match=reason):
        gs1_date(value, date(2025, 1, 1))


# ----------------------------------------------------------------- ISO 4217


def test_currency_list_is_complete_enough() -> None:
    codes = currencies()
    assert len(codes) > 170
    for code in ("USD", "EUR", "CAD", "GBP", "JPY", "CHF", "AUD", "MXN", "XOF", "KWD"):
        assert code in codes
    assert codes["JPY"]["minor_unit"] == "0" and codes["KWD"]["minor_unit"] == "3"
    assert validate_currency(" usd ") == "USD"
    with pytest.raises(IdentifierError, match="ISO 4217"):
        validate_currency("USX")
