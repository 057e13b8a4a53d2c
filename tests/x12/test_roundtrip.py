"""Write → read → the same canonical documents, for 850 / 855 / 856 / 810: healthcare-shaped
documents built here, and every such document the corpus translates to."""

from __future__ import annotations

from typing import Any

import pytest

from edi.common.diagnostics import Diagnostic
from edi.x12.engine import translate
from edi.x12.profile import X12Profile
from edi.x12.writer import PreviewNumbers, WriteError, write_documents
from hub.canonical import Invoice, PurchaseOrder, PurchaseOrderAck, ShipNotice
from tests.conftest import corpus_files

HOSPITAL = X12Profile(sender_id="HOSPITAL", receiver_id="ACME")
SUPPLIER = X12Profile(sender_id="ACME", receiver_id="HOSPITAL", sender_qualifier="01")


def read_back(data: bytes) -> tuple[list[dict[str, Any]], list[Diagnostic]]:
    items = list(translate(data))
    docs = [d for d in items if not isinstance(d, Diagnostic)]
    for doc in docs:
        doc.pop("envelope")
    return docs, [d for d in items if isinstance(d, Diagnostic)]


def roundtrip(docs: list[dict[str, Any]], profile: X12Profile) -> list[dict[str, Any]]:
    written = write_documents(docs, profile, PreviewNumbers())
    back, diagnostics = read_back(written.data)
    assert not [d for d in diagnostics if d.is_error], [str(d) for d in diagnostics]
    return back


PO = PurchaseOrder.model_validate({
    "po_number": "4500012345", "po_type": "STANDARD", "po_type_raw": "SA", "purpose": "ORIGINAL", "purpose_raw": "00",
    "order_date": "2025-03-10", "currency": "USD", "contract_ref": "GPO-77",
    "buyer_org": {"role": "BY", "name": "General Hospital", "identifiers": [
        {"scheme": "GLN", "value": "0614141000012", "qualifier": "UL"}]},
    "ship_to": {"role": "ST", "name": "Central Receiving", "identifiers": [
        {"scheme": "ACCOUNT_AT_PARTNER", "value": "778812", "qualifier": "92"}],
        "address": {"lines": ["100 Main St", "Dock 4"], "city": "Springfield", "region": "IL", "postal_code": "62701",
                    "country": "US"}},
    "supplier_partner_id": "ACME",
    "supplier": {"role": "SU", "name": "Acme Medical", "identifiers": [
        {"scheme": "ACCOUNT_AT_PARTNER", "value": "ACME", "qualifier": "92"}]},
    "requested_delivery_date": "2025-03-14", "notes": ["Deliver to dock 4"],
    "refs": [{"qualifier": "DP", "value": "OR-2"}],
    "lines": [
        {"line_number": "1", "qty": "2", "uom": "BX", "unit_price": "45.10", "price_basis": "PE",
         "description": "Suture kit", "item_ids_sent": [
             {"scheme": "VENDOR_PART", "value": "12345", "qualifier": "VP"},
             {"scheme": "BUYER_ITEM", "value": "778899", "qualifier": "BP"},
             {"scheme": "GTIN", "value": "00612345678907", "qualifier": "UK"}]},
        {"line_number": "2", "qty": "10", "uom": "EA", "unit_price": "1.25", "item_ids_sent": [
            {"scheme": "NDC11", "value": "00409488801", "qualifier": "N4"},
            {"scheme": "HIBC", "value": "+A123BJC5D6E71G", "qualifier": "HI"}]},
    ],
})

