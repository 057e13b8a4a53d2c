"""EDIFACT → canonical mappings: the corpus, a healthcare DESADV, INVRPT, located errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edi.common.diagnostics import Diagnostic
from edi.edifact.engine import translate
from edi.edifact.mapping.base import parse_dtm
from hub.canonical import parse_document
from hub.canonical.identifiers import gs1_check_digit
from tests.conftest import corpus_files

FIXTURES = Path(__file__).parent / "fixtures"
EDIFACT_FILES = corpus_files("edifact")

# Valid-corpus files that produce no canonical document, and why (each must say so with a
# located error, never a traceback).
NOT_TRANSLATED = {
    "aperak_bots_1.edi": "unsupported_message",  # APERAK is an application ack: edi.edifact.contrl reads it
    "slsrpt_bots_1.edi": "unsupported_message",  # sales report: no canonical document
    "invoic_berryworks_syntaxvariants_1.edi": "missing_segment",  # 4-segment syntax sample: no lines, no total
    "invoic_edifabric_escapes_1.txt": "canonical_invalid",  # CUX DEM: withdrawn, not in ISO 4217 any more
}


def run(data: bytes) -> tuple[list[dict[str, Any]], list[Diagnostic]]:
    items = list(translate(data))
    return [i for i in items if isinstance(i, dict)], [i for i in items if isinstance(i, Diagnostic)]


def gs1(body: str) -> str:
    return body + str(gs1_check_digit(body))


@pytest.mark.corpus
@pytest.mark.parametrize("path", EDIFACT_FILES, ids=lambda p: p.name)
def test_corpus_file_translates_or_says_why(path: Path) -> None:
    docs, diagnostics = run(path.read_bytes())
    errors = [d for d in diagnostics if d.is_error]
    if path.name in NOT_TRANSLATED:
        assert not docs
        assert {d.code for d in errors} == {NOT_TRANSLATED[path.name]}
        assert all(d.segment_position for d in errors)
        return
    assert docs and not errors, [str(d) for d in errors]
    for doc in docs:
        envelope = doc.pop("envelope")
        assert envelope["standard"] == "EDIFACT" and envelope["message_type"]
        # What translate returns is exactly the model's canonical form.
        assert parse_document(doc).canonical_dict() == doc


def test_corpus_present_or_skipped() -> None:
    if not EDIFACT_FILES:
        pytest.skip("../shared/corpus is absent: corpus mapping tests not run")
    assert set(NOT_TRANSLATED) <= {p.name for p in EDIFACT_FILES}


def _corpus(name: str) -> bytes:
    paths = [p for p in EDIFACT_FILES if p.name == name]
    if not paths:
        pytest.skip("corpus absent")
    return paths[0].read_bytes()


def test_ordrsp_line_action_codes() -> None:
    (ack,), _ = run(_corpus("ordrsp_edifabric_2.txt"))
    assert (ack["ack_type"], ack["ack_type_raw"], ack["po_number"]) == ("ACCEPTED_WITH_CHANGES", "4", "652744")
    assert [(line["po_line_number"], line["status"], line["status_raw"]) for line in ack["lines"]] == [
        ("1", "ACCEPTED", "5"),
        ("2", "CHANGED", "3"),
        ("3", "REJECTED", "7"),
    ]
    assert ack["lines"][1]["item_ids"][0] == {"scheme": "GTIN", "value": "03312345501003", "qualifier": "SRV"}


def test_invoic_amounts_decimal_comma_and_party_names() -> None:
    (invoice,), diagnostics = run(_corpus("invoic_staedi_1.edi"))
    assert (invoice["total_amount"], invoice["tax_total"]) == ("901.78", "124.38")  # MOA+128, MOA+124
    assert invoice["lines"][1]["unit_price"] == "19.9"  # UNA decimal comma: PRI+AAA:19,9
    assert invoice["supplier"]["name"] == "Fahrradhandel Pedal"
    assert invoice["supplier"]["address"]["city"] == "München"
    assert "inferred_item_scheme" in {d.code for d in diagnostics}


def test_orders_release_escaped_party_name_and_gln() -> None:
    (order,), _ = run(_corpus("orders_phpedifact_1.edi"))
    assert order["buyer_org"]["name"].startswith("A+A K")  # NAD ... A?+A
    assert order["buyer_org"]["identifiers"][0] == {"scheme": "GLN", "value": "4250159300001", "qualifier": "9"}
    assert len(order["lines"]) > 100 and order["lines"][0]["item_ids_sent"][0]["scheme"] == "VENDOR_PART"


def test_pricat_one_entry_per_line() -> None:
    entries, _ = run(_corpus("pricat_bots_2.edi"))
    assert [e["item_ids"][0]["value"] for e in entries] == ["08712345678906"] * 3
    assert [e["price"] for e in entries] == ["40", "40", "30.00"]
    assert all(e["valid_from"] == "2013-01-23" for e in entries)  # line DTM+157 '30-06-2008' is not CCYYMMDD


HEALTHCARE_DESADV = f"""UNA:+.? '
UNB+UNOC:3+{gs1('541073800000')}:14+{gs1('541234500001')}:14+240301:0800+77'
UNH+1+DESADV:D:96A:UN:EAN005'
BGM+351+ASN-9001+9'
DTM+137:20240301:102'
DTM+11:20240301:102'
DTM+17:20240303:102'
RFF+ON:PO-4500012345'
NAD+SU+{gs1('541073800000')}::9'
NAD+BY+{gs1('541234500001')}::9'
NAD+DP+{gs1('541234500002')}::9++General Hospital Receiving'
CPS+1'
PAC+1++201'
MEA+PD+AAB+KGM:120.5'
PCI+33E'
GIN+BJ+{gs1('35412345000000001')}+{gs1('35412345000000002')}'
CPS+2+1'
PAC+4++CT'
LIN+1++{gs1('0541073800015')}:SRV'
PIA+1+CATH-16F:SA+LOT2024A:NB'
IMD+F++:::Foley catheter 16Fr'
QTY+12:40'
QTY+21:50'
DTM+36:20270930:102'
DTM+94:20240115:102'
RFF+ON:PO-4500012345'
RFF+LI:10'
LIN+2++{gs1('0541073800016')}:SRV'
PIA+1+SN-0001:SN+SN-0002:SN'
QTY+12:2'
RFF+LI:20'
CNT+2:2'
UNT+31+1'
UNZ+1+77'
""".encode()


def test_healthcare_desadv_lots_expiry_sscc_hierarchy() -> None:
    (asn,), diagnostics = run(HEALTHCARE_DESADV)
    assert not [d for d in diagnostics if d.is_error]
    assert asn["ship_date"] == "2024-03-01" and asn["est_delivery_date"] == "2024-03-03"
    assert asn["ship_to"]["name"] == "General Hospital Receiving"
    packs = {p["pack_id"]: p for p in asn["packs"]}
    assert packs["1"]["level"] == "TARE" and packs["1"]["weight"] == "120.5" and packs["1"]["weight_uom"] == "KGM"
    assert packs["1"]["sscc"] == gs1("35412345000000001")
    assert packs["1/1"]["sscc"] == gs1("35412345000000002")  # second SSCC of the same CPS
    assert packs["2"]["parent_pack_id"] == "1" and packs["2"]["line_refs"] == ["1", "2"]
    first, second = asn["lines"]
    assert first["item_ids"][0] == {"scheme": "GTIN", "value": gs1("0541073800015"), "qualifier": "SRV"}
    assert first["lots"] == [{"lot_number": "LOT2024A", "expiration_date": "2027-09-30",
                              "production_date": "2024-01-15"}]
    assert (first["qty_shipped"], first["qty_ordered"], first["po_line_number"]) == ("40", "50", "10")
    assert [lot["serial_number"] for lot in second["lots"]] == ["SN-0001", "SN-0002"]
    assert second["po_number"] == "PO-4500012345"  # from the header RFF+ON


def test_invrpt_stock_per_location() -> None:
    (snapshot,), diagnostics = run((FIXTURES / "invrpt_stock.edi").read_bytes())
    assert not diagnostics
    assert (snapshot["basis"], snapshot["basis_raw"], snapshot["as_of"]) == ("PHYSICAL_COUNT", "2", "2024-02-29")
    assert [(line["location_id"], line["qty_on_hand"], line["qty_type_raw"]) for line in snapshot["lines"][:2]] == [
        ("OR-CABINET-1", "12", "145"),
        ("STOCKROOM-2", "30", "145"),
    ]
    assert snapshot["lines"][2]["uom"] == "BX" and snapshot["lines"][2]["qty_type_raw"] == "17"
    assert snapshot["lines"][0]["lot_number"] == "LOT-A1" and snapshot["lines"][0]["expiration_date"] == "2026-12-31"


def test_invrpt_movements_are_refused_with_their_place() -> None:
    data = (FIXTURES / "invrpt_stock.edi").read_bytes().replace(b"INV++++2", b"INV+1+++2")
    docs, diagnostics = run(data)
    (error,) = [d for d in diagnostics if d.is_error]
    assert not docs and error.code == "unsupported_movement" and error.segment_id == "INV"


def test_bad_numbers_and_missing_quantities_are_located() -> None:
    data = HEALTHCARE_DESADV.replace(b"QTY+12:2'", b"QTY+21:2'")
    docs, diagnostics = run(data)
    (error,) = [d for d in diagnostics if d.is_error]
    assert not docs
    assert (error.code, error.segment_id, error.set_position) == ("missing_quantity", "LIN", 26)
    # A line without a despatched quantity is well-formed EDIFACT (QTY is conditional): a
    # business problem for the review queue, not a syntax error of the CONTRL.
    assert error.extra == {"interchange": "77", "message": "1", "exception_kind": "unmappable_document"}
    assert error.ack_code == "" and "not a syntax error" in error.reason


def test_identifiers_failing_their_check_are_kept_as_sent_with_the_reason() -> None:
    """domain.md C #12: a bad GTIN, SSCC or GLN is neither dropped nor relabelled; the document
    translates and each value carries why it failed, with a located warning."""
    good_gtin, good_sscc, good_gln = gs1("0541073800016"), gs1("35412345000000002"), gs1("541234500002")
    bad_gtin, bad_sscc, bad_gln = (v[:-1] + str((int(v[-1]) + 1) % 10) for v in (good_gtin, good_sscc, good_gln))
    data = (HEALTHCARE_DESADV.replace(good_gtin.encode(), bad_gtin.encode())
            .replace(good_sscc.encode(), bad_sscc.encode()).replace(good_gln.encode(), bad_gln.encode()))
    (asn,), diagnostics = run(data)
    assert asn["lines"][1]["item_ids"][0] == {
        "scheme": "GTIN", "invalid_reason": f"GTIN {bad_gtin} has check digit {bad_gtin[-1]}, expected {good_gtin[-1]}",
        "value": bad_gtin, "qualifier": "SRV"}
    (sibling,) = [p for p in asn["packs"] if p["pack_id"] == "1/1"]
    assert sibling["sscc"] == bad_sscc and sibling["sscc_invalid_reason"].startswith(f"SSCC {bad_sscc} has check digit")
    assert asn["ship_to"]["identifiers"][0]["value"] == bad_gln
    assert asn["ship_to"]["identifiers"][0]["scheme"] == "GLN" and "check digit" in \
        asn["ship_to"]["identifiers"][0]["invalid_reason"]
    warnings = {(d.segment_id, d.element_position, d.component_position, d.bad_value)
                for d in diagnostics if d.code == "invalid_identifier"}
    assert warnings == {("LIN", 3, 1, bad_gtin), ("GIN", 3, 1, bad_sscc), ("NAD", 2, 1, bad_gln)}


@pytest.mark.parametrize(
    ("text", "fmt", "expected"),
    [
        ("20240229", "102", "2024-02-29"),
        ("202402291130", "203", "2024-02-29"),
        ("240229", "101", "2024-02-29"),
        ("2024022920240301", "718", "2024-02-29"),
        ("20230229", "102", None),
        ("30-06-2008", "102", None),
        ("20240229", "999", None),
    ],
)
def test_dtm_formats(text: str, fmt: str, expected: str | None) -> None:
    assert parse_dtm(text, fmt) == expected


def test_package_level_translate_and_acknowledge() -> None:
    import edi.edifact

    (asn,) = edi.edifact.translate(HEALTHCARE_DESADV)
    assert asn["document_type"] == "ship_notice" and asn["envelope"]["interchange_control_number"] == "77"
    assert edi.edifact.acknowledge(HEALTHCARE_DESADV) == b""
    asked = HEALTHCARE_DESADV.replace(b"+240301:0800+77'", b"+240301:0800+77++++1'")
    assert b"UCI+77+" in edi.edifact.acknowledge(asked)
