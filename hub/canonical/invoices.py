"""Invoices, credit and debit memos (domain.md A.10, B.4, B.11)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from hub.canonical.base import CanonicalModel, Document, Reference
from hub.canonical.enums import AllowanceOrCharge, ChargeType, InvoiceType, MatchStatus
from hub.canonical.items import ItemIdentifier
from hub.canonical.lines import ConvertibleLine
from hub.canonical.parties import PartyRef
from hub.canonical.types import Code, Currency, Dec, IsoDate, Text


class InvoiceCharge(CanonicalModel):
    """A header or line allowance/charge (SAC, ALC+MOA). X12 SAC05 is N2: mappers divide by 100."""

    type: ChargeType
    type_raw: Code | None = Field(None, description="SAC02 / ALC 7161 as sent")
    allowance_or_charge: AllowanceOrCharge
    amount: Dec
    percent: Dec | None = None
    description: Text | None = None


class PaymentTerms(CanonicalModel):
    discount_pct: Dec | None = None
    discount_days: int | None = Field(None, ge=0)
    net_days: int | None = Field(None, ge=0)
    description: Text | None = None


class InvoiceLine(ConvertibleLine):
    QTY_FIELD: ClassVar[str] = "qty_invoiced"

    # A.10 marks it Y, but real 810s leave IT101 empty (oopfactory samples): the position in
    # ``lines`` then identifies the line.
    line_number: Code | None = None
    po_number: Code | None = None
    po_line_number: Code | None = None
    item_ids: list[ItemIdentifier] = Field(min_length=1)
    item_id: Code | None = None
    description: Text | None = None
    qty_invoiced: Dec
    uom: Code | None = Field(None, description="IT103; None = units of the GTIN (EANCOM QTY+47)")
    uom_canonical: Code | None = None
    base_qty: Dec | None = None
    base_uom: Code | None = None
    unit_price: Dec
    price_uom: Code | None = None
    price_basis: Code | None = None
    # X12 IT1 has no extended amount; the hub does not invent one (a computed amount would hide
    # the totals check of section C #37). INVOIC sends it in MOA+203.
    line_amount: Dec | None = None
    lot_numbers: list[Code] = Field(default_factory=list)
    serial_numbers: list[Code] = Field(default_factory=list)
    case_ref: Code | None = None
    tax: Dec | None = None
    charges: list[InvoiceCharge] = Field(default_factory=list)
    refs: list[Reference] = Field(default_factory=list)


class Invoice(Document):
    """An invoice, credit or debit memo (X12 810 / EDIFACT INVOIC), A.10."""

    document_type: Literal["invoice"] = "invoice"
    invoice_number: Code
    supplier_partner_id: Code
    invoice_type: InvoiceType
    invoice_type_raw: Code | None = Field(None, description="BIG07 / BGM 1001 as sent")
    invoice_date: IsoDate
    po_number: Code | None = None
    po_date: IsoDate | None = None
    # Required for credit memos, yet enforced as a review exception (section C #39), not here.
    original_invoice_ref: Code | None = None
    currency: Currency = Field(description="CUR / CUX; the partner default when absent")
    supplier: PartyRef | None = None
    remit_to: PartyRef | None = None
    bill_to: PartyRef | None = None
    ship_to: PartyRef | None = None
    terms: PaymentTerms | None = None
    ship_date: IsoDate | None = None
    total_amount: Dec = Field(description="TDS01 ÷ 100 (N2) / MOA+77")
    tax_total: Dec | None = None
    charges: list[InvoiceCharge] = Field(default_factory=list)
    refs: list[Reference] = Field(default_factory=list)
    lines: list[InvoiceLine] = Field(min_length=1)
    match_status: MatchStatus = MatchStatus.UNMATCHED