ACK = PurchaseOrderAck.model_validate({
    "po_number": "4500012345", "po_date": "2025-03-10", "purpose": "ORIGINAL", "purpose_raw": "00",
    "ack_type": "ACCEPTED_WITH_CHANGES", "ack_type_raw": "AC", "supplier_partner_id": "ACME",
    "supplier_order_number": "SO-991", "ack_date": "2025-03-11", "lines": [
        {"po_line_number": "1", "status": "ACCEPTED", "status_raw": "IA", "qty": "1", "uom": "BX",
         "ordered_qty": "2", "ordered_uom": "BX", "unit_price": "45.10",
         "item_ids": [{"scheme": "VENDOR_PART", "value": "12345", "qualifier": "VP"}],
         "date_qualifier_raw": "068", "promised_ship_date": "2025-03-12"},
        {"po_line_number": "1", "status": "BACKORDERED", "status_raw": "IB", "qty": "1", "uom": "BX",
         "ordered_qty": "2", "ordered_uom": "BX", "unit_price": "45.10",
         "item_ids": [{"scheme": "VENDOR_PART", "value": "12345", "qualifier": "VP"}],
         "date_qualifier_raw": "067", "promised_delivery_date": "2025-04-01"},
        {"po_line_number": "2", "status": "SUBSTITUTED", "status_raw": "IS", "qty": "10", "uom": "EA",
         "ordered_qty": "10", "ordered_uom": "EA",
         "item_ids": [{"scheme": "NDC11", "value": "00409488801", "qualifier": "N4"}],
         "substitute_item_ids": [{"scheme": "NDC11", "value": "00409488802", "qualifier": "N4"}]},
    ]})

ASN = ShipNotice.model_validate({
    "asn_number": "ASN778812", "purpose": "ORIGINAL", "purpose_raw": "00", "created_at": "2025-03-12",
    "supplier_partner_id": "ACME", "ship_date": "2025-03-12", "est_delivery_date": "2025-03-14",
    "ship_to": {"role": "ST", "name": "Central Receiving", "identifiers": [
        {"scheme": "GLN", "value": "0614141000036", "qualifier": "UL"}]},
    "ship_from": {"role": "SF", "name": "Acme DC", "identifiers": [
        {"scheme": "GLN", "value": "0614141000029", "qualifier": "UL"}]},
    "carrier_scac": "UPSN", "tracking_numbers": ["1Z999AA10123456784"], "bol": "BOL-5531", "package_count": 2,
    "gross_weight": "4.2", "weight_uom": "LB", "hierarchy_code": "0001",
    "dscsa_transaction_statement": {"present": True, "text": "Seller has complied with 581(27)(A)-(G)"},
    "packs": [{"pack_id": "10", "sscc": "000614141234567895", "level": "PACK", "line_refs": ["11", "12"]}],
    "lines": [
        {"line_id": "11", "po_number": "4500012345", "po_line_number": "1", "qty_shipped": "2", "uom": "BX",
         "qty_ordered": "2", "uom_ordered": "BX", "line_status": "ACCEPTED", "line_status_raw": "IA", "pack_id": "10",
         "item_ids": [{"scheme": "GTIN", "value": "10612345678904", "qualifier": "UK"}],
         "lots": [{"lot_number": "A1234", "expiration_date": "2027-09-30"}]},
        {"line_id": "12", "po_number": "4500012345", "po_line_number": "2", "qty_shipped": "3", "uom": "EA",
         "pack_id": "10", "item_ids": [{"scheme": "VENDOR_PART", "value": "IMPLANT-9", "qualifier": "VP"}],
         "lots": [{"lot_number": "L77", "serial_number": "SN001", "expiration_date": "2030-01-31"},
                  {"lot_number": "L77", "serial_number": "SN002", "expiration_date": "2030-01-31"},
                  {"lot_number": "L77", "serial_number": "SN003", "expiration_date": "2030-01-31"}]},
    ]})

