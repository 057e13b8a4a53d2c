"""Regression tests for what the fuzzer found in the EDIFACT engine: each input shape that used
to crash now ends in documents, located diagnostics or an EdifactError, and the CONTRL for it
can be written. Timings are the benchmarks' business (benchmarks/fuzz_edifact.py)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from edi.common.diagnostics import Diagnostic
from edi.edifact.contrl import MAX_ERROR_SEGMENTS, MAX_UCS, acknowledge_file
from edi.edifact.diagnostics import EdifactError
from edi.edifact.engine import translate
from edi.edifact.profile import EdifactProfile
from edi.edifact.reader import read

AGREED = EdifactProfile(sender_id="-", receiver_id="-", contrl=True)
NOW = datetime(2026, 3, 13, 9, 0)
INVOIC = (Path(__file__).resolve().parents[2] / "examples" / "supplier-edifact" / "nordmed-invoic.edi").read_bytes()


def run(data: bytes) -> tuple[list[dict], list[Diagnostic]]:
    items = list(translate(data))
    return [i for i in items if isinstance(i, dict)], [i for i in items if isinstance(i, Diagnostic)]


def contrl(data: bytes) -> list[str]:
    return [s.strip() for s in acknowledge_file(data, AGREED, now=NOW).decode().split("'") if s.strip()]


@pytest.mark.parametrize("una", [b"UNA", b"UNA:", b"UNA:+.", b"  UNA:+.?"])
def test_a_una_shorter_than_nine_characters_is_refused_not_an_index_error(una: bytes) -> None:
    with pytest.raises(EdifactError, match="no UNB interchange header"):
        run(una)


def test_counts_and_cnt_totals_of_thousands_of_digits_are_located_errors() -> None:
    huge = b"9" * 5_000
    data = (INVOIC.replace(b"UNT+29+INV0001", b"UNT+" + huge + b"+INV0001").replace(b"UNZ+1+", b"UNZ+" + huge + b"+")
            .replace(b"CNT+2:2", b"CNT+2:" + huge))
    docs, diagnostics = run(data)
    codes = {d.code: d for d in diagnostics if d.is_error}
    assert not docs and {"control_count"} <= set(codes)
    assert str(codes["control_count"]).endswith("… (5,000 characters) but the number of messages is 1") or \
        "characters)" in codes["control_count"].reason


def test_a_reference_the_reply_cannot_write_is_echoed_with_question_marks() -> None:
    """A NUL in the sender's id and in the interchange reference (read, and warned about) used
    to make the CONTRL a WriteError; the reply replaces what UNOC cannot carry."""
    data = INVOIC.replace(b"UNB+UNOC:3+4012345000009:14", b"UNB+UNOC:3+40123\x0045000009:14").replace(
        b"NM260313002", b"NM2603\x0013002")
    reply = contrl(data)  # '?' is the release character: written '??'
    assert "UNB+UNOC:3+4012345999990:14+40123??45000009:14+260313:0900+1" in reply
    (uci,) = [s for s in reply if s.startswith("UCI+")]
    assert "\x00" not in uci and uci.endswith("+7")


def test_a_una_without_release_whose_component_is_the_default_release_gets_a_contrl() -> None:
    """UNA with ':' replaced by '?' and no release character: the reply profile cannot keep '?'
    as release and component both (a ValidationError before); it answers with the defaults."""
    data = INVOIC.replace(b"UNA:+.? '", b"UNA?+.  '").replace(b":", b"?").replace(b"++++'", b"++++1'")
    reply = contrl(data)
    assert reply[0] == "UNA:+.?" and any(s.startswith("UCI+NM260313002+") for s in reply)


def test_a_message_of_junk_gets_at_most_999_ucs() -> None:
    junk = b"UNS+S'" * 1_500  # each repeated section control is a segment error (0085 35)
    data = INVOIC.replace(b"UNS+S'", junk + b"UNS+S'").replace(b"UNT+29+", b"UNT+1529+")
    reply = contrl(data)
    assert sum(1 for s in reply if s.startswith("UCS+")) == MAX_UCS
    assert any(s.startswith("UCM+INV0001+INVOIC:D:96A:UN:EAN008+4") for s in reply)


def test_a_number_longer_than_its_directory_allows_is_a_syntax_error() -> None:
    data = INVOIC.replace(b"MOA+77:596.19", b"MOA+77:" + b"9" * 5_000)  # 5004 is n..35
    docs, diagnostics = run(data)
    (error,) = [d for d in diagnostics if d.is_error]
    assert not docs and (error.code, error.segment_id, error.element_position, error.ack_code) == (
        "number_too_long", "MOA", 1, "39")
    assert "… (5,000 characters) has more than 35 digits" in error.reason
    assert contrl(data)[4:7] == ["UCM+INV0001+INVOIC:D:96A:UN:EAN008+4", "UCS+26", "UCD+39+1:2"]


def test_a_number_within_the_directory_but_past_the_hubs_bound_is_a_business_problem() -> None:
    data = INVOIC.replace(b"MOA+77:596.19", b"MOA+77:" + b"9" * 20)  # n..35 allows it; the hub reads 18 digits
    docs, diagnostics = run(data)
    (problem,) = [d for d in diagnostics if d.is_error]
    assert not docs and (problem.code, problem.extra["exception_kind"]) == ("number_out_of_bounds",
                                                                            "unmappable_document")
    assert contrl(data)[4:] == ["UCM+INV0001+INVOIC:D:96A:UN:EAN008+7", "UNT+4+1", "UNZ+1+1"]


def test_hundreds_of_thousands_of_line_breaks_inside_a_segment_read_as_one_wrapped_segment() -> None:
    data = INVOIC.replace(b"BGM+380+RE-2026", b"BGM+380" + b"\n" * 200_000 + b"+RE-2026")
    (invoice,), diagnostics = run(data)
    assert invoice["invoice_number"] == "RE-2026-004411"
    assert [d.code for d in diagnostics if d.code == "line_break_in_segment"] == ["line_break_in_segment"]


def test_thousands_of_empty_segments_are_one_warning() -> None:
    file = read(INVOIC.replace(b"UNS+S'", b"'" * 100_000 + b"UNS+S'"))
    (empty,) = [d for d in file.diagnostics if d.code == "empty_segment"]
    assert "100000 places" in empty.reason


def test_a_run_of_invalid_tags_lists_the_first_hundred_then_counts() -> None:
    file = read(INVOIC.replace(b"UNS+S'", b"ab+1'" * 1_000 + b"UNS+S'"))
    (message,) = file.messages()
    bad = [d for d in message.diagnostics if d.code in ("bad_tag", "bad_tags_not_listed")]
    assert len(bad) == 101 and all(d.ack_code == "12" for d in bad)
    assert bad[-1].reason == "900 more segments in a row with an invalid tag after the first 100 (not listed one by one)"
    assert (bad[-1].segment_position, bad[-1].set_position) == (bad[99].segment_position + 1, bad[99].set_position + 1)


def test_a_una_the_reply_cannot_encode_is_answered_with_the_default_service_characters() -> None:
    """A UNA whose terminator is a BOM (U+FEFF) under UNOC: latin-1 cannot write it (a
    UnicodeEncodeError while writing the CONTRL, found by the fuzzer)."""
    data = INVOIC.replace(b"UNA:+.? '", b"UNA:+.? \xef\xbb\xbf'")
    reply = acknowledge_file(data, AGREED, now=NOW)
    assert reply.startswith(b"UNA:+.? '\nUNB+UNOC:3+")


def test_thousands_of_broken_messages_each_get_a_ucm_and_the_details_stop_at_a_thousand() -> None:
    """2,000 ten-byte messages with half a dozen errors each: every message is answered (its UCM
    with the first error), the UCS/UCD details stop at MAX_ERROR_SEGMENTS for the interchange."""
    data = b"UNB+UNOC:3+S:14+R:14+240101:1200+1++++1'" + b"UNH+1:SA'" * 2_000 + b"UNZ+2000+1'"
    reply = contrl(data)
    assert sum(1 for s in reply if s.startswith("UCM+1+")) == 2_000
    assert sum(1 for s in reply if s.startswith(("UCS+", "UCD+"))) == MAX_ERROR_SEGMENTS
