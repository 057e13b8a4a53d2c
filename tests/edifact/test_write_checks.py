"""EDIFACT written as partners accept it: the write-time checks (structure, lengths, types,
codes, each error at its place, per directory) and what the writers map instead of dropping:
UNCL 7161 charge codes, payment terms, backordered quantities, line amounts and orders,
remit-to, further party identifiers; EANCOM's order line in RFF+ON read back."""

from __future__ import annotations

import json

import pytest

from edi.edifact.profile import EdifactProfile
from edi.edifact.writer import (
    OutMessage,
    PreviewNumbers,
    WriteError,
    check_message,
    seg,
    write_documents,
)
from tests.edifact.test_mapping import HEALTHCARE_DESADV
from tests.edifact.test_writer import EXAMPLES, NOW, documents, strip_envelope

PROFILE = EdifactProfile(sender_id="SUPPLIER", receiver_id="HOSPITAL")


def example(name: str) -> dict:
    return json.loads((EXAMPLES / f"{name}.json").read_text())


def write(doc: dict, profile: EdifactProfile = PROFILE):
    return write_documents([doc], profile, PreviewNumbers(), now=NOW)


# -- the checks -------------------------------------------------------------------------------

def test_a_value_copied_from_an_inbound_file_that_its_element_cannot_hold_is_refused() -> None:
    (asn,) = strip_envelope(documents(HEALTHCARE_DESADV))
    asn.pop("purpose", None)
    asn["purpose_raw"] = "700101"
    with pytest.raises(WriteError, match=r"DESADV message of document 1 \(ship_notice [^)]+\): segment 2 \(BGM\), "
                                         r"element 3 \[purpose_raw\]: '700101' has 6 characters; 1 to 3 allowed"):
        write(asn)


def test_line_numbers_are_numeric_in_d96a_and_free_in_d01b() -> None:
    message = OutMessage("ORDRSP", [seg("BGM", "231", "A1", "29"), seg("DTM", ["137", "20250101", "102"]),
                                    seg("LIN", "item-1"), seg("UNS", "S")])
    with pytest.raises(WriteError, match=r"ORDRSP message: segment 4 \(LIN\), element 1 .*'item-1' is not of type n"):
        check_message(message, PROFILE)
    check_message(message, PROFILE.model_copy(update={"directory": "D01B"}))


@pytest.mark.parametrize(("body", "message"), [
    ([seg("BGM", "231", "A1", "29"), seg("LIN", "1"), seg("UNS", "S")],
     r"mandatory segment DTM is missing before segment 3 \(LIN\)"),
    ([seg("BGM", "231", "A1", "29"), seg("DTM", ["137", "20250101", "102"]), seg("UNS", "S"), seg("LIN", "1")],
     r"segment 5 \(LIN\): LIN is not allowed here \(after UNS\)"),
    ([seg("BGM", "231", "A1", "29"), seg("DTM", ["137", "20250101", "102"]), seg("QTY", ["21", "1x"]),
      seg("UNS", "S")], r"segment 4 \(QTY\): QTY is not allowed here"),
    ([seg("BGM", "231", "A1", "29"), seg("DTM", ["137", "20250101", "999"]), seg("UNS", "S")],
     r"segment 3 \(DTM\), element 1, component 3: '999' is not a code of list 2379"),
    ([seg("BGM", "231", "A1", "29"), seg("DTM", ["137", "20250101", "102"]), seg("LIN", "1"),
      seg("QTY", ["21", "1x"]), seg("UNS", "S")], r"segment 5 \(QTY\), element 1, component 2 .*'1x' is not of type n"),
])
def test_each_defect_is_refused_at_its_place(body: list, message: str) -> None:
    with pytest.raises(WriteError, match=message):
        check_message(OutMessage("ORDRSP", body), PROFILE)


def test_decimal_comma_numbers_pass_the_numeric_check() -> None:
    body = [seg("BGM", "231", "A1", "29"), seg("DTM", ["137", "20250101", "102"]), seg("LIN", "1"),
            seg("QTY", ["21", "1,5"]), seg("UNS", "S")]
    check_message(OutMessage("ORDRSP", body), PROFILE.model_copy(update={"decimal": ","}))
    with pytest.raises(WriteError, match="'1,5' is not of type n"):
        check_message(OutMessage("ORDRSP", body), PROFILE)


