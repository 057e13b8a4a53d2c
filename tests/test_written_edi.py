"""What the writers produce, judged by an independent grammar (the Bots translator's, see
tests/edi_grammars.py): every canonical example in X12 004010 / 005010 and EDIFACT D96A /
D01B, every corpus document re-sent (translate → write → grammar → translate → the same
documents), and the hub's 997 / 999 for every corpus interchange. The hub's own tables are
compared with the Bots grammars element by element, so a wrong length or requirement in them
cannot pass unnoticed. ``python -m tests.edi_grammars`` prints the counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edi.common.outbound import WriteError
from tests.conftest import corpus_files
from tests.edi_grammars import (
    EXAMPLE_TYPES,
    VERSIONS,
    acknowledgements,
    bots_can_check_x12,
    bots_errors,
    bots_records,
    corpus_documents,
    translate,
    write,
)
from tests.edifact.test_writer import NOT_RESENDABLE

EXAMPLES = Path(__file__).resolve().parents[1] / "hub" / "canonical" / "examples"
EXAMPLE_CASES = [(standard, version, name) for standard, names in EXAMPLE_TYPES.items() for name in names
                 for version in VERSIONS[standard]]


@pytest.mark.parametrize(("standard", "version", "name"), EXAMPLE_CASES, ids=["-".join(c) for c in EXAMPLE_CASES])
def test_every_canonical_example_is_accepted_by_the_bots_grammar(standard: str, version: str, name: str) -> None:
    document = json.loads((EXAMPLES / f"{name}.json").read_text())
    written = write(standard, version, [document])
    assert bots_errors(written.data, standard) == []
    back, errors = translate(standard, written.data)
    assert errors == [] and len(back) == 1 and back[0]["document_type"] == document["document_type"]


def _corpus_cases(standard: str) -> list[tuple[str, str, list[dict], dict]]:
    return [(name, version, docs, envelope) for name, docs, envelope in corpus_documents(standard, corpus_files(standard))
            if name not in NOT_RESENDABLE for version in VERSIONS[standard]]


CORPUS_CASES = [(standard, *case) for standard in VERSIONS for case in _corpus_cases(standard)]
CORPUS_IDS = [f"{c[1]}-{c[4].get('interchange_control_number')}-{c[2]}" for c in CORPUS_CASES]


@pytest.mark.corpus
@pytest.mark.parametrize(("standard", "name", "version", "documents", "envelope"), CORPUS_CASES, ids=CORPUS_IDS)
def test_every_corpus_document_round_trips_through_the_bots_grammar(standard: str, name: str, version: str,
                                                                    documents: list[dict], envelope: dict) -> None:
    written = write(standard, version, documents, envelope)
    assert bots_errors(written.data, standard) == []
    back, errors = translate(standard, written.data)
    assert errors == []
    assert back == documents


def test_the_corpus_cases_are_there_or_the_corpus_is_absent() -> None:
    if not corpus_files("x12"):
        pytest.skip("../shared/corpus is absent: corpus round trips not run")
    written = {(c[0], d["document_type"]) for c in CORPUS_CASES for d in c[3]}
    assert written >= {("x12", t) for t in EXAMPLE_TYPES["x12"]} | {
        ("edifact", t) for t in ("purchase_order", "purchase_order_ack", "ship_notice", "invoice")}


ACK_CASES = [(kind, name, reply) for kind in ("997", "999")
             for name, reply in acknowledgements(corpus_files("x12") + corpus_files("malformed"), kind)
             if bots_can_check_x12(reply)]


@pytest.mark.corpus
@pytest.mark.parametrize(("kind", "name", "reply"), ACK_CASES, ids=[f"{c[0]}-{c[1]}" for c in ACK_CASES])
def test_every_functional_ack_the_grammar_can_read_is_accepted(kind: str, name: str, reply: bytes) -> None:
    """Replies in versions the package has no 997 for (003010, 003030) or with line-break
    terminators (its sniffer skips them) are pyx12's to judge (tests/x12/test_acks.py)."""
    assert bots_errors(reply, "x12") == []


