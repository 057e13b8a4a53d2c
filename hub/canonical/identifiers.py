"""Validation and normalisation of the identifiers healthcare supply-chain documents carry.

Every function takes the value as sent and returns the normalised string, or raises
``IdentifierError`` (a ``ValueError``, so pydantic reports it with the field path) whose message
names the scheme and the reason. Rules come from domain.md sections 1.4 and 2.3:

- GTIN-8/12/13/14: GS1 mod-10 check digit; stored left-padded to 14 digits.
- GLN (13 digits) and SSCC (18 digits): GS1 mod-10 check digit.
- NDC: the 10-digit hyphenated layouts 4-4-2, 5-3-2 and 5-4-1 are zero-padded to 11 digits in
  5-4-2 order, hyphens removed; an 11-digit NDC passes as is. Ten digits without hyphens are
  refused: they do not say which segment the pad zero belongs to.
- HIBC primary data: ``+`` LIC (4 chars, first a letter) product (1-18 alnum) UoM digit and a
  mod-43 check character.
- GS1 AI 17/15 dates: YYMMDD with the GS1 century rule; DD = 00 means the last day of the month.
- ISO 4217 currency codes from ``data/iso4217.csv``.
"""

from __future__ import annotations

import calendar
import csv
import re
from datetime import date
from functools import cache, lru_cache
from pathlib import Path

DATA_DIR = Path(__file__).with_name("data")


class IdentifierError(ValueError):
    """An identifier fails its format or check-digit rule."""


# Models that carry a value which failed its check (ItemIdentifier, PartyIdentifier, a pack's
# SSCC) describe the field that says why with this text.
INVALID_REASON_DESCRIPTION = (
    "Why the value failed its format or check-digit rule (domain.md C #12). When set, the value is "
    "kept exactly as sent, not normalised, and the document is reported as an invalid_identifier "
    "business exception for review."
)


# ---------------------------------------------------------------- GS1 mod 10

def gs1_check_digit(body: str) -> int:
    """The GS1 mod-10 check digit for ``body`` (all digits but the check digit)."""
    if not (body.isascii() and body.isdigit()):
        raise IdentifierError(f"GS1 number must be digits only, got {body!r}")
    # Weights 3,1,3,1... run from the rightmost digit of the body. Summing the ASCII bytes
    # (48 + digit each) is done in C; the 48s are taken off afterwards.
    raw = body.encode("ascii")
    tripled, single = raw[-1::-2], raw[-2::-2]
    total = 3 * (sum(tripled) - 48 * len(tripled)) + sum(single) - 48 * len(single)
    return -total % 10


# Documents repeat the same GTINs and GLNs (an item on every order, a ship-to on every ASN), and
# a mapper's check is repeated by the model: valid results are cached (failures are not).
@lru_cache(maxsize=16384)
def _check_gs1(value: str, scheme: str, lengths: tuple[int, ...]) -> str:
    text = value.strip()
    if not (text.isascii() and text.isdigit()):
        raise IdentifierError(f"{scheme} must contain digits only, got {value!r}")
    if len(text) not in lengths:
        allowed = "/".join(str(n) for n in lengths)
        raise IdentifierError(f"{scheme} must have {allowed} digits, got {len(text)} ({value!r})")
    expected = gs1_check_digit(text[:-1])
    if int(text[-1]) != expected:
        raise IdentifierError(f"{scheme} {text} has check digit {text[-1]}, expected {expected}")
    return text


def normalize_gtin(value: str) -> str:
    """Validate a GTIN-8/12/13/14 and return it as 14 digits (leading zeros kept)."""
    return _check_gs1(value, "GTIN", (8, 12, 13, 14)).zfill(14)


def validate_gln(value: str) -> str:
    return _check_gs1(value, "GLN", (13,))


def validate_sscc(value: str) -> str:
    text = value.strip()
    # SSCCs are often written with their AI 00 in front (20 digits, "(00)..." on labels).
    if text.startswith("(00)"):
        text = text[4:]
    return _check_gs1(text, "SSCC", (18,))


def validate_upc(value: str) -> str:
    """A UPC-A (GTIN-12) kept in its 12-digit form."""
    return _check_gs1(value, "UPC", (12,))


# ---------------------------------------------------------------- NDC

_NDC_HYPHENATED = re.compile(r"^(\d{4,5})-(\d{3,4})-(\d{1,2})$")
_NDC_LAYOUTS = {(4, 4, 2): "4-4-2", (5, 3, 2): "5-3-2", (5, 4, 1): "5-4-1", (5, 4, 2): "5-4-2"}


