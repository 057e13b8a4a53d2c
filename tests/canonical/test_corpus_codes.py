"""Every code the real X12 corpus uses in the coded elements we normalise is either in our code
tables or deliberately kept raw (with the reason). Runs when ../shared/corpus exists."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.canonical.codes import (
    DESCRIPTIVE_QUALIFIERS_X12,
    LOT_QUALIFIERS_X12,
    ack_line_status_from_x12,
    ack_type_from_x12,
    invoice_type_from_x12,
    item_scheme_from_x12,
    party_scheme_from_x12,
    po_purpose_from_x12,
    po_type_from_x12,
)
from hub.canonical.uom import uom_from_x12
from tests.conftest import corpus_files

X12_FILES = [p for p in corpus_files("x12") if b"ISA" in p.read_bytes()[:200]]

# Codes real files use that the canonical tables deliberately do not map, and why.
KEPT_RAW = {
    "N103": {"ZZ": "mutually defined: meaning is partner-specific", "99": "purchasing office / other: partner-specific"},
    "235": {**{k: v for k, v in DESCRIPTIVE_QUALIFIERS_X12.items()}, **{k: "lot/serial" for k in LOT_QUALIFIERS_X12}},
}


def segments(path: Path) -> list[list[str]]:
    """Split an X12 file with the delimiters its ISA declares (element at 3, terminator at 105)."""
    text = path.read_bytes().decode("latin-1")
    start = text.find("ISA")
    element, terminator = text[start + 3], text[start + 105]
    return [[f.strip() for f in seg.strip().split(element)] for seg in text[start:].split(terminator) if seg.strip()]


def coded_values(path: Path) -> list[tuple[str, str, int]]:
    """(element, code, segment position) for each coded element this module maps."""
    found = []
    for position, fields in enumerate(segments(path), start=1):
        tag, get = fields[0], (lambda n, f=fields: f[n] if len(f) > n else "")
        single = {"ACK": [("ACK01", 1)], "BAK": [("BAK02", 2)], "BEG": [("BEG01", 1), ("BEG02", 2)], "BIG": [("BIG07", 7)], "N1": [("N103", 3)]}
        for element, index in single.get(tag, []):
            found.append((element, get(index), position))
        if tag in {"PO1", "IT1", "SN1"}:
            found.append(("355", get(3), position))
        first_pair = {"PO1": 6, "IT1": 6, "LIN": 2}.get(tag)
        if first_pair:
            found.extend(("235", fields[k], position) for k in range(first_pair, len(fields) - 1, 2) if fields[k])
    return found


TABLES = {
    "ACK01": ack_line_status_from_x12,
    "BAK02": ack_type_from_x12,
    "BEG01": po_purpose_from_x12,
    "BEG02": po_type_from_x12,
    "BIG07": invoice_type_from_x12,
    "N103": party_scheme_from_x12,
    "235": item_scheme_from_x12,
    "355": uom_from_x12,
}


@pytest.mark.corpus
@pytest.mark.parametrize("path", X12_FILES, ids=lambda p: p.name)
def test_corpus_codes_are_mapped_or_deliberately_raw(path: Path) -> None:
    unmapped = []
    for element, code, position in coded_values(path):
        if element == "N103" and code == "":
            continue  # N1 without an ID: name-only party
        if code in KEPT_RAW.get(element, {}):
            continue
        if TABLES[element].get(code) is None:
            unmapped.append(f"segment {position}: {element} = {code!r}")
    assert not unmapped, f"{path.name}: codes missing from the tables: {unmapped}"


@pytest.mark.corpus
def test_corpus_present_or_skipped() -> None:
    if not X12_FILES:
        pytest.skip("../shared/corpus/x12 is absent: corpus code checks not run")
    assert len(X12_FILES) > 20