# -- what the writers map -------------------------------------------------------------------------

def test_charge_codes_are_edifact_ones_and_read_back_as_their_type() -> None:
    written = write(example("invoice"))  # FREIGHT with the X12 code D240
    assert b"ALC+C++++FC'" in written.data and b"D240" not in written.data
    (back,) = documents(written.data)
    assert [(c["type"], c["type_raw"]) for c in back["charges"]] == [("FREIGHT", "FC")]


def test_a_charge_with_no_uncl_7161_code_goes_without_one_and_says_so() -> None:
    invoice = example("invoice")
    invoice["charges"][0].update(type="OTHER", type_raw="G970")
    written = write(invoice)
    assert b"ALC+C'" in written.data
    assert any("charges.0.type_raw: G970 has no UNCL 7161 code" in w for w in written.warnings)


def test_invoice_terms_line_amounts_orders_and_remit_to_travel() -> None:
    written = write(example("invoice"))
    text = written.data.decode()
    assert "PAT+1++5:3:D:30'" in text and "PAT+22++5:3:D:10'" in text and "PCD+12:2'" in text
    assert "MOA+203:90.20'" in text and "RFF+ON:4500012345'" in text and "NAD+PE+++Acme Medical Lockbox+PO Box 9911+Chicago" in text
    (back,) = documents(written.data)
    assert back["terms"]["net_days"] == 30 and back["lines"][0]["line_amount"] == "90.20"
    assert back["remit_to"]["address"]["city"] == "Chicago"


def test_backordered_quantity_travels_in_qty_83() -> None:
    ack = example("purchase_order_ack")
    ack["lines"][0]["qty_backordered"] = "4"
    written = write(ack)
    assert b"QTY+83:4'" in written.data
    (back,) = documents(written.data)
    assert back["lines"][0]["qty_backordered"] == "4"


def test_further_party_identifiers_travel_as_rff_api() -> None:
    written = write(example("ship_notice"))
    (back,) = documents(written.data)
    assert {i["value"] for i in back["ship_to"]["identifiers"]} == {"778812", "0614141000036"}


def test_lines_without_a_pack_sit_in_a_cps_group() -> None:
    asn = example("ship_notice")
    asn["packs"], asn["lines"][0]["pack_id"] = [], None
    written = write(asn)
    text = written.data.decode()
    assert text.index("CPS+1'") < text.index("LIN+")
    assert any("sent under the packing level CPS 1" in w for w in written.warnings)


def test_what_a_message_cannot_carry_is_a_warning_naming_the_field() -> None:
    order = example("purchase_order")
    order["release_number"] = "R-7"
    written = write(order)
    assert any(w.startswith("document 1 (purchase_order ") and "release_number: EDIFACT ORDERS has no place for it"
               in w for w in written.warnings)


@pytest.mark.parametrize(("message", "line"), [
    ("DESADV", "LIN+1++4012345000009:SRV'QTY+12:2'RFF+ON:PO77:3'"),
    ("INVOIC", "LIN+1++4012345000009:SRV'QTY+47:2'MOA+203:10'PRI+AAA:5'RFF+ON:PO77:3'"),
])
def test_eancom_order_line_in_rff_on_is_read(message: str, line: str) -> None:
    head = {"DESADV": "BGM+351+ASN1+9'DTM+11:20240101:102'NAD+SU+5412345000013::9'NAD+DP+5412345000020::9'CPS+1'",
            "INVOIC": "BGM+380+INV1+9'DTM+137:20240101:102'NAD+SU+5412345000013::9'CUX+2:EUR:4'"}[message]
    tail = {"DESADV": "", "INVOIC": "UNS+S'MOA+77:10'"}[message]
    body = head + line + tail
    count = body.count("'") + 2
    data = (f"UNA:+.? 'UNB+UNOC:3+S+R+240101:1200+1'UNH+1+{message}:D:96A:UN'{body}UNT+{count}+1'UNZ+1+1'")
    (doc,) = documents(data.encode())
    assert [(ln["po_number"], ln["po_line_number"]) for ln in doc["lines"]] == [("PO77", "3")]
