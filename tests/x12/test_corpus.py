"""Every X12 file of the shared corpus through ``hub edi translate`` and ``hub edi ack``:
valid files translate (or are reported unsupported / with their genuine defects), malformed
files get located errors or recovery warnings — never a traceback."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edi.common.diagnostics import EdiError
from edi.cli import app
from edi.detect import sniff
from tests.conftest import corpus_files

runner = CliRunner()
LOCATED = re.compile(r": segment \d+ \([A-Z0-9]{2,3}\)")

# Valid-corpus files that do not translate whole, with the reason each must report. These are
# genuine content defects the corpus manifest's envelope-only check could not see.
X12_EXPECTED_ERRORS = {
    "852_oopfactory_1.edi": ["unsupported transaction set 852"],
    "mixed_bots_mailbag_1.x12": ["unsupported transaction set 820",
                                 "segment 155 (ST), element 2: ST02 control number 000000001 is used twice",
                                 "segment 176 (GS), element 6: GS06 group control number 5 is used twice"],
}

# Valid-corpus files carrying identifiers that fail their check digit: they translate, each bad
# value kept as sent with its reason and a located warning (domain.md C #12, held for review).
X12_INVALID_IDENTIFIERS = {
    "850_bots_lfterm_1.x12": [("segment 7 (PO1), element 7", "234567890123", "GTIN 234567890123 has check digit 3, "
                                                                             "expected 9"),
                              ("segment 9 (PO1), element 7", "456789012345", "GTIN 456789012345 has check digit 5, "
                                                                             "expected 3")],
    "856_edieng_lfterm_6.edi": [("segment 26 (MAN), element 2", "00000715670002152360",
                                 "SSCC 000715670002152360 has check digit 0, expected 3"),
                                ("segment 33 (LIN), element 3", "0000000000831",
                                 "GTIN 0000000000831 has check digit 1, expected 3")],
}

# Malformed X12 files: what each must report (errors make exit 1; recoveries are warnings).
MALFORMED_X12 = {
    "210_staedi_wrapped80_1.edi": (1, ["warning: segment 1 (ISA): the file is hard-wrapped",
                                       "unsupported transaction set 210"]),
    "214_staedi_unicodeterm_1.edi": (1, ["(U+2026) is not an ASCII character", "unsupported transaction set 214"]),
    "810_edifabric_missingiea_1.txt": (1, ["segment 47 (SE), element 1: count 44 but 45 segments",
                                           "has no IEA: the end of the file follows"]),
    "810_edinet_bom_tabs_1.edi": (0, ["warning: segment 1 (ISA): ISA is not fixed-width"]),
    "850_bots_ebcdic_1.x12": (1, ["segment 1 (ISA): file is EBCDIC-encoded"]),
    "850_edinet_badcounts_1.edi": (1, ["segment 7 (SE), element 1: count 50 but 5 segments",
                                       "segment 9 (IEA), element 2: control number '000000001' does not match"]),
    "850_edinet_isa16_missingterm_1.edi": (1, ["ISA16 (component separator) is missing",
                                               "segment 23 (DTM): segment terminator missing before a line break",
                                               "ST02 control number 0001 is used twice"]),
    "850_edinet_nbsp_isa_1.edi": (1, ["ISA02 holds non-ASCII characters",
                                      "segment 15 (IEA), element 2: control number '000000001' does not match"]),
    "856_edifabric_gecount_1.txt": (1, ["segment 12 (DTM), element 2: '200' is not a CCYYMMDD date",
                                        "segment 47 (GE), element 1: count 2 but 1 transaction sets"]),
    "860_oopfactory_missingterm_1.edi": (1, ["segment 6 (N1): segment terminator missing before a line break",
                                             "unsupported transaction set 860"]),
    "997_staedi_empty_1.edi": (1, ["mandatory segment AK1 missing from transaction set 997"]),
    "997_staedi_invalid_1.edi": (1, ["segment 2 (GS), element 4: GS04 'BAD_DATE' is not a CCYYMMDD date",
                                     "segment 7 (GE), element 2: control number '<TOO_LONG_AND_NOT_NUMERIC>'"]),
}

X12_FILES = corpus_files("x12")
MALFORMED = [p for p in corpus_files("malformed") if p.name in MALFORMED_X12]


def _translate(path: Path):
    result = runner.invoke(app, ["translate", str(path)])
    assert "Traceback" not in result.output and "internal error" not in result.output, result.output
    return result


@pytest.mark.corpus
@pytest.mark.parametrize("path", X12_FILES, ids=lambda p: p.name)
def test_every_valid_x12_file_translates(path: Path) -> None:
    result = _translate(path)
    documents = result.stdout.count('"document_type"')
    expected = X12_EXPECTED_ERRORS.get(path.name)
    if expected is None:
        assert result.exit_code == 0, result.output
        assert documents >= 1
        assert all("warning:" in line for line in result.stderr.splitlines()), result.stderr
    else:
        assert result.exit_code == 1
        for text in expected:
            assert text in result.stderr, (text, result.stderr)
        assert all(LOCATED.search(line) for line in result.stderr.splitlines() if "warning" not in line)


@pytest.mark.corpus
@pytest.mark.parametrize("path", [p for p in X12_FILES if p.name in X12_INVALID_IDENTIFIERS], ids=lambda p: p.name)
def test_identifiers_failing_their_check_are_kept_as_sent_and_flagged(path: Path) -> None:
    result = _translate(path)
    assert result.exit_code == 0, result.output
    documents = json.loads(result.stdout)
    flagged = {(found.get("value") or found.get("sscc"), found.get("invalid_reason") or found.get("sscc_invalid_reason"))
               for found in _walk(documents) if "invalid_reason" in found or "sscc_invalid_reason" in found}
    for where, value, reason in X12_INVALID_IDENTIFIERS[path.name]:
        assert (value, reason) in flagged
        assert f"warning: {where}: " in result.stderr and f"{value!r} kept as sent, flagged invalid: {reason}" in \
            result.stderr


def _walk(data):
    if isinstance(data, dict):
        yield data
        data = list(data.values())
    if isinstance(data, list):
        for value in data:
            yield from _walk(value)


@pytest.mark.corpus
@pytest.mark.parametrize("path", MALFORMED, ids=lambda p: p.name)
def test_every_malformed_x12_file_gets_located_errors_or_recovery_warnings(path: Path) -> None:
    result = _translate(path)
    exit_code, expected = MALFORMED_X12[path.name]
    assert result.exit_code == exit_code, result.output
    for text in expected:
        assert text in result.stderr, (text, result.stderr)
    problems = [line for line in result.stderr.splitlines() if line.strip()]
    assert problems and all(LOCATED.search(line) for line in problems), problems


@pytest.mark.corpus
@pytest.mark.parametrize("path", X12_FILES + MALFORMED, ids=lambda p: p.name)
def test_ack_never_crashes(path: Path) -> None:
    result = runner.invoke(app, ["ack", str(path)])
    assert "Traceback" not in result.output and "internal error" not in result.output, result.output
    assert result.exit_code in (0, 1)


@pytest.mark.corpus
def test_every_x12_file_in_malformed_is_covered() -> None:
    """No X12 file of corpus/malformed escapes the table above."""
    if not corpus_files("malformed"):
        pytest.skip("../shared/corpus is absent: nothing to compare the table with")
    x12_like = set()
    for path in corpus_files("malformed"):
        head = path.read_bytes()[:64]
        try:
            if sniff(head) == "x12":
                x12_like.add(path.name)
        except EdiError:  # EBCDIC / UTF-16: refused by sniffing, still an X12 file by its name
            x12_like.add(path.name)
    assert x12_like == set(MALFORMED_X12)


def test_corpus_present_or_skipped() -> None:
    if not X12_FILES:
        pytest.skip("../shared/corpus is absent: the corpus tests above did not run")
