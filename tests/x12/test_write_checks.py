"""X12 written as partners accept it: the write-time checks (structure, elements, codes,
syntax notes, each error at its place) and what the writer maps instead of dropping: BSN04,
notes in N9 loops, one item level per lot, HL numbers in order, each group's own ack parties,
SAC codes of X12 only, warnings for content an 850/855/856/810 cannot carry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edi.x12.acks import acknowledge_file
from edi.x12.grammar import grammar_for
from edi.x12.profile import X12Profile
from edi.x12.writer import (
    OutSet,
    PreviewNumbers,
    WriteError,
    check_set,
    write_documents,
)
from tests.x12.helpers import PO_850, isa
from tests.x12.test_roundtrip import ASN, INVOICE, PO, SUPPLIER, read_back

EXAMPLES = Path(__file__).resolve().parents[2] / "hub" / "canonical" / "examples"
HOSPITAL = X12Profile(sender_id="HOSPITAL", receiver_id="ACME")


def segments(data: bytes) -> list[list[str]]:
    return [s.split("*") for s in data.decode().replace("\n", "").split("~") if s]


def example(name: str) -> dict:
    return json.loads((EXAMPLES / f"{name}.json").read_text())


# -- the checks -------------------------------------------------------------------------------

def check(set_id: str, body: list[list[str]], version: str = "004010") -> None:
    grammar, structures = grammar_for(version)
    check_set(OutSet(set_id, body, label="document 1 (test)"), grammar, structures)


GOOD_850 = [["BEG", "00", "SA", "PO-1", "", "20250310"], ["PO1", "1", "2", "EA", "1.5", "", "VP", "X1"], ["CTT", "1"]]


def test_a_valid_set_passes() -> None:
    check("850", GOOD_850)


@pytest.mark.parametrize(("body", "message"), [
    ([GOOD_850[0], ["MSG", "bare note"], *GOOD_850[1:]],
     r"850 set of document 1 \(test\): segment 3 \(MSG\): MSG is not allowed here \(after BEG\)"),
    ([GOOD_850[0], GOOD_850[2]], r"mandatory segment PO1 is missing before segment 3 \(CTT\)"),
    ([GOOD_850[0], ["CUR", "BY", "USD"], ["CUR", "BY", "USD"], *GOOD_850[1:]],
     r"segment 4 \(CUR\): CUR is not allowed here .*more than 1 in its loop"),
    ([["BEG", "00", "SA", "PO-1", "", "20250231"], *GOOD_850[1:]], r"segment 2 \(BEG\), element 5 \[order_date\]: '20250231' is not of type DT"),
    ([["BEG", "00", "SA", "P" * 23, "", "20250310"], *GOOD_850[1:]],
     r"segment 2 \(BEG\), element 3 \[po_number\]: 'P{23}' has 23 characters; 1 to 22 allowed"),
    ([GOOD_850[0], ["PO1", "1", "2", "BOX", "1.5", "", "VP", "X1"], GOOD_850[2]],
     r"segment 3 \(PO1\), element 3 \[lines\[\]\.uom\]: 'BOX' has 3 characters; 2 allowed"),
    ([GOOD_850[0], ["PO1", "1", "2", "EA", "1.5", "", "VP"], GOOD_850[2]],
     r"segment 3 \(PO1\): syntax note P: PO106, PO107 are paired"),
    ([GOOD_850[0], ["PO1", "1", "2", "EA", "1.5", "", "XX", "1"], GOOD_850[2]],
     r"segment 3 \(PO1\), element 6: 'XX' is not a code of list 235"),
    ([GOOD_850[0], ["N1", "ST"], *GOOD_850[1:]], r"segment 3 \(N1\): syntax note R: N102, N103 need at least one"),
    ([["BEG", "00", "SA", "PO-1"], *GOOD_850[1:]], r"segment 2 \(BEG\), element 5 \[order_date\]: mandatory value is empty"),
])
def test_each_defect_is_refused_at_its_place(body: list[list[str]], message: str) -> None:
    with pytest.raises(WriteError, match=message):
        check("850", body)


def test_005010_has_no_msg_in_the_n9_loop_but_mtx() -> None:
    with pytest.raises(WriteError, match=r"segment 4 \(MSG\): MSG has no place"):
        check("850", [GOOD_850[0], ["N9", "L1", "", "note"], ["MSG", "more"], *GOOD_850[1:]], "005010")
    check("850", [GOOD_850[0], ["N9", "L1", "", "note"], ["MTX", "", "more"], *GOOD_850[1:]], "005010")


def test_nothing_is_numbered_when_a_document_is_refused() -> None:
    class Counting(PreviewNumbers):
        taken = 0

        def take(self, kind: str, scope: str, n: int = 1) -> list[int]:
            Counting.taken += n
            return super().take(kind, scope, n)

    bad = PO.model_copy(update={"po_number": "P" * 23})
    with pytest.raises(WriteError, match=r"document 1 \(purchase_order P{23}\).*element 3 \[po_number\]"):
        write_documents([bad], HOSPITAL, Counting())
    assert Counting.taken == 0


# -- fixes ------------------------------------------------------------------------------------

def test_bsn04_is_sent_even_when_created_at_has_no_time() -> None:
    written = write_documents([ASN], SUPPLIER, PreviewNumbers())  # created_at "2025-03-12"
    (bsn,) = [s for s in segments(written.data) if s[0] == "BSN"]
    assert bsn[3:5] == ["20250312", "0000"]
    assert any("created_at: no time of day: BSN04 (mandatory) is sent as 0000" in w for w in written.warnings)
    timed = write_documents([example("ship_notice")], SUPPLIER, PreviewNumbers())
    assert next(s for s in segments(timed.data) if s[0] == "BSN")[4] == "1605"


@pytest.mark.parametrize("version", ["004010", "005010"])
def test_notes_travel_in_n9_loops_and_read_back(version: str) -> None:
    long_note = "Deliver to the loading dock behind building C between 7 and 9 am, ask for Pat"
    order = PO.model_copy(update={"notes": ["Deliver to dock 4", long_note]})
    profile = HOSPITAL.model_copy(update={"version": version})
    written = write_documents([order], profile, PreviewNumbers())
    tags = [s[0] for s in segments(written.data)]
    text_tag = "MSG" if version == "004010" else "MTX"
    assert "MSG" not in tags[:tags.index("N9")]  # never a bare MSG in the header
    assert tags.count("N9") == 2 and text_tag in tags
    (back,), _ = read_back(written.data)
    head = "Deliver to the loading dock behind building C"
    assert back["notes"] == ["Deliver to dock 4", head, long_note[len(head) + 1:]]
    assert any("travels as N9 text" in w for w in written.warnings)


def test_lots_with_their_own_expiry_and_quantity_get_their_own_item_level() -> None:
    written = write_documents([example("ship_notice")], SUPPLIER, PreviewNumbers())
    (back,), diagnostics = read_back(written.data)
    assert not [d for d in diagnostics if d.is_error]
    lots = [(ln["qty_shipped"], [(lot["lot_number"], lot["expiration_date"]) for lot in ln["lots"]])
            for ln in back["lines"]]
    assert lots == [("1", [("A1234", "2027-09-30")]), ("1", [("A1299", "2027-12-31")])]


def test_lots_with_different_dates_and_no_quantities_are_refused() -> None:
    doc = example("ship_notice")
    for lot in doc["lines"][0]["lots"]:
        lot.pop("qty"), lot.pop("uom")
    with pytest.raises(WriteError, match=r"lines\.0\.lots: lots with different expiry .* needs the quantity of each lot"):
        write_documents([doc], SUPPLIER, PreviewNumbers())


def test_hl_numbers_increase_in_written_order_with_parents_first() -> None:
    doc = ASN.model_dump(mode="json", exclude_none=True)
    doc["lines"][0]["po_number"], doc["lines"][1]["po_number"] = "PO-B", "PO-A"
    doc["lines"][0]["line_id"], doc["lines"][1]["line_id"] = "2", "3"  # would collide with order levels
    doc["packs"], doc["hierarchy_code"] = [], "0001"
    for line in doc["lines"]:
        line.pop("pack_id")
    written = write_documents([doc], SUPPLIER, PreviewNumbers())
    hls = [s for s in segments(written.data) if s[0] == "HL"]
    numbers = [int(hl[1]) for hl in hls]
    assert numbers == sorted(numbers) == list(range(1, len(hls) + 1))
    seen: set[str] = set()
    for hl in hls:
        assert hl[2] == "" or hl[2] in seen
        seen.add(hl[1])
    assert any("lines.0.line_id: 2 is sent as HL01 3" in w for w in written.warnings)


def test_each_group_is_acknowledged_by_its_own_parties() -> None:
    body = ["ST*850*0001", *PO_850, f"SE*{len(PO_850) + 2}*0001"]
    data = "~".join([isa(), "GS*PO*BUYERA*SUPPA*20240115*1200*1*X*004010", *body, "GE*1*1",
                     "GS*PO*BUYERB*SUPPB*20240115*1200*2*X*004010", *body, "GE*1*2", "IEA*2*000000001"]) + "~"
    reply = acknowledge_file(data.encode(), X12Profile(sender_id="HOSPITAL", receiver_id="SUPPLIER"))
    groups = [s for s in segments(reply) if s[0] == "GS"]
    assert [(g[2], g[3]) for g in groups] == [("SUPPA", "BUYERA"), ("SUPPB", "BUYERB")]


def test_sac_codes_of_another_standard_never_travel() -> None:
    invoice = INVOICE.model_dump(mode="json", exclude_none=True)
    invoice["charges"] = [{"type": "FREIGHT", "type_raw": "FC", "allowance_or_charge": "CHARGE", "amount": "12.50"}]
    text = write_documents([invoice], SUPPLIER, PreviewNumbers()).data.decode()
    assert "SAC*C*D240***1250~" in text


def test_what_a_set_cannot_carry_is_a_warning_naming_the_field() -> None:
    invoice = INVOICE.model_dump(mode="json", exclude_none=True)
    invoice["lines"][0].update(line_amount="90.20", po_number="4500099999", case_ref="CASE-7")
    invoice["remit_to"]["identifiers"].append({"scheme": "GLN", "value": "0614141000036", "qualifier": "UL"})
    written = write_documents([invoice], SUPPLIER, PreviewNumbers())
    warnings = "\n".join(written.warnings)
    assert "document 1 (invoice INV-2025-0042): lines.0.line_amount: an 810 line (IT1) has no extended amount" in warnings
    assert "lines.0.po_number: sent as a line REF*PO" in warnings
    assert "lines.0.case_ref: X12 810 has no place for it; not sent" in warnings
    assert "remit_to.identifiers.1: GLN 0614141000036: N1 holds one identifier" in warnings
    text = written.data.decode()
    assert "N1*RE*Acme Lockbox*1*123456789~" in text and "REF*PO*4500099999~" in text
    assert "ITD***2**10**30~" in text  # payment terms


def test_backordered_quantity_is_its_own_ack_line() -> None:
    ack = example("purchase_order_ack")
    ack["lines"][0]["qty_backordered"] = "4"
    written = write_documents([ack], SUPPLIER, PreviewNumbers())
    assert ["ACK", "IB", "4", ack["lines"][0].get("uom") or ack["lines"][0]["ordered_uom"]] in segments(written.data)
    (back,), _ = read_back(written.data)
    assert any(line["status"] == "BACKORDERED" and line.get("qty") == "4" for line in back["lines"])


def test_echoes_of_a_broken_interchange_are_fitted_to_the_ack_elements() -> None:
    from edi.common.grammar import fit_echo

    grammar, _ = grammar_for("004010")
    fitted = fit_echo("TA1", ["00401", "\x0040115", "1", "A", "999"], grammar)
    assert fitted[0] == "000000000" and fitted[2] == "0000" and fitted[3] == "A"
    assert len(fitted[1]) == 6 and fitted[1].isdigit()  # today's date: the original was no date
    assert fitted[4] in grammar.codes["TA105"]
    check("997", [["AK1", "PO", "1"], ["AK2", "850", "0001"], ["AK5", "A"], ["AK9", "A", "1", "1", "1"]])
