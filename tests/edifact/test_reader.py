"""Reading EDIFACT: tokenizer, decoding, envelope structure and checks, corpus files."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydifact.control import Characters
from pydifact.parser import Parser
from pydifact.segmentcollection import Interchange
from pydifact.segments import Segment
from pydifact.serializer import Serializer

from edi.edifact.diagnostics import EdifactError, Level
from edi.edifact.reader import read
from edi.edifact.tokenizer import Delimiters, tokenize
from tests.conftest import corpus_files

EDIFACT_FILES = corpus_files("edifact")
MALFORMED_EDIFACT = [p for p in corpus_files("malformed") if b"UNB" in p.read_bytes()[:400]]


def codes(file) -> set[str]:
    return {d.code for d in file.all_diagnostics()}


def error_codes(file) -> set[str]:
    return {d.code for d in file.errors}


def interchange(body: str, *, una: str = "", unb_extra: str = "") -> bytes:
    """A one-message interchange around ``body`` (segments without UNH/UNT)."""
    segs = [s for s in body.split("'") if s]
    count = len(segs) + 2
    text = (
        f"{una}UNB+UNOC:3+SENDER:14+RECEIVER:14+240101:1200+REF1{unb_extra}'"
        f"UNH+M1+ORDERS:D:96A:UN:EAN008'{body}UNT+{count}+M1'UNZ+1+REF1'"
    )
    return text.encode("latin-1")


# -- tokenizer --------------------------------------------------------------------------------


def test_release_character_escapes_every_delimiter() -> None:
    tokens = tokenize("UNB+UNOA:3'FTX+AAI+++A?'B?+C?:D??E'")
    assert tokens.segments[1].elements == ["AAI", "", "", "A'B+C:D?E"]
    assert tokens.diagnostics == []


def test_release_torture_lines_from_php_edifact() -> None:
    tokens = tokenize("IFT+3+NO MORE ???' FLIGHTS'IFT+3+FIELD 1???+FIELD 2'IFT+3+FIELD 1.1??:FIELD 1.2'")
    assert [s.elements for s in tokens.segments] == [
        ["3", "NO MORE ?' FLIGHTS"],
        ["3", "FIELD 1?+FIELD 2"],
        ["3", ["FIELD 1.1?", "FIELD 1.2"]],
    ]


def test_release_before_ordinary_character_is_kept_with_a_warning() -> None:
    tokens = tokenize("IMD+F++:::MILK ?*?*BRAND?*?*'")
    assert tokens.segments[0].elements[2] == ["", "", "", "MILK **BRAND**"]
    assert [d.code for d in tokens.diagnostics] == ["release_before_non_delimiter"]
    assert tokens.diagnostics[0].segment_position == 1


def test_una_sets_custom_delimiters_and_decimal_comma() -> None:
    tokens = tokenize("UNA=*,? ~UNB*UNOA=3*S*R*240101=1200*1~MOA*203=12,50~")
    assert tokens.sections[0].delimiters == Delimiters("=", "*", ",", "?", " ", "~")
    assert tokens.segments[0].tag == "UNA"
    assert tokens.segments[2].elements == [["203", "12,50"]]


def test_una_in_the_middle_switches_delimiters() -> None:
    tokens = tokenize("UNB+UNOA:3+S+R+240101:1200+1'UNZ+0+1'\nUNA:|.? 'UNB|UNOA:3|S|R|240101:1200|2'")
    assert [s.tag for s in tokens.segments] == ["UNB", "UNZ", "UNA", "UNB"]
    assert tokens.segments[3].elements[4] == "2"
    assert [s.first_position for s in tokens.sections] == [1, 3]


def test_level_b_default_separators_without_una() -> None:
    tokens = tokenize("UNB\x1dUNOB\x1f3\x1dS\x1dR\x1d240101\x1f1200\x1d7\x1cUNZ\x1d0\x1d7\x1c")
    assert tokens.segments[0].elements[0] == ["UNOB", "3"]
    assert tokens.segments[1].elements == ["0", "7"]


def test_blank_lines_and_indentation_between_segments() -> None:
    tokens = tokenize("UNB+UNOA:3'\r\n\tDTM+137:20240101:102'\n   QTY+12:5'\n")
    assert [s.tag for s in tokens.segments] == ["UNB", "DTM", "QTY"]
    assert [d.code for d in tokens.diagnostics] == ["blanks_between_segments"]


def test_hard_wrapped_segments_are_joined() -> None:
    tokens = tokenize("UNB+UNOA:3+S+R+240101:1200+000\n0001'BGM\n+380+1'QTY+47:10\n20:EA'")
    assert [(s.tag, s.elements) for s in tokens.segments][1:] == [("BGM", ["380", "1"]), ("QTY", [["47", "1020", "EA"]])]
    assert tokens.segments[0].elements[4] == "0000001"
    assert [d.code for d in tokens.diagnostics] == ["line_break_in_segment"]


def test_line_breaks_instead_of_terminators() -> None:
    tokens = tokenize("UNB+UNOA:1+S+R+180525:2030+2216\nUNH+1+IFCSUM:D:01B:UN\nBGM+610+1\nUNT+3+1\nUNZ+1+2216\n")
    assert [s.tag for s in tokens.segments] == ["UNB", "UNH", "BGM", "UNT", "UNZ"]
    assert {d.code for d in tokens.diagnostics} == {"line_break_as_terminator", "unterminated_segment"}


def test_invalid_tag_is_an_error_at_its_position() -> None:
    tokens = tokenize("UNB+UNOA:3'bgm+380'")
    (diag,) = tokens.diagnostics
    assert (diag.code, diag.segment_position, diag.ack_code, diag.is_error) == ("bad_tag", 2, "12", True)


def _as_serialized(components: list[str]) -> str | list[str]:
    """What pydifact writes for these components: trailing empty ones are dropped."""
    while len(components) > 1 and components[-1] == "":
        components = components[:-1]
    return components if len(components) > 1 else components[0]


segment_values = st.text(alphabet=st.sampled_from("AZaz09 .-/'+:?*"), max_size=8)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(segment_values, min_size=1, max_size=3), min_size=1, max_size=4))
def test_whatever_pydifact_serializes_reads_back_the_same(elements: list[list[str]]) -> None:
    """Round trip through pydifact's own escaping: the tokenizer honours every escape."""
    values = [_as_serialized(components) for components in elements]
    text = Serializer(Characters()).serialize([Segment("FTX", *values)], with_una_header=False)
    (seg,) = tokenize(text).segments
    assert seg.elements == values