def normalize_ndc(value: str) -> str:
    """Return the 11-digit 5-4-2 NDC without hyphens."""
    text = value.strip()
    if text.isdigit():
        if len(text) == 11:
            return text
        if len(text) == 10:
            raise IdentifierError(
                f"NDC {text!r} has 10 digits without hyphens: the labeler/product/package split is "
                "unknown; send it hyphenated (4-4-2, 5-3-2, 5-4-1) or as 11 digits"
            )
        raise IdentifierError(f"NDC must have 10 (hyphenated) or 11 digits, got {len(text)} ({value!r})")
    match = _NDC_HYPHENATED.match(text)
    if not match:
        raise IdentifierError(f"NDC {value!r} is not in a 4-4-2, 5-3-2, 5-4-1 or 5-4-2 layout")
    labeler, product, package = match.groups()
    layout = (len(labeler), len(product), len(package))
    if layout not in _NDC_LAYOUTS:
        raise IdentifierError(f"NDC {value!r} has segment lengths {'-'.join(map(str, layout))}, not an NDC layout")
    return labeler.zfill(5) + product.zfill(4) + package.zfill(2)


# ---------------------------------------------------------------- HIBC mod 43

HIBC_CHARSET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-. $/+%"
_HIBC_PRIMARY = re.compile(r"^\+([A-Z][A-Z0-9]{3})([A-Z0-9]{1,18})(\d)(.)$")


def hibc_check_character(data: str) -> str:
    """The mod-43 check character over ``data`` (which includes the leading '+')."""
    try:
        total = sum(HIBC_CHARSET.index(ch) for ch in data)
    except ValueError:
        bad = next(ch for ch in data if ch not in HIBC_CHARSET)
        raise IdentifierError(f"HIBC data contains {bad!r}, outside the HIBC character set") from None
    return HIBC_CHARSET[total % 43]


def validate_hibc(value: str) -> str:
    """Validate HIBC primary data; return it upper-case with its leading '+'.

    X12 ``HI`` values are often sent without the '+' flag character; it is part of the
    check-character sum, so it is restored before checking."""
    text = value.strip().upper()
    if text.startswith("*") and text.endswith("*") and len(text) > 2:
        text = text[1:-1]  # Code 39 start/stop characters from a scanner
    if not text.startswith("+"):
        text = "+" + text
    if "/" in text[1:-1]:
        raise IdentifierError(f"HIBC {value!r} holds secondary data ('/'): store primary data only")
    if value.endswith(" ") and not value.endswith("  "):
        # Exactly one trailing space is the check character (value 38), not padding: check it
        # as such, so that a changed character cannot hide behind trimming.
        text = text + " "
    match = _HIBC_PRIMARY.match(text)
    if not match:
        raise IdentifierError(
            f"HIBC {value!r} is not '+' + 4-char labeler code (first a letter) + 1-18 char product + UoM digit + check char"
        )
    expected = hibc_check_character(text[:-1])
    if text[-1] != expected:
        raise IdentifierError(f"HIBC {text} has check character {text[-1]!r}, expected {expected!r}")
    return text


# ---------------------------------------------------------------- GS1 dates (AI 11/13/15/17)

def gs1_century_year(yy: int, today: date | None = None) -> int:
    """Full year for a two-digit GS1 year (GS1 General Specifications, 7.12).

    With D = YY - (current year mod 100): 51..99 → previous century, -99..-50 → next
    century, otherwise the current century."""
    today = today or date.today()
    century, current = divmod(today.year, 100)
    diff = yy - current
    if 51 <= diff <= 99:
        century -= 1
    elif -99 <= diff <= -50:
        century += 1
    return century * 100 + yy


def gs1_date(yymmdd: str, today: date | None = None) -> date:
    """Parse a GS1 YYMMDD date; DD = 00 means the last day of the month (AI 17 expiry)."""
    text = yymmdd.strip()
    if len(text) != 6 or not text.isdigit():
        raise IdentifierError(f"GS1 date must be 6 digits YYMMDD, got {yymmdd!r}")
    yy, mm, dd = int(text[:2]), int(text[2:4]), int(text[4:])
    if not 1 <= mm <= 12:
        raise IdentifierError(f"GS1 date {text}: month {mm:02d} is not 01-12")
    year = gs1_century_year(yy, today)
    if dd == 0:
        dd = calendar.monthrange(year, mm)[1]
    try:
        return date(year, mm, dd)
    except ValueError:
        raise IdentifierError(f"GS1 date {text}: day {dd:02d} does not exist in {year}-{mm:02d}") from None


gs1_expiry = gs1_date


# ---------------------------------------------------------------- ISO 4217

@cache
def currencies() -> dict[str, dict[str, str]]:
    """ISO 4217 alphabetic code → row (numeric, minor_unit, name)."""
    with (DATA_DIR / "iso4217.csv").open(newline="", encoding="utf-8") as handle:
        return {row["code"]: row for row in csv.DictReader(handle)}


def validate_currency(value: str) -> str:
    code = value.strip().upper()
    if code not in currencies():
        raise IdentifierError(f"{value!r} is not an ISO 4217 currency code")
    return code
