"""Tokenizer: delimiters from each ISA, tolerated layouts, refused encodings, chunk independence."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edi.common.diagnostics import EdiError
from edi.x12.tokenizer import Tokenizer, parse_isa
from tests.x12.helpers import PO_850, interchange, isa


def segments(data: bytes, chunk_size: int = 1 << 20) -> tuple[list[list[str]], Tokenizer]:
    tok = Tokenizer(io.BytesIO(data), chunk_size=chunk_size)
    out = [seg for batch in tok for seg in batch.segments]
    return out, tok


def test_delimiters_come_from_the_isa() -> None:
    data = interchange([("850", PO_850)]).replace(b"*", b"^").replace(b"~", b"|")
    data = data.replace(b"^>|", b"^:|", 1)  # ISA16 ':' then the terminator '|'
    segs, tok = segments(data)
    assert segs[0][0] == "ISA" and segs[0][16] == ":"
    assert segs[1][:3] == ["GS", "PO", "SUPPLIER"]
    assert [s[0] for s in segs[-3:]] == ["SE", "GE", "IEA"]
    assert not tok.diagnostics


def test_repetition_separator_only_from_version_00402() -> None:
    parsed_4010 = parse_isa(isa(rep="^", version="00401") + "~", 0, final=True, position=1)
    parsed_5010 = parse_isa(isa(rep="^", version="00501") + "~", 0, final=True, position=1)
    assert parsed_4010 is not None and parsed_4010.delimiters.repetition == ""
    assert parsed_5010 is not None and parsed_5010.delimiters.repetition == "^"


@pytest.mark.parametrize("term", ["\r\n", "\n", "~\r\n", "~", "~\n    "])
def test_line_break_terminators_and_indentation(term: str) -> None:
    data = interchange([("850", PO_850)], term=term)
    segs, tok = segments(data)
    assert [s[0] for s in segs][:4] == ["ISA", "GS", "ST", "BEG"]
    assert segs[-1] == ["IEA", "1", "000000001"]
    assert not tok.diagnostics


def test_bom_ctrl_z_and_several_interchanges_with_their_own_delimiters() -> None:
    first = interchange([("850", PO_850)])
    second = interchange([("850", PO_850)], control="000000002").replace(b"*", b"^").replace(b"~", b"\x15")
    segs, tok = segments(b"\xef\xbb\xbf" + first + second + b"\x1a")
    assert tok.interchanges == 2
    assert [s for s in segs if s[0] == "IEA"] == [["IEA", "1", "000000001"], ["IEA", "1", "000000002"]]


def test_unpadded_isa_is_read_by_counting_separators() -> None:
    data = b"ISA*00**00**ZZ*SUPPLIER*ZZ*HOSPITAL*240115*1200*U*00401*000000001*0*P*>~GS*PO*A*B*20240115*1200*1*X*004010~"
    segs, _ = segments(data + b"GE*0*1~IEA*1*000000001~")
    assert segs[0][6] == "SUPPLIER" and segs[0][16] == ">"
    assert segs[1][0] == "GS"


def test_missing_isa16_is_recovered_with_a_warning() -> None:
    text = isa()[:-2] + "*~\nGS*PO*A*B*20240115*1200*1*X*004010~\nGE*0*1~\nIEA*1*000000001~\n"
    segs, tok = segments(text.encode())
    assert [s[0] for s in segs] == ["ISA", "GS", "GE", "IEA"]
    assert [d.code for d in tok.diagnostics] == ["isa16_missing"]


def test_missing_terminator_before_a_line_break_splits_with_a_warning() -> None:
    data = interchange([("850", PO_850)]).replace(b"CUR*BY*USD~", b"CUR*BY*USD", 1)
    segs, tok = segments(data)
    assert ["CUR", "BY", "USD"] in segs and any(s[0] == "N1" for s in segs)
    assert [d.code for d in tok.diagnostics] == ["missing_terminator"]
    assert str(tok.diagnostics[0]).startswith("segment 5 (CUR): segment terminator missing")


def test_hard_wrapped_file_is_unwrapped() -> None:
    flat = interchange([("850", PO_850)], term="~").decode()
    wrapped = "\n".join(flat[i:i + 80] for i in range(0, len(flat), 80)).encode()
    assert segments(wrapped)[0] == segments(flat.encode())[0]
    assert [d.code for d in segments(wrapped)[1].diagnostics] == ["hard_wrapped"]


def test_non_utf8_bytes_are_read_as_latin1_with_a_warning() -> None:
    data = interchange([("850", PO_850)]).replace(b"Suture kit", b"Sut\xe9re kit")
    segs, tok = segments(data)
    assert ["PID", "F", "", "", "", "Sutére kit"] in segs
    assert [d.code for d in tok.diagnostics] == ["not_utf8"]


@pytest.mark.parametrize(("data", "code"), [
    ("ISA*00*".encode("cp037") + b"@" * 100, "ebcdic"),
    (b"\xff\xfeI\x00S\x00A\x00", "utf16"),
    (b"hello world, this is not EDI", "junk"),
    (b"", "no_isa"),
    (b"ISA*00*          *00", "isa_incomplete"),
])
def test_unreadable_input_is_refused_with_a_located_error(data: bytes, code: str) -> None:
    with pytest.raises(EdiError) as info:
        segments(data)
    assert info.value.diagnostic.code == code
    assert str(info.value)


def test_junk_between_interchanges_is_an_error_and_reading_goes_on() -> None:
    data = interchange([("850", PO_850)]) + b"GARBAGE\n" + interchange([("850", PO_850)], control="000000002")
    segs, tok = segments(data)
    assert tok.interchanges == 2
    assert [d.code for d in tok.diagnostics] == ["junk"]


@settings(max_examples=40, deadline=None)
@given(chunk=st.integers(min_value=1, max_value=300))
def test_chunk_size_does_not_change_the_segments(chunk: int) -> None:
    data = (interchange([("850", PO_850)], term="~\r\n")
            + interchange([("850", PO_850)], control="000000002", term="\n"))
    assert segments(data, chunk)[0] == segments(data)[0]