# -- decoding and envelope ----------------------------------------------------------------------


def test_bom_and_utf8_under_unoc_are_read_with_warnings() -> None:
    data = b"\xef\xbb\xbf" + interchange("NAD+BY+1::9++M\xc3\xbcller GmbH'")
    file = read(data)
    nad = file.interchanges[0].messages[0].segments[0]
    assert nad.elements[3] == "Müller GmbH"
    assert {"bom", "encoding"} <= codes(file)
    assert file.errors == []


def test_characters_outside_unoa_are_tolerated_with_one_warning() -> None:
    data = interchange("NAD+BY+1::9++Lower case'FTX+AAI+++more'").replace(b"UNOC", b"UNOA")
    file = read(data)
    (warning,) = [d for d in file.all_diagnostics() if d.code == "charset"]
    assert warning.segment_id == "NAD" and "UNOA" in warning.reason and warning.ack_code == "21"
    assert file.errors == []


def test_counts_and_references_are_checked() -> None:
    data = interchange("BGM+220+PO1+9'").replace(b"UNT+3+M1", b"UNT+9+M2").replace(b"UNZ+1+REF1", b"UNZ+2+REF9")
    file = read(data)
    found = {(d.code, d.segment_id, d.element_position, d.ack_code) for d in file.errors}
    assert found == {
        ("control_count", "UNT", 1, "29"),
        ("control_reference", "UNT", 2, "28"),
        ("control_count", "UNZ", 1, "29"),
        ("control_reference", "UNZ", 2, "28"),
    }
    message = file.interchanges[0].messages[0]
    assert message.rejected and {d.level for d in message.errors} == {Level.TRANSACTION}


def test_groups_are_counted_and_matched() -> None:
    data = (
        b"UNB+UNOA:3+S:14+R:14+240101:1200+7'UNG+ORDERS+S:14+R:14+240101:1200+G1+UN+D:96A'"
        b"UNH+1+ORDERS:D:96A:UN'BGM+220+1'UNT+3+1'UNH+2+ORDERS:D:96A:UN'BGM+220+2'UNT+3+2'"
        b"UNE+1+G2'UNZ+1+7'"
    )
    file = read(data)
    ic = file.interchanges[0]
    assert [len(g.messages) for g in ic.groups] == [2]
    assert {(d.code, d.segment_id) for d in file.errors} == {("control_count", "UNE"), ("control_reference", "UNE")}
    assert all(d.level is Level.GROUP for d in file.errors)


