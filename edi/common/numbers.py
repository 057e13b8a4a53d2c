"""Bounded numbers for both EDI engines: what the hub reads from a partner's numeric elements
can never cost more than the element is worth.

Hostile input used to turn a 12-byte ``1E-999999999`` into a billion-digit JSON string and a
5,000-digit control count into Python's int-conversion ``ValueError``. The bounds:

- **Decimals** (X12 R/N elements, EDIFACT numeric data elements the mappings read): at most
  ``MAX_DIGITS`` = 18 digits as written (sign and decimal mark not counted) — X12's longest
  numeric element (782 monetary amount, R 1/18) — and, written out plainly, at most 18 digits
  before and 18 after the decimal point (``MAX_SCALE``). That caps an exponent (X12 R elements
  may use one) at ±18 and keeps every value within Decimal's default 28-digit precision when a
  step quantizes it to cents or to ten places.
- **Counts and control numbers** (IEA01, GE01, SE01, GS06/GE02, UNZ/UNE/UNT counts, CNT, ack
  positions): digits only, at most ``MAX_COUNT_DIGITS`` = 18 significant digits (leading zeros
  are free). No envelope count of the standards has more than 10 digits, so a longer one can
  only be wrong: it reads as "no count" and the check reports a mismatch instead of calling
  ``int()`` on thousands of digits.

Texts quoted in diagnostics are shortened by ``shown`` so a hostile value does not make every
error message as long as itself.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from edi.common.text import digits

MAX_DIGITS = 18
MAX_SCALE = 18
MAX_COUNT_DIGITS = 18
# Longer texts are not numbers the hub reads, whatever they hold (checked before any parsing).
_MAX_TEXT = MAX_DIGITS + 16
_PLAIN = re.compile(r"[+-]?(\d*)(?:\.(\d*))?")
_EXPONENT = re.compile(r"[+-]?(\d*)(?:\.(\d*))?[eE][+-]?\d+")


class NumberError(ValueError):
    """A numeric text the hub does not read. ``too_long`` tells a value past the bounds (a
    well-formed number that is too big or too precise) from one that is not a number."""

    def __init__(self, reason: str, *, too_long: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.too_long = too_long


def shown(value: str, limit: int = 40) -> str:
    """``repr`` of ``value``, shortened past ``limit`` characters with its full length."""
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}… ({len(value):,} characters)"


def brief(value: str, limit: int = 20) -> str:
    """``value`` as it is when short, else as ``shown`` abbreviates it."""
    return value if len(value) <= limit else shown(value)


def count_value(text: str) -> int | None:
    """A count or control number as an int; None unless it is ASCII digits with at most
    ``MAX_COUNT_DIGITS`` significant digits."""
    if not digits(text):
        return None
    significant = text.lstrip("0")
    if len(significant) > MAX_COUNT_DIGITS:
        return None
    return int(significant or "0")


def same_count(text: str, expected: int) -> bool:
    """Does the count ``text`` state ``expected`` (leading zeros allowed)?"""
    return count_value(text) == expected


def same_control_number(a: str, b: str) -> bool:
    """Equal as written, or as numbers (``0001`` = ``1``) within the count bound."""
    if a == b:
        return True
    left, right = count_value(a), count_value(b)
    return left is not None and left == right


# Values read before, by exponent flag: quantities, prices and weights repeat through a file,
# and a hit skips two regexes and the Decimal parse. Only accepted texts are kept (a refusal
# is raised again each time); the caches are emptied when full, so hostile input of many
# distinct numbers holds at most _CACHE_SIZE of them. Decimals are immutable: sharing is safe.
_CACHE_SIZE = 4096
_ACCEPTED: dict[bool, dict[str, Decimal]] = {False: {}, True: {}}


def accepted_decimals(*, exponent: bool = False) -> dict[str, Decimal]:
    """The texts ``bounded_decimal`` accepted (with that ``exponent`` flag) and their values:
    a hot caller may look a text up here first and call ``bounded_decimal`` on a miss. Read
    only; the dict is the cache itself, so it stays bounded and is emptied in place."""
    return _ACCEPTED[exponent]


def bounded_decimal(text: str, *, exponent: bool = False) -> Decimal:
    """``text`` as a finite Decimal within the bounds above; ``NumberError`` otherwise.
    ``exponent``: the standard allows ``E`` notation (X12 R elements), else it is refused."""
    accepted = _ACCEPTED[exponent]
    number = accepted.get(text)
    if number is None:
        number = _parse_decimal(text, exponent)
        if len(accepted) >= _CACHE_SIZE:
            accepted.clear()
        accepted[text] = number
    return number


def _parse_decimal(text: str, exponent: bool) -> Decimal:
    if len(text) > _MAX_TEXT:
        raise NumberError(f"{shown(text)} has more than {MAX_DIGITS} digits", too_long=True)
    match = (_EXPONENT if exponent and ("e" in text or "E" in text) else _PLAIN).fullmatch(text)
    if match is None or not (match.group(1) or match.group(2)):
        raise NumberError(f"{shown(text)} is not a number", too_long=False)
    written = len(match.group(1)) + len(match.group(2) or "")
    if written > MAX_DIGITS:
        raise NumberError(f"{shown(text)} has {written} digits; at most {MAX_DIGITS} are read", too_long=True)
    try:
        number = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the patterns admit only parseable text
        raise NumberError(f"{shown(text)} is not a number", too_long=False) from None
    # Zero too: 0E-999999999 written out is a billion zeros.
    if number.as_tuple().exponent < -MAX_SCALE or number.adjusted() >= MAX_DIGITS:
        raise NumberError(f"{shown(text)} written out has more than {MAX_DIGITS} digits before or "
                          f"{MAX_SCALE} after the decimal point", too_long=True)
    return number