# -- the hub's tables against the Bots grammars --------------------------------------------------

def _bots_fields(fields: list) -> list[tuple]:
    """Bots' (id, mandatory, min, max, type) per element, composites as their sub-list."""
    out = []
    for f in fields[1:]:  # BOTSID first
        if isinstance(f[2], list):
            out.append((f[0], f[1], [_bots_leaf(sub) for sub in f[2]]))
        else:
            out.append(_bots_leaf(f))
    return out


def _bots_leaf(f: list) -> tuple:
    low, high = f[2] if isinstance(f[2], tuple) else (0, f[2])
    return f[0], f[1], low, high, f[3]


NUMERIC = {"N0": "N", "N2": "N2", "R": "R", "n": "N"}


def _compare(ours: tuple, theirs: tuple, where: str, problems: list[str]) -> None:
    _, bots_req, low, high, kind = theirs
    req, our_kind, our_low, our_high, _ = ours
    if (req == "M") != (bots_req == "M"):
        problems.append(f"{where}: ours {req}, bots {bots_req}")
    if our_high != high or (low and our_low != low):
        problems.append(f"{where}: ours {our_low}..{our_high}, bots {low}..{high}")
    numeric_ours, numeric_bots = our_kind in NUMERIC, kind.rstrip("0123456789") in ("N", "R")
    if numeric_ours != numeric_bots:
        problems.append(f"{where}: ours {our_kind}, bots {kind}")


def _table_problems(segments: dict[str, tuple], recorddefs: dict, skip: set[str]) -> list[str]:
    problems: list[str] = []
    for tag, elements in segments.items():
        if tag in skip:
            continue
        theirs = _bots_fields(recorddefs[tag])
        for n, spec in enumerate(elements):
            where = f"{tag}{n + 1:02d}"
            if n >= len(theirs):
                problems.append(f"{where}: bots has {len(theirs)} elements")
                continue
            if spec[1] == "C":
                if not isinstance(theirs[n][2], list):
                    problems.append(f"{where}: ours composite, bots simple")
                    continue
                if (spec[0] == "M") != (theirs[n][1] == "M"):
                    problems.append(f"{where}: ours {spec[0]}, bots {theirs[n][1]}")
                for c, sub in enumerate(spec[2]):
                    if c < len(theirs[n][2]):
                        _compare(sub, theirs[n][2][c], f"{where}-{c + 1}", problems)
            elif isinstance(theirs[n][2], list):
                problems.append(f"{where}: ours simple, bots composite")
            else:
                _compare(spec, theirs[n], where, problems)
    return problems


@pytest.mark.parametrize("version", ["004010", "005010"])
def test_x12_element_tables_agree_with_the_bots_grammar(version: str) -> None:
    from edi.x12.grammar import GRAMMARS

    problems = _table_problems(GRAMMARS[version].segments, bots_records("x12", version),
                               skip={"GS", "GE", "IEA", "TA1"})  # the envelope: checked by parsing
    assert problems == []


@pytest.mark.parametrize("directory", ["D96A", "D01B"])
def test_edifact_element_tables_agree_with_the_bots_grammar(directory: str) -> None:
    from edi.edifact.grammar import SEGMENTS

    service = {"UNB", "UNZ", "UNH", "UNT", "UCI", "UCF", "UCM", "UCS", "UCD"}  # not in its directories
    assert _table_problems(SEGMENTS[directory], bots_records("edifact", directory), skip=service) == []


def test_corpus_files_edifact_cannot_hold_stay_refused() -> None:
    """The two corpus documents left out above are refused with their place, not sent."""
    for name in NOT_RESENDABLE:
        path = next((p for p in corpus_files("edifact") if p.name == name), None)
        if path is None:
            pytest.skip("../shared/corpus is absent")
        ((_, docs, envelope),) = corpus_documents("edifact", [path])
        with pytest.raises(WriteError, match=NOT_RESENDABLE[name]):
            write("edifact", "D96A", docs, envelope)