def test_several_interchanges_and_missing_trailers() -> None:
    data = (
        b"UNB+UNOA:3+S+R+240101:1200+1'UNH+1+ORDERS:D:96A:UN'BGM+220+1'"
        b"UNB+UNOA:3+S+R+240101:1200+2'UNH+1+ORDERS:D:96A:UN'BGM+220+2'UNT+3+1'UNZ+1+2'"
    )
    file = read(data)
    assert [ic.reference for ic in file.interchanges] == ["1", "2"]
    first, second = file.interchanges
    assert {d.code for d in first.errors} == {"missing_unz"}
    assert {d.code for d in first.messages[0].errors} == {"missing_unt"}
    assert first.messages[0].segments[0].tag == "BGM"
    assert second.errors == [] and second.messages[0].errors == []


def test_segments_between_messages_are_reported() -> None:
    data = interchange("BGM+220+1'").replace(b"UNZ+1", b"DTM+137:20240101:102'UNZ+1")
    file = read(data)
    (diag,) = file.errors
    assert (diag.code, diag.segment_id, diag.ack_code) == ("outside_message", "DTM", "33")


def test_unb_date_syntax_id_and_duplicate_message_refs() -> None:
    data = (
        b"UNB+XXXA:9+S+R+999818:999+1'UNH+1+INVOIC:D:96A:UN'BGM+380+1'UNT+3+1'"
        b"UNH+1+INVOIC:D:96A:UN'BGM+380+2'UNT+3+1'UNZ+2+1'"
    )
    found = error_codes(read(data))
    assert found == {"syntax_id", "syntax_version", "unb_datetime", "duplicate_message_ref"}


def test_pydifact_model_is_kept() -> None:
    file = read(interchange("BGM+220+PO1+9'QTY+21:5'", una="UNA:+.? '"))
    ic = file.interchanges[0]
    assert isinstance(ic, Interchange) and ic.has_una_segment
    message = next(ic.get_messages())  # pydifact's own message splitting still works
    assert message.type == "ORDERS" and [s.tag for s in message.segments] == ["BGM", "QTY"]
    ours = ic.messages[0]
    assert (ours.directory, ours.association, ours.reference_number) == ("D96A", "EAN008", "M1")
    assert ic.timestamp.isoformat() == "2024-01-01T12:00:00"
    assert ic.sender == ["SENDER", "14"] and ic.reference == "REF1"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty"),
        (b"ISA*00*          *00*          *ZZ*A*ZZ*B*240101*1200*U*00401*1*0*P*>~", "no_interchange"),
        ("UNB+UNOA:3+S+R+240101:1200+1'".encode("cp037"), "ebcdic"),
    ],
)
def test_input_that_is_not_edifact_is_refused_clearly(data: bytes, code: str) -> None:
    with pytest.raises(EdifactError) as caught:
        read(data)
    assert caught.value.diagnostic.code == code


# -- corpus -------------------------------------------------------------------------------------

# The malformed files pydifact 0.2.3 reads without complaint, and the defect the hub must report.
PYDIFACT_ACCEPTS = {
    "custom_staedi_dialectsegs_1.edi": {"foreign_segment"},  # IEA / END segments inside a message
    "delfor_edinet_badcount_1.edi": {"syntax_id", "control_count", "blanks_between_segments"},
    "desadv_edifabric_unzcount_1.txt": {"control_count"},  # UNZ01=2 for one message
    "invoic_edifabric_trailingblanks_1.txt": {"duplicate_message_ref", "control_count", "control_reference"},
    "invoic_staedi_bad_1.edi": {"too_long", "not_numeric", "repeated_section"},  # BYZZ, 1020A, $1.179, UNS twice
    "orders_phpedifact_badescape_1.edi": {"release_before_non_delimiter", "too_many_components"},
    "ordrsp_edinet_badtrailers_1.edi": {"control_count", "control_reference"},
    "paores_phpedifact_release_badcount_1.edi": {"control_count", "syntax_id"},
}

# What the hub reports for the malformed files pydifact already refuses.
OTHER_DEFECTS = {
    "aperak_edinet_dupunb_1.edi": {"missing_unz", "missing_element", "control_reference"},
    "contrl_edifabric_nosyntaxver_1.txt": {"missing_element"},
    "ifcsum_edinet_newlineterm_1.edi": {"line_break_as_terminator", "control_count"},
    "iftmbc_phpedifact_linebreak_1.edi": {"unb_datetime", "line_break_in_segment", "control_count"},
    "invoic-iftmin_edinet_badrefs_1.edi": {"bom", "control_count", "control_reference", "duplicate_message_ref"},
    "invoic_edifabric_missingunz_1.txt": {"missing_unz", "control_count", "control_reference"},
    "invoic_staedi_wrapped_1.edi": {"line_break_in_segment", "charset"},
    "orders_staedi_ung_badcount_1.edi": {"control_count", "group_version"},
    "quotes_edinet_bom_tabs_1.edi": {"bom", "blanks_between_segments", "control_count", "control_reference"},
}


