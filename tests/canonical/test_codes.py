"""Code tables turning partner codes into canonical enums."""

from __future__ import annotations

import pytest

from hub.canonical.codes import (
    CODE_TABLES,
    AckDateField,
    UnknownCode,
    ack_date_field_from_x12,
    ack_line_status_from_edifact,
    ack_line_status_from_x12,
    ack_reason_from_x12,
    ack_type_from_edifact,
    ack_type_from_x12,
    invoice_type_from_edifact,
    invoice_type_from_x12,
    item_scheme_from_edifact,
    item_scheme_from_x12,
    party_scheme_from_x12,
    po_purpose_from_edifact,
    po_purpose_from_x12,
)
from hub.canonical.enums import (
    AckLineStatus,
    AckType,
    InvoiceType,
    ItemIdScheme,
    PartyIdScheme,
    PoPurpose,
)
from hub.canonical.uom import uom_from_edifact, uom_from_x12


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("IA", AckLineStatus.ACCEPTED),
        ("IB", AckLineStatus.BACKORDERED),
        ("BP", AckLineStatus.PARTIAL_BACKORDER),
        ("IC", AckLineStatus.CHANGED),
        ("IP", AckLineStatus.PRICE_CHANGED),
        ("IQ", AckLineStatus.QTY_CHANGED),
        ("IS", AckLineStatus.SUBSTITUTED),
        ("DR", AckLineStatus.RESCHEDULED),
        ("IH", AckLineStatus.ON_HOLD),
        ("ID", AckLineStatus.DELETED),
        ("IR", AckLineStatus.REJECTED),
        ("R3", AckLineStatus.REJECTED),
        (" ib ", AckLineStatus.BACKORDERED),
    ],
)
def test_ack01(code: str, status: AckLineStatus) -> None:
    assert ack_line_status_from_x12(code) is status


def test_ack_reason() -> None:
    assert ack_reason_from_x12("R2") == "R2"
    assert ack_reason_from_x12("IR") is None
    assert ack_reason_from_x12("R9") is None


def test_edifact_line_status_and_ack_type() -> None:
    assert ack_line_status_from_edifact("5") is AckLineStatus.ACCEPTED
    assert ack_line_status_from_edifact("7") is AckLineStatus.REJECTED
    assert ack_line_status_from_edifact("10") is AckLineStatus.NOT_FOUND
    assert ack_type_from_edifact("29") is AckType.ACCEPTED
    assert ack_type_from_edifact("27") is AckType.REJECTED
    assert ack_type_from_edifact("12") is AckType.NOT_PROCESSED


@pytest.mark.parametrize(
    ("code", "ack"),
    [("AC", AckType.ACCEPTED_WITH_CHANGES), ("AD", AckType.ACCEPTED), ("AK", AckType.ACCEPTED), ("AT", AckType.ACCEPTED),
     ("RD", AckType.REJECTED), ("RJ", AckType.REJECTED), ("RF", AckType.REJECTED), ("RO", AckType.REJECTED), ("AH", AckType.HOLD)],
)
def test_bak02(code: str, ack: AckType) -> None:
    assert ack_type_from_x12(code) is ack


def test_purpose_and_invoice_type() -> None:
    assert po_purpose_from_x12("00") is PoPurpose.ORIGINAL
    assert po_purpose_from_x12("05") is PoPurpose.REPLACE
    assert po_purpose_from_x12("01") is PoPurpose.CANCEL
    assert po_purpose_from_edifact("9") is PoPurpose.ORIGINAL
    assert po_purpose_from_edifact("1") is PoPurpose.CANCEL
    assert invoice_type_from_x12(None) is InvoiceType.INVOICE
    assert invoice_type_from_x12("CR") is InvoiceType.CREDIT_MEMO
    assert invoice_type_from_edifact("381") is InvoiceType.CREDIT_MEMO
    assert invoice_type_from_edifact("383") is InvoiceType.DEBIT_MEMO


def test_identifier_schemes() -> None:
    assert item_scheme_from_x12("UK") is ItemIdScheme.GTIN
    assert item_scheme_from_x12("VP") is ItemIdScheme.VENDOR_PART
    assert item_scheme_from_x12("N4") is ItemIdScheme.NDC11
    assert item_scheme_from_x12("HI") is ItemIdScheme.HIBC
    assert item_scheme_from_edifact("SRV") is ItemIdScheme.GTIN
    assert item_scheme_from_edifact("AC") is ItemIdScheme.HIBC
    assert party_scheme_from_x12("UL") is PartyIdScheme.GLN
    assert party_scheme_from_x12("92") is PartyIdScheme.ACCOUNT_AT_PARTNER
    assert ack_date_field_from_x12("068") is AckDateField.PROMISED_SHIP
    assert ack_date_field_from_x12("017") is AckDateField.PROMISED_DELIVERY


def test_unknown_code_names_table_element_and_known_codes() -> None:
    with pytest.raises(UnknownCode) as caught:
        ack_line_status_from_x12("ZZ")
    message = str(caught.value)
    assert "'ZZ'" in message and "ACK01" in message and "IA" in message
    assert isinstance(caught.value, ValueError)
    assert ack_line_status_from_x12.get("ZZ") is None


def test_partner_overrides_win() -> None:
    assert ack_line_status_from_x12("ZZ", overrides={"ZZ": AckLineStatus.ON_HOLD}) is AckLineStatus.ON_HOLD
    assert invoice_type_from_x12("CR", overrides={"CR": InvoiceType.DEBIT_MEMO}) is InvoiceType.DEBIT_MEMO


def test_uom_tables_leave_cs_to_partner_crosswalks() -> None:
    assert uom_from_x12("CA") == "CA"
    assert uom_from_x12("GM") == "GR"
    assert uom_from_edifact("XBX") == "BX"
    assert uom_from_edifact("H87") == "EA"
    with pytest.raises(UnknownCode, match="CS"):
        uom_from_x12("CS")


def test_every_table_is_registered_and_nonempty() -> None:
    assert len(CODE_TABLES) >= 15
    assert all(table.codes for table in CODE_TABLES.values())
