"""Ship notices (ASN) and goods receipts (domain.md A.8, A.9, B.3, B.10)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from hub.canonical.base import CanonicalModel, Document, Reference
from hub.canonical.enums import AckLineStatus, PackLevel, PoPurpose, ReceiptSource
from hub.canonical.identifiers import INVALID_REASON_DESCRIPTION, normalize_gtin, validate_sscc
from hub.canonical.items import ItemIdentifier
from hub.canonical.lines import ConvertibleLine, lots_validator
from hub.canonical.parties import PartyRef
from hub.canonical.types import AwareDatetime, Code, DateOrDateTime, Dec, IsoDate, NonNegDec, Text


class DscsaTransactionStatement(CanonicalModel):
    present: bool
    text: Text | None = None
    direct_purchase: bool | None = None


class ShipNoticePack(CanonicalModel):
    pack_id: Code = Field(description="HL01 / CPS 7164")
    parent_pack_id: Code | None = None
    sscc_invalid_reason: Text | None = Field(None, description=INVALID_REASON_DESCRIPTION)
    sscc: Code | None = Field(None, description="MAN*GM / GIN+BJ, 18 digits")
    level: PackLevel = PackLevel.PACK
    weight: NonNegDec | None = None
    weight_uom: Code | None = None
    line_refs: list[Code] = Field(default_factory=list, description="line_id of the lines packed here")

    @field_validator("sscc")
    @classmethod
    def _sscc(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or info.data.get("sscc_invalid_reason") is not None:
            return value
        return validate_sscc(value)


class ShipNoticeLineLot(CanonicalModel):
    lot_number: Code | None = None
    serial_number: Code | None = None
    expiration_date: IsoDate | None = None
    production_date: IsoDate | None = None
    # A.8 marks qty Y, but an 856 with one lot per item HL states the quantity only in SN1:
    # None means "the whole line". When any lot has a qty, all must, and they must add up.
    qty: NonNegDec | None = None
    uom: Code | None = None
    gtin: Code | None = None

    @field_validator("gtin")
    @classmethod
    def _gtin(cls, value: str | None) -> str | None:
        return normalize_gtin(value) if value is not None else None

    @model_validator(mode="after")
    def _something_to_track(self) -> ShipNoticeLineLot:
        if self.lot_number is None and self.serial_number is None and self.expiration_date is None:
            raise ValueError("a lot entry needs a lot_number, serial_number or expiration_date")
        return self


class ShipNoticeLine(ConvertibleLine):
    QTY_FIELD: ClassVar[str] = "qty_shipped"

    line_id: Code | None = Field(None, description="Item HL01 / LIN 1082")
    po_number: Code = Field(description="PRF01 / RFF+ON")
    # A.8 marks it Y, but real 856s leave SN101 empty (bots, oopfactory samples): None = not sent.
    po_line_number: Code | None = None
    item_ids: list[ItemIdentifier] = Field(min_length=1)
    item_id: Code | None = None
    description: Text | None = None
    qty_shipped: NonNegDec
    uom: Code | None = Field(None, description="SN103; None = units of the GTIN (EANCOM QTY+12)")
    uom_canonical: Code | None = None
    base_qty: Dec | None = None
    base_uom: Code | None = None
    qty_ordered: NonNegDec | None = None
    uom_ordered: Code | None = None
    line_status: AckLineStatus | None = None
    line_status_raw: Code | None = Field(None, description="SN108 as sent")
    pack_id: Code | None = None
    refs: list[Reference] = Field(default_factory=list)
    lots: list[ShipNoticeLineLot] = Field(default_factory=list)

    _check_lots = lots_validator("qty_shipped")


class ShipNotice(Document):
    """An advance ship notice (X12 856 / EDIFACT DESADV), A.8."""

    document_type: Literal["ship_notice"] = "ship_notice"
    asn_number: Code
    purpose: PoPurpose | None = None
    purpose_raw: Code | None = None
    created_at: DateOrDateTime | None = Field(None, description="BSN03/04 / DTM+137")
    supplier_partner_id: Code
    ship_date: DateOrDateTime = Field(description="DTM*011 / DTM+11: a date, or an aware datetime when a time is sent")
    est_delivery_date: DateOrDateTime | None = None
    # 856s often name only the ship-to (N1*ST) and a shipper (N1*SH) instead of N1*SF.
    ship_from: PartyRef | None = None
    ship_to: PartyRef
    seller: PartyRef | None = Field(None, description="Required for Rx (DSCSA ownership)")
    buyer: PartyRef | None = None
    carrier_scac: Code | None = None
    carrier_name: Text | None = None
    tracking_numbers: list[Code] = Field(default_factory=list)
    bol: Code | None = None
    package_count: int | None = Field(None, ge=0)
    gross_weight: NonNegDec | None = None
    weight_uom: Code | None = None
    hierarchy_code: Code | None = None
    dscsa_transaction_statement: DscsaTransactionStatement | None = None
    refs: list[Reference] = Field(default_factory=list)
    packs: list[ShipNoticePack] = Field(default_factory=list)
    lines: list[ShipNoticeLine] = Field(min_length=1)


class LotAllocation(CanonicalModel):
    lot_serial_id: Code | None = None
    lot_number: Code | None = None
    serial_number: Code | None = None
    expiration_date: IsoDate | None = None
    qty_base: NonNegDec

    @model_validator(mode="after")
    def _identifies_a_lot(self) -> LotAllocation:
        if self.lot_serial_id is None and self.lot_number is None and self.serial_number is None:
            raise ValueError("a lot allocation needs lot_serial_id, lot_number or serial_number")
        return self


class ReceiptLine(ConvertibleLine):
    QTY_FIELD: ClassVar[str] = "qty_received"

    line_number: Code | None = None
    po_number: Code | None = None
    po_line_number: Code | None = Field(None, description="None only for unplanned receipts")
    # A.9 requires item_id; a partner's receiving advice (EDIFACT RECADV) names items by code
    # only: it sends item_ids and the crosswalk step fills item_id.
    item_id: Code | None = None
    item_ids: list[ItemIdentifier] = Field(default_factory=list)
    qty_received: NonNegDec
    uom: Code | None = Field(None, description="None = units of the GTIN (EANCOM QTY+48 without 6411)")
    uom_canonical: Code | None = None
    base_qty: Dec | None = None
    base_uom: Code | None = None
    qty_accepted: NonNegDec | None = None
    qty_rejected: NonNegDec | None = None
    reject_reason: Code | None = Field(None, description="RECADV QVR reason (AF damaged, PE durability ...)")
    location_id: Code
    bin: Code | None = None
    lot_allocations: list[LotAllocation] = Field(default_factory=list)
    condition: Text | None = None

    @model_validator(mode="after")
    def _names_an_item(self) -> ReceiptLine:
        if self.item_id is None and not self.item_ids:
            raise ValueError("give item_id or at least one entry in item_ids")
        return self


class ErpPosting(CanonicalModel):
    system: Code
    doc_id: Code | None = None
    status: Code
    error: Text | None = None


class GoodsReceipt(Document):
    """Goods received at a location, for ERP posting and matching (A.9)."""

    document_type: Literal["goods_receipt"] = "goods_receipt"
    receipt_id: Code
    receipt_datetime: AwareDatetime
    receiving_location_id: Code
    supplier_partner_id: Code
    asn_number: Code | None = None
    source: ReceiptSource
    lines: list[ReceiptLine] = Field(min_length=1)
    erp_posting: ErpPosting | None = None