def _pydifact_reads(data: bytes) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        interchange = Interchange.from_str(data.decode("utf-8", "replace"))
        list(interchange.get_messages())


@pytest.mark.corpus
@pytest.mark.parametrize("path", EDIFACT_FILES, ids=lambda p: p.name)
def test_valid_corpus_file_reads_like_pydifact_and_without_errors(path: Path) -> None:
    data = path.read_bytes()
    file = read(data, filename=path.name)
    assert file.errors == [], [str(d) for d in file.errors]
    ours = [(s.tag, s.elements) for s in file.segments if s.tag != "UNA"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = [(s.tag, s.elements) for s in Parser().parse(data.decode(file.encoding)) if s.tag != "UNA"]
    assert ours == theirs


@pytest.mark.corpus
@pytest.mark.parametrize("path", MALFORMED_EDIFACT, ids=lambda p: p.name)
def test_malformed_corpus_file_gets_located_diagnostics(path: Path) -> None:
    file = read(path.read_bytes(), filename=path.name)
    expected = PYDIFACT_ACCEPTS.get(path.name) or OTHER_DEFECTS.get(path.name)
    assert expected is not None, f"{path.name}: new malformed file, add its expected defects"
    assert expected <= codes(file)
    assert all(d.segment_position for d in file.all_diagnostics()), "every diagnostic names a segment"


@pytest.mark.corpus
@pytest.mark.parametrize("name", sorted(PYDIFACT_ACCEPTS))
def test_files_pydifact_alone_accepts(name: str) -> None:
    paths = [p for p in MALFORMED_EDIFACT if p.name == name]
    if not paths:
        pytest.skip("corpus absent")
    data = paths[0].read_bytes()
    _pydifact_reads(data)  # pydifact raises nothing: the hub's envelope discipline is what finds these
    file = read(data, filename=name)
    assert file.errors or file.warnings


def test_corpus_present_or_skipped() -> None:
    if not EDIFACT_FILES or not MALFORMED_EDIFACT:
        pytest.skip("../shared/corpus is absent: corpus tests not run")
    assert len(MALFORMED_EDIFACT) == len(PYDIFACT_ACCEPTS) + len(OTHER_DEFECTS)


# -- directory checks ---------------------------------------------------------------------------

from edi.edifact.directory import SEGMENTS, acceptors, check_segment  # noqa: E402

_values = st.text(alphabet=st.sampled_from("AB9.,-: "), max_size=5)


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(sorted(SEGMENTS)), st.lists(st.lists(_values, min_size=1, max_size=4), max_size=7))
def test_acceptor_never_passes_what_the_full_check_rejects(tag: str, elements: list[list[str]]) -> None:
    """The fast per-tag regex may send valid segments to the full check, never the reverse."""
    elements = [[c.replace(":", "") for c in e] for e in elements]
    raw = "+".join([tag] + [":".join(e) for e in elements])
    (seg,) = tokenize(raw + "'").segments
    if acceptors(Delimiters())[tag].match(raw):
        assert check_segment(seg) == []


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("QTY+21:1O", "not_numeric"),
        ("QTY+21", "missing_element"),
        ("NAD+BYZZ+1::9", "too_long"),
        ("IMD+F++:::A:B:C:D", "too_many_components"),
        ("DTM+137:20240101:102+X", "too_many_elements"),
        ("UNS+1", "not_alphabetic"),
    ],
)
def test_directory_check_finds(raw: str, code: str) -> None:
    (seg,) = tokenize(raw + "'").segments
    assert code in {problem[0] for problem in check_segment(seg)}
    assert acceptors(Delimiters())[seg.tag].match(raw) is None


def test_una_with_repeated_service_characters_rejects_its_interchange() -> None:
    file = read(interchange("BGM+220+1'", una="UNA:+.: '"))  # release = component separator
    (error,) = [d for d in file.errors if d.code == "bad_una"]
    assert (error.segment_id, error.ack_code, error.segment_position) == ("UNA", "20", 1)
    assert file.interchanges[0].rejected


def test_segments_outside_any_interchange_are_located() -> None:
    file = read(b"UNT+2+1'" + interchange("BGM+220+1'") + b"UNE+1+9'")
    assert {(d.code, d.segment_id, d.segment_position) for d in file.errors} == {
        ("unt_without_unh", "UNT", 1),
        ("une_without_ung", "UNE", 7),
    }
