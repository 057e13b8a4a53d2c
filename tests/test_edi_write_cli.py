"""``hub edi write``: canonical documents (or what ``hub edi translate`` prints) to one checked
interchange on stdout; warnings on stderr; located errors and exit codes; a partner's
identities, version and control numbers, shown but not taken unless asked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edi.cli import app
from edi.common.control_numbers import INTERCHANGE, ControlNumbers, CounterKey
from hub.db import Base, Database
from hub.partners import PartnerRegistry, read_partners_file
from tests.conftest import ROOT, corpus_files
from tests.edi_grammars import bots_errors

EXAMPLES = ROOT / "hub" / "canonical" / "examples"


def run(*args: str):
    return CliRunner().invoke(app, ["write", *args])


def test_an_example_becomes_an_interchange_the_grammar_accepts() -> None:
    result = run(str(EXAMPLES / "ship_notice.json"))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("ISA*") and "ST*856*0001" in result.stdout
    assert bots_errors(result.stdout.encode(), "x12") == []
    assert "warning: document 1 (ship_notice ASN778812): lines.0.lots:" in result.stderr


@pytest.mark.parametrize(("flags", "expected"), [
    (["--version", "005010"], "GS*SH*SENDER*RECEIVER*"),
    (["--standard", "edifact", "--version", "D01B"], "UNH+1+DESADV:D:01B:UN:EAN007"),
])
def test_flags_choose_standard_and_version(flags: list[str], expected: str) -> None:
    result = run(str(EXAMPLES / "ship_notice.json"), *flags)
    assert result.exit_code == 0, result.stderr
    assert expected in result.stdout


def test_what_translate_prints_is_written_back_in_its_own_envelope(tmp_path: Path) -> None:
    source = next((p for p in corpus_files("x12") if p.name == "856_oopfactory_4.edi"), None)
    if source is None:
        pytest.skip("../shared/corpus is absent")
    translated = CliRunner().invoke(app, ["translate", str(source)])
    file = tmp_path / "docs.json"
    file.write_text(translated.stdout)
    result = run(str(file))
    assert result.exit_code == 0, result.stderr
    envelope = json.loads(translated.stdout)[0]["envelope"]
    assert f"*{envelope['sender_id'].ljust(15)}*" in result.stdout and f"*X*{envelope['group_version'][:6]}~" in result.stdout


def test_a_document_that_cannot_be_written_validly_is_exit_1_with_its_place(tmp_path: Path) -> None:
    doc = json.loads((EXAMPLES / "purchase_order.json").read_text())
    doc["lines"][0]["uom"] = "BOXES"
    file = tmp_path / "po.json"
    file.write_text(json.dumps(doc))
    result = run(str(file))
    assert result.exit_code == 1 and result.stdout == ""
    assert (f"{file}: 850 set of document 1 (purchase_order {doc['po_number']}): segment " in result.stderr
            and "(PO1), element 3 [lines[].uom]: 'BOXES' has 5 characters; 2 allowed" in result.stderr)


@pytest.mark.parametrize(("content", "args", "code", "message"), [
    ("{not json", [], 1, "line 1, column 2: not JSON"),
    ('{"document_type": "ship_notice"}', [], 1, "document 1 (ship_notice), field asn_number: Field required"),
    ('[]', [], 1, "the file holds an empty list"),
    (None, ["--version", "003040"], 1, "--version 003040: X12 is written in 004010 or 005010"),
    (None, ["--standard", "tradacoms"], 1, "--standard tradacoms: use x12 or edifact"),
])
def test_bad_input_is_refused_with_its_place(tmp_path: Path, content: str | None, args: list[str], code: int,
                                             message: str) -> None:
    file = tmp_path / "in.json"
    if content is None:
        file = EXAMPLES / "ship_notice.json"
    else:
        file.write_text(content)
    result = run(str(file), *args)
    assert result.exit_code == code and message in result.stderr, result.stderr


def test_a_missing_file_is_exit_2() -> None:
    assert run("/nonexistent/doc.json").exit_code == 2


def test_a_partner_gives_identities_and_its_next_numbers_without_taking_them(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'hub.sqlite3'}"
    db = Database(url)
    import hub.models  # noqa: F401

    Base.metadata.create_all(db.engine)
    PartnerRegistry(db).load(read_partners_file(ROOT / "routes" / "partners.yaml"))
    monkeypatch.setenv("HUB_EDI_X12_ID", "HOSPITAL")
    key = CounterKey("X12", INTERCHANGE, "ZZ:HOSPITAL", "ZZ:ACMEMED", "")
    ControlNumbers(db).set_next(key, 41)
    args = (str(EXAMPLES / "purchase_order.json"), "--partner", "P-0042", "--database-url", url)
    shown = run(*args)
    assert shown.exit_code == 0, shown.stderr
    assert "*ZZ*HOSPITAL       *ZZ*ACMEMED        *" in shown.stdout and "*000000041*" in shown.stdout
    assert ControlNumbers(db).peek(key) == 41  # shown, not taken
    taken = run(*args, "--consume")
    assert "*000000041*" in taken.stdout and ControlNumbers(db).peek(key) == 42
    db.dispose()
