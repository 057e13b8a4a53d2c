"""Reader + envelope validation: counts, control numbers, missing trailers, located messages."""

from __future__ import annotations

import io

from edi.x12.reader import InterchangeEnd, TransactionSet, X12Reader, read_x12
from tests.x12.helpers import PO_850, interchange


def codes(data: bytes) -> list[str]:
    return [d.code for d in read_x12(data).errors()]


def test_a_sound_interchange_has_no_diagnostics_and_keeps_its_envelope() -> None:
    parsed = read_x12(interchange([("850", PO_850), ("850", PO_850)]))
    assert parsed.diagnostics() == []
    sets = list(parsed.transactions())
    assert [(t.set_id, t.control_number) for t in sets] == [("850", "0001"), ("850", "0002")]
    info = sets[1].envelope_info()
    assert info["interchange_control_number"] == "000000001" and info["group_control_number"] == "1"
    assert info["sender_id"] == "SUPPLIER" and info["transaction_control_number"] == "0002"
    assert sets[0].segments[0][0] == "ST" and sets[0].segments[-1][0] == "SE"


def test_se_count_error_reads_like_the_spec() -> None:
    data = interchange([("850", PO_850)]).replace(b"SE*13*0001", b"SE*12*0001")
    errors = read_x12(data).errors()
    assert [str(e) for e in errors] == ["segment 15 (SE), element 1: count 12 but 13 segments"]
    assert errors[0].ack_code == "4" and errors[0].segment_position == 15


def test_every_trailer_mismatch_is_reported_with_its_ack_code() -> None:
    data = (interchange([("850", PO_850)])
            .replace(b"SE*13*0001", b"SE*13*0009")
            .replace(b"GE*1*1", b"GE*2*7")
            .replace(b"IEA*1*000000001", b"IEA*2*000000005"))
    found = {(e.code, e.ack_code) for e in read_x12(data).errors()}
    assert found == {("se_control", "3"), ("ge_count", "5"), ("ge_control", "4"), ("iea_count", "021"),
                     ("iea_control", "001")}


def test_missing_trailers_are_errors_at_the_place_they_were_expected() -> None:
    data = interchange([("850", PO_850)])
    cut = data[: data.index(b"SE*")]  # no SE, GE, IEA
    errors = read_x12(cut).errors()
    assert sorted(e.code for e in errors) == ["ge_missing", "iea_missing", "se_missing"]
    assert all(e.segment_position == 15 for e in errors)


def test_duplicate_st_and_gs_control_numbers() -> None:
    data = interchange([("850", PO_850), ("850", PO_850)]).replace(b"0002", b"0001")
    assert codes(data) == ["st_duplicate"]


def test_bad_isa_fields_are_interchange_errors_with_ta1_codes() -> None:
    data = interchange([("850", PO_850)]).replace(b"*240115*1200*", b"*241315*2599*", 1)
    errors = read_x12(data).errors()
    assert {(e.code, e.ack_code) for e in errors} == {("isa_date", "014"), ("isa_time", "015")}


def test_segment_outside_a_set_and_bad_segment_ids() -> None:
    data = interchange([("850", PO_850)]).replace(b"ST*850*0001~\n", b"REF*XX*1~\nST*850*0001~\n")
    assert codes(data) == ["segment_outside_set"]
    bad = interchange([("850", PO_850)]).replace(b"CUR*BY", b"C-R*BY")
    assert codes(bad) == ["bad_segment_id"]


class CountingStream(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.consumed = 0

    def read(self, size: int = -1) -> bytes:
        chunk = super().read(size)
        self.consumed += len(chunk)
        return chunk


def test_sets_are_yielded_before_the_rest_of_the_file_is_read() -> None:
    data = interchange([("850", PO_850)] * 200)
    stream = CountingStream(data)
    reader = X12Reader(stream, chunk_size=512)
    items = iter(reader)
    first = next(items)
    assert isinstance(first, TransactionSet)
    assert stream.consumed < len(data) // 10  # streaming: the file was not read whole first
    items = list(items)
    assert isinstance(items[-1], InterchangeEnd)