INVOICE = Invoice.model_validate({
    "invoice_number": "INV-2025-0042", "supplier_partner_id": "ACME", "invoice_type": "CREDIT_MEMO",
    "invoice_type_raw": "CR", "invoice_date": "2025-03-15", "po_number": "4500012345", "po_date": "2025-03-10",
    "original_invoice_ref": "INV-2025-0007", "currency": "USD",
    "remit_to": {"role": "RE", "name": "Acme Lockbox", "identifiers": [
        {"scheme": "DUNS", "value": "123456789", "qualifier": "1"}]},
    "terms": {"discount_pct": "2", "discount_days": 10, "net_days": 30},
    "ship_date": "2025-03-12", "total_amount": "123.45", "tax_total": "3.10",
    "charges": [{"type": "FREIGHT", "type_raw": "D240", "allowance_or_charge": "CHARGE", "amount": "12.50"}],
    "refs": [{"qualifier": "OI", "value": "INV-2025-0007"}],
    "lines": [{"line_number": "1", "po_line_number": "1", "qty_invoiced": "2", "uom": "BX", "unit_price": "45.10",
               "price_basis": "PE", "description": "Suture kit", "lot_numbers": ["A1234"],
               "item_ids": [{"scheme": "GTIN", "value": "00612345678907", "qualifier": "UK"}],
               "charges": [{"type": "DISCOUNT", "type_raw": "C310", "allowance_or_charge": "ALLOWANCE",
                            "amount": "1.00"}]}]})


@pytest.mark.parametrize(("document", "profile"), [(PO, HOSPITAL), (ACK, SUPPLIER), (ASN, SUPPLIER),
                                                   (INVOICE, SUPPLIER)],
                         ids=["850", "855", "856", "810"])
def test_healthcare_documents_round_trip(document: Any, profile: X12Profile) -> None:
    original = document.model_dump(mode="json", exclude_none=True)
    assert roundtrip([original], profile) == [original]


def test_n2_totals_and_sac_amounts_are_written_with_implied_decimals() -> None:
    text = write_documents([INVOICE], SUPPLIER, PreviewNumbers()).data.decode()
    assert "TDS*12345~" in text and "SAC*C*D240***1250~" in text


def test_partner_delimiters_and_5010_envelope() -> None:
    profile = X12Profile(sender_id="ACME", receiver_id="HOSPITAL", version="005010", element_separator="|",
                         component_separator=":", repetition_separator="!", segment_terminator="\\", line_break=False)
    written = write_documents([ASN], profile, PreviewNumbers())
    text = written.data.decode()
    assert text.startswith("ISA|00|") and text[104:106] == ":\\" and "|!|00501|" in text[:106]
    assert "\n" not in text and "|005010\\" in text
    back, _ = read_back(written.data)
    assert back == [ASN.model_dump(mode="json", exclude_none=True)]


def test_a_value_holding_a_delimiter_is_refused_not_corrupted() -> None:
    bad = PO.model_copy(update={"notes": ["deliver ~ dock 4"]})
    with pytest.raises(WriteError, match=r"850 segment 6 \(N9\), element 3: value 'deliver ~ dock 4' contains the delimiter '~'"):
        write_documents([bad], HOSPITAL, PreviewNumbers())


WRITABLE = {"purchase_order", "purchase_order_ack", "ship_notice", "invoice"}
# Corpus files holding 850/855/856/810 sets that translate (see test_corpus for the others).
ROUND_TRIP_FILES = [p for p in corpus_files("x12")
                    if p.name.split("_")[0] in ("810", "810-850", "850", "855", "856", "mixed")
                    and p.name not in ("850_bots_lfterm_1.x12", "856_edieng_lfterm_6.edi")]


@pytest.mark.corpus
@pytest.mark.parametrize("path", ROUND_TRIP_FILES, ids=lambda p: p.name)
def test_corpus_documents_round_trip(path) -> None:
    items = [d for d in translate(path.read_bytes()) if not isinstance(d, Diagnostic)]
    docs = [d for d in items if d["document_type"] in WRITABLE]
    assert docs, f"{path.name} translated to no 850/855/856/810 document"
    for doc in docs:
        envelope = doc.pop("envelope")
        profile = X12Profile(sender_qualifier=envelope["sender_qualifier"] or "ZZ", sender_id=envelope["sender_id"],
                             receiver_qualifier=envelope["receiver_qualifier"] or "ZZ",
                             receiver_id=envelope["receiver_id"])
        assert roundtrip([doc], profile) == [doc]
