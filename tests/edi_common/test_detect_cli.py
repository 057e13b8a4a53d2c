"""Format detection and the ``hub edi`` CLI contract (exit codes, one-line errors)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from edi.cli import app
from edi.common.diagnostics import EdiError
from edi.detect import detect, engine_for, sniff
from tests.x12.helpers import PO_850, interchange

runner = CliRunner()


@pytest.mark.parametrize(("head", "fmt"), [
    (b"ISA*00*", "x12"), (b"\xef\xbb\xbf  \r\nISA*00*", "x12"), (b"UNA:+.? 'UNB+UNOA", "edifact"),
    (b"UNB+UNOC:3+", "edifact"), (b"<?xml version", None),
])
def test_sniff(head: bytes, fmt: str | None) -> None:
    assert sniff(head) == fmt


def test_detect_names_what_it_found_and_refuses_ebcdic() -> None:
    with pytest.raises(EdiError, match=r"not an X12 \(ISA\) or EDIFACT \(UNA/UNB\) file: it starts with b'<\?xml"):
        detect(b"<?xml version='1.0'?>")
    with pytest.raises(EdiError, match="EBCDIC"):
        detect("ISA*00".encode("cp037"))


def test_engines_plug_in_by_format() -> None:
    assert engine_for("x12").name == "x12"
    with pytest.raises(KeyError, match="known: x12, edifact"):
        engine_for("tradacoms")


def test_translate_prints_json_and_exit_0(tmp_path: Path) -> None:
    path = tmp_path / "po.x12"
    path.write_bytes(interchange([("850", PO_850)]))
    result = runner.invoke(app, ["translate", str(path)])
    assert result.exit_code == 0 and result.stderr == ""
    assert '"document_type": "purchase_order"' in result.stdout and '"interchange_control_number": "000000001"' in result.stdout


def test_malformed_file_exit_1_with_one_line_errors(tmp_path: Path) -> None:
    path = tmp_path / "bad.x12"
    path.write_bytes(interchange([("850", PO_850)]).replace(b"SE*13*0001", b"SE*12*0001"))
    result = runner.invoke(app, ["translate", str(path)])
    assert result.exit_code == 1 and result.stdout.strip() == "[]"
    assert result.stderr == f"{path}: segment 15 (SE), element 1: count 12 but 13 segments\n"


def test_unsupported_set_and_unknown_format_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "214.x12"
    path.write_bytes(interchange([("214", ["B10*1*2*SCAC"])], functional_id="QM"))
    result = runner.invoke(app, ["translate", str(path)])
    assert result.exit_code == 1 and "segment 3 (ST), element 1: unsupported transaction set 214" in result.stderr
    other = tmp_path / "note.txt"
    other.write_text("hello")
    assert runner.invoke(app, ["translate", str(other)]).exit_code == 1
    missing = runner.invoke(app, ["translate", str(tmp_path / "nope.x12")])
    assert missing.exit_code == 2 and "cannot open" in missing.stderr


def test_ack_prints_the_997(tmp_path: Path) -> None:
    path = tmp_path / "po.x12"
    path.write_bytes(interchange([("850", PO_850)]))
    result = runner.invoke(app, ["ack", str(path)])
    assert result.exit_code == 0 and "AK1*PO*1~" in result.stdout and "AK9*A*1*1*1~" in result.stdout
