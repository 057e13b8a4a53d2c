"""Write-time validation: one engine for the rule tables of both standards
(``edi.x12.grammar``, ``edi.edifact.grammar``). Nothing here knows a segment: a message is
checked against its structure table (segment order, loops, mandatory segments, repeats) and
each segment against its element table (mandatory elements and components, too many of them,
types, minimum and maximum lengths, code lists, X12 syntax notes). The first defect raises a
``WriteError`` that names the message, the segment (position and tag), the element and
component, the canonical field when the table knows it, and the reason.

Table shapes (plain tuples, so the tables stay data):

- element: ``(req, type, min, max, code_list)`` with ``req`` "M" mandatory, "C"/"O"
  conditional/optional, ``type`` one of AN ID DT TM R N0 N2 (X12) or a n an (EDIFACT),
  ``code_list`` the name of a list in the table's ``codes`` or None;
- composite: ``(req, "C", (element, ...))``;
- segment table: ``{tag: (element or composite, ...)}``;
- structure: a tuple of entries ``(tag, min, max)`` for a segment or ``(tag, min, max,
  (entries ...))`` for a loop whose first segment is ``tag``;
- syntax notes (X12): ``{tag: (("P", 3, 4), ("R", 2, 3), ("C", 5, 4) ...)}``, P paired (all
  or none), R at least one, C if the first then all the others, E at most one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from edi.common.outbound import WriteError

Element = tuple
Structure = tuple


@dataclass(frozen=True)
class Grammar:
    """The rules of one standard and version: segment element tables, code lists, syntax
    notes, and the hints that name the canonical field behind an element."""

    name: str  # "X12 004010", "EDIFACT D96A"
    segments: Mapping[str, tuple]
    codes: Mapping[str, frozenset[str]]
    syntax: Mapping[str, tuple] = None  # type: ignore[assignment]
    decimal: str = "."  # EDIFACT decimal mark of the interchange
    fields: Mapping[tuple[str, str, int], str] = None  # type: ignore[assignment]


@dataclass
class Place:
    """Where a value sits, for the error message."""

    message: str  # "850 0001 (document 1, purchase_order 4500012345)"
    position: int  # segment position in the message (ST / UNH = 1)
    tag: str
    element: int | None = None
    component: int | None = None
    field: str | None = None
    # Where ``field`` is looked up when the message is made ((set or message, tag, element) →
    # canonical field): only a failing value needs it, not every value checked.
    fields: Mapping[tuple[str, str, int], str] | None = None
    set_id: str = ""

    def __str__(self) -> str:
        text = f"{self.message}: segment {self.position} ({self.tag})"
        if self.element is not None:
            text += f", element {self.element}"
        if self.component is not None:
            text += f", component {self.component}"
        field = self.field
        if field is None and self.fields is not None and self.element is not None:
            field = self.fields.get((self.set_id, self.tag, self.element))
        if field:
            text += f" [{field}]"
        return text


def fail(place: Place, reason: str) -> WriteError:
    return WriteError(f"{place}: {reason}")


# -- structure -------------------------------------------------------------------------------


def check_structure(tags: Sequence[str], structure: Structure, message: str) -> None:
    """Segment order, loops, mandatory segments and repeats of one message (its tags, header
    and trailer included)."""
    _match(tags, 0, structure, message, top=True)


def _match(tags: Sequence[str], pos: int, entries: Structure, message: str, *, top: bool = False) -> int:
    """Consume the segments of one loop body from ``pos``; return where it stopped."""
    index, counts = 0, [0] * len(entries)
    while pos < len(tags):
        found = next((j for j in range(index, len(entries)) if entries[j][0] == tags[pos]
                      and counts[j] < entries[j][2]), None)
        if found is None:
            break
        _skipped_mandatory(entries, counts, index, found, tags, pos, message)
        index = found
        counts[found] += 1
        pos += 1
        if len(entries[found]) > 3:
            pos = _match(tags, pos, entries[found][3], message)
    if top and pos < len(tags):
        _misplaced(tags, pos, entries, message)  # a segment nothing takes: say so, not what is missing
    _skipped_mandatory(entries, counts, index, len(entries), tags, pos, message, top=top)
    return pos


def _skipped_mandatory(entries: Structure, counts: list[int], start: int, stop: int, tags: Sequence[str], pos: int,
                       message: str, *, top: bool = False) -> None:
    for j in range(start, stop):
        tag, minimum = entries[j][0], entries[j][1]
        if counts[j] < minimum:
            before = f"before segment {pos + 1} ({tags[pos]})" if pos < len(tags) else "at the end"
            raise WriteError(f"{message}: mandatory segment {tag} is missing {before}"
                             f"{' of its loop' if not top and pos >= len(tags) else ''}")


def _misplaced(tags: Sequence[str], pos: int, structure: Structure, message: str) -> None:
    tag = tags[pos]
    limit = _max_of(structure, tag)
    if limit is None:
        reason = f"{tag} has no place in this message"
    else:
        reason = f"{tag} is not allowed here (after {tags[pos - 1]}): out of order, or more than {limit} in its loop"
    raise WriteError(f"{message}: segment {pos + 1} ({tag}): {reason}")


def _max_of(structure: Structure, tag: str) -> int | None:
    for entry in structure:
        if entry[0] == tag:
            return entry[2]
        if len(entry) > 3 and (found := _max_of(entry[3], tag)) is not None:
            return found
    return None


# -- segments ----------------------------------------------------------------------------------


def check_segment(values: Sequence[Any], place: Place, grammar: Grammar, set_id: str = "") -> None:
    """``values``: the segment's elements after the tag, each a string or a list of
    components (a composite)."""
    definition = grammar.segments.get(place.tag)
    if definition is None:
        raise fail(place, f"no element table for {place.tag} in {grammar.name}")
    if len(values) > len(definition):
        place.element = len(definition) + 1
        raise fail(place, f"{place.tag} has {len(definition)} elements in {grammar.name}, {len(values)} written")
    place.fields, place.set_id = grammar.fields, set_id
    count = len(values)
    for n, spec in enumerate(definition, start=1):
        value = values[n - 1] if n <= count else ""
        place.element, place.component = n, None
        if spec[1] == "C":
            _composite(value, spec, place, grammar)
        else:
            if isinstance(value, list):
                if len([v for v in value if v]) > 1:
                    raise fail(place, "a composite where the standard has a simple element")
                value = value[0] if value else ""
            _simple(value, spec, place, grammar)
    place.element = place.component = place.field = None
    if grammar.syntax:
        for rule in grammar.syntax.get(place.tag, ()):
            _syntax_rule(values, rule, place)


def _composite(value: Any, spec: tuple, place: Place, grammar: Grammar) -> None:
    parts = value if isinstance(value, list) else [value]
    if not any(parts):
        if spec[0] == "M":
            raise fail(place, "mandatory composite is empty")
        return
    if len(parts) > len(spec[2]):
        place.component = len(spec[2]) + 1
        raise fail(place, f"{len(parts)} components where the standard has {len(spec[2])}")
    for c, sub in enumerate(spec[2], start=1):
        place.component = c
        _simple(parts[c - 1] if c <= len(parts) else "", sub, place, grammar)


# Types whose every value passes the type check (the writers check characters and delimiters)
# and whose length is the number of characters: the common case, checked without the calls.
_TEXT_KINDS = frozenset({"AN", "ID", "an"})


def _simple(value: str, spec: tuple, place: Place, grammar: Grammar) -> None:
    req, kind, low, high, codes = spec
    if value == "":
        if req == "M":
            raise fail(place, "mandatory value is empty")
        return
    if kind in _TEXT_KINDS:
        length = len(value)
    else:
        length = _length(value, kind, grammar.decimal)
        if not _type_ok(value, kind, grammar.decimal):
            raise fail(place, f"{value!r} is not of type {kind}")
    if length < low or length > high:
        size = f"{low}" if low == high else f"{low} to {high}"
        raise fail(place, f"{value!r} has {length} characters; {size} allowed")
    if codes is not None and value not in grammar.codes[codes]:
        raise fail(place, f"{value!r} is not a code of list {codes}")


_NUMERIC = re.compile(r"-?[0-9]+")
_REAL = re.compile(r"-?(?:[0-9]+(?:[.][0-9]*)?|[.][0-9]+)")


def _length(value: str, kind: str, decimal: str) -> int:
    """Numbers do not count their sign and decimal mark (X12 R/Nn, EDIFACT n)."""
    if kind in ("R", "N0", "N2", "n"):
        return sum(map(str.isdigit, value))
    return len(value)


def _type_ok(value: str, kind: str, decimal: str) -> bool:
    if kind in ("N0", "N2"):
        return bool(_NUMERIC.fullmatch(value))
    if kind in ("R", "n"):
        text = value.replace(decimal, ".") if decimal != "." else value
        if not _REAL.fullmatch(text):
            return False
        try:
            Decimal(text)
        except InvalidOperation:
            return False
        return True
    if kind == "DT":
        return _valid_date(value)
    if kind == "TM":
        return bool(re.fullmatch(r"([01][0-9]|2[0-3])[0-5][0-9]([0-5][0-9]([0-9]{1,2})?)?", value))
    if kind == "a":
        return not any(c.isdigit() for c in value)
    return True  # AN, ID, an: the writers check the character set and delimiters


def _valid_date(value: str) -> bool:
    if not value.isdigit() or len(value) not in (6, 8):
        return False
    year = int(value[:4]) if len(value) == 8 else 2000 + int(value[:2])
    try:
        date(year, int(value[-4:-2]), int(value[-2:]))
    except ValueError:
        return False
    return True


def _syntax_rule(values: Sequence[Any], rule: tuple, place: Place) -> None:
    kind, *positions = rule
    count = len(values)
    present = [p <= count and bool(values[p - 1]) and values[p - 1] != [""] for p in positions]
    if kind == "P":
        broken = any(present) and not all(present)
    elif kind == "R":
        broken = not any(present)
    elif kind == "C":
        broken = present[0] and not all(present[1:])
    else:  # E
        broken = sum(present) > 1
    if broken:
        names = ", ".join(f"{place.tag}{p:02d}" for p in positions)
        meaning = {"P": "are paired: all or none", "R": "need at least one present",
                   "C": f"if {place.tag}{positions[0]:02d} is present the others are required",
                   "E": "exclude each other"}[kind]
        raise fail(place, f"syntax note {kind}: {names} {meaning}")


# -- echoes ------------------------------------------------------------------------------------


def fit_echo(tag: str, values: Sequence[Any], grammar: Grammar) -> list[Any]:
    """Values an acknowledgement repeats from what a partner sent, made writable: surplus
    elements and components dropped, over-long values cut to their maximum, optional values of
    the wrong type left out, a mandatory one that is missing or unusable replaced by a
    placeholder (zeros, UNKNOWN, today's date, 0000). An ack about broken input must itself be
    valid; the reason it gives says what was wrong with the original."""
    definition = grammar.segments[tag]
    out: list[Any] = []
    for n, spec in enumerate(definition):
        value = values[n] if n < len(values) else ""
        if spec[1] == "C":
            parts = value if isinstance(value, list) else [value]
            fitted = [_fit_value(parts[c] if c < len(parts) else "", sub, grammar) if any(parts) or spec[0] == "M"
                      else "" for c, sub in enumerate(spec[2])]
            out.append(fitted)
        else:
            out.append(_fit_value(value[0] if isinstance(value, list) and value else value, spec, grammar))
    return out


def _fit_value(value: Any, spec: tuple, grammar: Grammar) -> str:
    req, kind, low, high, codes = spec
    # A control character never travels: '?' marks where the partner's value had one.
    text = "".join(c if c.isprintable() else "?" for c in str(value or ""))
    if len(text) > high and kind not in ("R", "N0", "N2", "n"):
        text = text[:high]
    ok = text and _type_ok(text, kind, grammar.decimal) and low <= _length(text, kind, grammar.decimal) <= high \
        and (codes is None or text in grammar.codes[codes])
    if ok or (not text and req != "M"):
        return text
    if req != "M":
        return ""
    if codes is not None:  # a coded element needs a code of its list, whatever the placeholder
        return min(grammar.codes[codes], key=lambda c: (len(c), c))
    if kind == "DT":
        return date.today().strftime("%Y%m%d" if low == 8 else "%y%m%d")
    if kind == "TM":
        return "0000"
    return "0".zfill(low) if kind in ("R", "N0", "N2", "n") else "UNKNOWN"[:high].ljust(low, "X")
