"""transforms/receiving.py: the receiving clerk's dock scans → one goods receipt. GS1 barcodes in
both forms a handheld exports (bracketed, raw with FNC1), lots and serials as allocations, every
bad barcode named by its line."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from hub.canonical import GoodsReceipt
from hub.exchange import Exchange
from hub.registry import StepError
from transforms.receiving import parse_gs1, read_scan, scans_to_goods_receipt


def test_both_barcode_forms_read_alike() -> None:
    bracketed = read_scan("(01)10614141004413(17)270600(10)LOT-A1(21)SN-9")
    raw = read_scan("]C1011061414100441317270600" + "10LOT-A1\x1d21SN-9")
    assert bracketed == raw
    assert (raw.gtin, raw.lot, raw.serial, raw.expiry) == ("10614141004413", "LOT-A1", "SN-9", "2027-06-30")  # day 00
    assert parse_gs1("(00)006141410000047116(01)10614141004413") == {"00": "006141410000047116", "01": "10614141004413"}


@pytest.mark.parametrize(("barcode", "reason"), [
    ("(01)1061414100441", "character 1: (01) needs 14 digits, got '1061414100441'"),
    ("(01)10614141004414", "check digit"),
    ("(10)LOT-ONLY", "no GTIN (01) in the barcode"),
    ("01106141410044139912", "character 17: application identifier '99' is not one a receiving scan carries"),
    ("(01)10614141004413(10)" + "L" * 21, "(10) holds 1 to 20 characters, got 21"),
])
def test_a_bad_barcode_says_what_and_where(barcode: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        read_scan(barcode)


def row(line: int, barcode: str, qty: str, uom: str = "BX", po: str = "4500090001") -> dict:
    return {"_line": line, "scanned_at": datetime(2026, 3, 4, 8, 15 + line), "location": "CENTRAL-DOCK",
            "po_number": po, "asn_number": "ASN-4500090001", "supplier": "P-0310", "barcode": barcode,
            "qty": Decimal(qty), "uom": uom}


def exchange(rows: list[dict]) -> Exchange:
    return Exchange(message_id="0193aa00-0000-7000-8000-000000000001", body=rows, format="csv", doctype="dock_scan",
                    sender="receiving-dock", filename="dock-1.csv")


def test_scans_of_one_item_become_one_line_with_a_lot_allocation_each() -> None:
    rows = [row(2, "(01)10614141004413(17)270630(10)A1", "2"), row(3, "(01)10614141004413(17)270630(10)A1", "1"),
            row(4, "(01)10614141004413(17)280131(10)B7", "1"), row(5, "(01)10614141004529(10)C3", "6")]
    receipt = GoodsReceipt.model_validate(scans_to_goods_receipt(rows, exchange(rows)))
    assert receipt.receipt_id == "GR-ASN-4500090001-0193aa00" and receipt.source.value == "DOCK_SCAN"
    assert str(receipt.receipt_datetime) == "2026-03-04 08:20:00+00:00"  # the last scan; a scanner without zone: UTC
    first, second = receipt.lines
    assert (first.qty_received, first.uom, first.item_ids[0].value) == (Decimal(4), "BX", "10614141004413")
    assert [(a.lot_number, str(a.expiration_date), a.qty_base) for a in first.lot_allocations] == [
        ("A1", "2027-06-30", Decimal(3)), ("B7", "2028-01-31", Decimal(1))]
    assert (second.po_number, second.qty_received, second.lot_allocations[0].expiration_date) == (
        "4500090001", Decimal(6), None)


def test_every_bad_barcode_of_the_file_is_named_by_its_line() -> None:
    rows = [row(2, "(01)10614141004413(10)A1", "2"), row(3, "(01)123", "1"), row(4, "garbage", "1")]
    with pytest.raises(StepError) as caught:
        scans_to_goods_receipt(rows, exchange(rows))
    assert "line 3, column 'Barcode': character 1: (01) needs 14 digits" in str(caught.value)
    assert "line 4, column 'Barcode'" in str(caught.value) and caught.value.code == "bad_scan"
    with pytest.raises(StepError, match="expected the rows of a parsed scan file"):
        scans_to_goods_receipt([], exchange([]))
