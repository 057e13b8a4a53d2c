"""Regression tests for what the fuzzer found in the X12 engine: each input shape that used to
crash (or expand without bound) now ends in documents or located diagnostics. Timings are the
benchmarks' business (benchmarks/fuzz_x12.py); these tests check results only."""

from __future__ import annotations

import json

from edi.common.diagnostics import Diagnostic
from edi.common.numbers import MAX_DIGITS, NumberError, bounded_decimal, count_value
from edi.x12.acks import acknowledge_file
from edi.x12.engine import translate
from edi.x12.profile import X12Profile
from edi.x12.reader import read_x12
from tests.x12.helpers import ACK_855, PO_850, interchange

P997 = X12Profile(sender_id="HOSPITAL", receiver_id="SUPPLIER", ack_kind="997")
PO1 = "PO1*1*12*BX*86.40*PE*VP*SUT-4-0-PGA*UK*10614141123459"


def run(data: bytes) -> tuple[list[dict], list[Diagnostic]]:
    items = list(translate(data))
    return [i for i in items if isinstance(i, dict)], [i for i in items if isinstance(i, Diagnostic)]


def ack_body(ack: bytes) -> list[str]:
    return [s.strip() for s in ack.decode().split("~") if s.strip().startswith(("AK2", "AK3", "AK4", "AK5", "AK9"))]


def errors(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    return [d for d in diagnostics if d.is_error]


# -- decimals with an exponent: 1E-999999999 as a price -----------------------------------------


def test_an_exponent_past_the_bounds_is_a_located_syntax_error_not_a_billion_digits() -> None:
    body = [PO1.replace("86.40", "1E-999999999") if s.startswith("PO1") else s for s in ACK_855]
    data = interchange([("855", body)], functional_id="PR")
    assert len(data) < 700  # the 666-byte 855 that made the hub POST 10 MB of JSON to the ERP
    docs, diagnostics = run(data)
    (error,) = errors(diagnostics)
    assert not docs
    assert (error.segment_id, error.element_position, error.extra["element_code"]) == ("PO1", 4, "5")
    assert error.reason == ("'1E-999999999' written out has more than 18 digits before or 18 after the decimal "
                            "point")
    assert str(error).startswith("segment 8 (PO1), element 4: ")
    # The 997 rejects the set as the standard's syntax says: data element too long.
    assert ack_body(acknowledge_file(data, P997)) == ["AK2*855*0001", "AK3*PO1*6**8", "AK4*4**5*1E-999999999",
                                                      "AK5*R*5", "AK9*R*1*1*0"]


def test_numbers_within_the_bounds_still_read_with_an_exponent() -> None:
    body = [PO1.replace("86.40", "8.64E1") if s.startswith("PO1") else s for s in ACK_855]
    (ack,), diagnostics = run(interchange([("855", body)], functional_id="PR"))
    assert not errors(diagnostics) and ack["lines"][0]["unit_price"] == "86.4"


def test_the_bounds_of_a_decimal() -> None:
    assert bounded_decimal("9" * MAX_DIGITS) == int("9" * MAX_DIGITS)
    assert str(bounded_decimal("1E-18", exponent=True)) == "1E-18"
    for text, too_long in (("9" * (MAX_DIGITS + 1), True), ("1E-19", True), ("1E18", True), ("0E-999999999", True),
                           ("9" * 5_000, True), ("1e", False), ("NaN", False), ("", False)):
        try:
            bounded_decimal(text, exponent=True)
        except NumberError as exc:
            assert exc.too_long is too_long, text
        else:
            raise AssertionError(f"{text[:30]!r} was read")


# -- control numbers and counts of thousands of digits ----------------------------------------------


def test_counts_of_thousands_of_digits_are_mismatches_not_value_errors() -> None:
    huge = "9" * 5_000
    data = (interchange([("850", PO_850)]).replace(b"SE*13*0001", f"SE*{huge}*0001".encode())
            .replace(b"GE*1*1", f"GE*{huge}*{huge}".encode()).replace(b"IEA*1*", f"IEA*{huge}*".encode()))
    found = {d.code: d for d in read_x12(data).errors()}
    assert set(found) >= {"se_count", "ge_count", "ge_control", "iea_count"}
    assert str(found["se_count"]) == ("segment 15 (SE), element 1: count '99999999999999999999999999999999999999"
                                      "99'… (5,000 characters) but 13 segments")
    assert str(found["iea_count"]).startswith("segment 17 (IEA), element 1: count '9999")
    assert b"TA1*000000001" in acknowledge_file(data, P997)  # the interchange is rejected, with a TA1


def test_leading_zeros_are_free_in_a_count() -> None:
    data = interchange([("850", PO_850)]).replace(b"SE*13*0001", b"SE*" + b"0" * 5_000 + b"13*0001")
    assert read_x12(data).errors() == []
    assert count_value("0" * 5_000 + "13") == 13 and count_value("1" * 19) is None


def test_a_997_with_huge_positions_is_read_with_located_problems() -> None:
    data = interchange([("997", ["AK1*PO*5", "AK2*850*0001", f"AK3*BEG*{'9' * 5_000}**8", f"AK4*{'9' * 5_000}**8*X",
                                 "AK5*R*5", "AK9*R*1*1*0"])], functional_id="FA")
    docs, diagnostics = run(data)
    (error,) = errors(diagnostics)
    assert not docs and (error.segment_id, error.element_position) == ("AK4", 1)
    assert [d.code for d in diagnostics if not d.is_error] == ["mapping_warning"]  # AK302 ignored, with its place


# -- places past the body, junk --------------------------------------------------------------------


def test_a_mapping_error_about_lines_that_do_not_exist_names_the_last_segment() -> None:
    """The 846 without any LIN: the model refuses the empty lines, located at SE (was IndexError)."""
    data = interchange([("846", ["BIA*00*MM*SNAP-1*20240115"])], functional_id="IB")
    docs, diagnostics = run(data)
    (error,) = errors(diagnostics)
    assert not docs and (error.segment_id, error.set_position) == ("SE", 3)


def test_hundreds_of_invalid_segments_are_counted_after_the_first_hundred() -> None:
    junk = ["@@*1"] * 500
    _, diagnostics = run(interchange([("850", PO_850[:1] + junk + PO_850[1:])]))
    bad = [d for d in diagnostics if d.code == "bad_segment_id"]
    assert len(bad) == 101 and bad[-1].reason == "400 more segments with an invalid segment id after the first 100 " \
                                                 "(not listed one by one)"
    assert bad[-1].segment_position == bad[99].segment_position + 1


def test_cr_terminators_and_thousands_of_blank_lines_before_the_trailer() -> None:
    """The interchange boundary is still found after a long run of terminators and blanks."""
    data = interchange([("850", PO_850)], term="\r").replace(b"\rIEA*", b"\r" * 20_000 + b"  \r\nIEA*")
    (po,), diagnostics = run(data)
    assert po["po_number"] == "PO-1001" and not errors(diagnostics)


def test_documents_are_plain_json_of_bounded_size() -> None:
    (po,), _ = run(interchange([("850", PO_850)]))
    assert len(json.dumps(po)) < 5_000


def test_the_cli_reports_the_exponent_as_an_input_error_not_an_internal_one(tmp_path) -> None:
    import io

    from edi.cli import EXIT_INPUT, run_translate

    body = [PO1.replace("86.40", "1E-999999999") if s.startswith("PO1") else s for s in ACK_855]
    path = tmp_path / "855.x12"
    path.write_bytes(interchange([("855", body)], functional_id="PR"))
    out, err = io.StringIO(), io.StringIO()
    assert run_translate(path, out, err) == EXIT_INPUT  # was 3, internal error, after gigabytes
    assert out.getvalue() == "[]\n" and "segment 8 (PO1), element 4: '1E-999999999' written out" in err.getvalue()


def test_an_echo_with_control_characters_is_written_when_the_component_separator_is_a_question_mark() -> None:
    """ISA16 '?' and a GS08 with control characters: the 999 echoes GS08 in AK103, where a
    control character is shown as '?' — the reply's own delimiter. It is replaced again."""
    data = interchange([("850", PO_850)], comp="?").replace(b"*X*004010~", b"*X*0040\x10Y\x17~")
    ack = acknowledge_file(data, X12Profile(sender_id="HOSPITAL", receiver_id="SUPPLIER", ack_kind="999"))
    (ak1,) = [s for s in ack.decode().split("~") if s.strip().startswith("AK1")]
    assert ak1.strip() == "AK1*PO*1*0040_Y_"
