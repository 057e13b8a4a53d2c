"""Inventory adjustments, snapshots and usage events (domain.md A.11-A.13, B.5, B.13).

InventoryAdjustment also carries the backbone's first flow: a legacy CSV of cycle counts
(facility, location, item, lot, expiry, counted qty, uom) becomes one adjustment per row with
``type = CYCLE_COUNT`` (an addition to domain.md's list): ``qty`` is the counted quantity and
the receiving ERP books the difference to its stock. Items arrive as codes (``item_ids``) and
are resolved to ``item_id`` by the crosswalk step.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from hub.canonical.base import SCHEMA_VERSION_PATTERN, CanonicalModel, Document
from hub.canonical.enums import AdjustmentType, ChargeStatus, SnapshotBasis, UsageSource
from hub.canonical.items import ItemIdentifier
from hub.canonical.lines import ConvertibleLine
from hub.canonical.shipping import ErpPosting
from hub.canonical.types import AwareDatetime, Code, Currency, DateOrDateTime, Dec, IsoDate


def _require_item(item_id: str | None, item_ids: list[ItemIdentifier]) -> None:
    if item_id is None and not item_ids:
        raise ValueError("give item_id or at least one entry in item_ids")


class InventoryAdjustment(Document):
    """One stock movement or count of one item (A.11; CYCLE_COUNT added for counted quantities).

    1.1 adds the valuation the ERP books with a movement (``unit_cost``, ``extended_value``,
    ``currency``: an implant used at its contract cost) and ``recall_id`` (a quarantine answering a
    recall: on the recall's document trail)."""

    QTY_FIELD: ClassVar[str] = "qty"
    ITEM_IDS_FIELD: ClassVar[str] = "item_ids"
    SCHEMA_VERSION: ClassVar[str] = "1.1"

    document_type: Literal["inventory_adjustment"] = "inventory_adjustment"
    schema_version: str = Field(default="1.1", pattern=SCHEMA_VERSION_PATTERN.pattern)
    adjustment_id: Code
    type: AdjustmentType
    # A.11 requires item_id; a feed that names items by code (the cycle-count CSV, scanners)
    # sends item_ids and the crosswalk step fills item_id.
    item_id: Code | None = None
    item_ids: list[ItemIdentifier] = Field(default_factory=list)
    qty: Dec = Field(description="Signed movement (negative = out); for CYCLE_COUNT the counted quantity")
    uom: Code
    uom_canonical: Code | None = None
    base_qty: Dec | None = None
    base_uom: Code | None = None
    facility_id: Code | None = Field(None, description="Addition: facility of location_id, as the feed names it")
    location_id: Code | None = Field(None, description="Addition: where a count / scrap / quarantine happened")
    from_location_id: Code | None = None
    to_location_id: Code | None = None
    lot_serial_id: Code | None = None
    lot_number: Code | None = None
    serial_number: Code | None = None
    expiration_date: IsoDate | None = None
    reason_code: Code
    reference: Code | None = Field(None, description="Recall id, count sheet, RMA")
    recall_id: Code | None = Field(None, description="1.1: the recall a quarantine or return answers")
    occurred_at: AwareDatetime
    unit_cost: Dec | None = Field(None, description="1.1: cost of one unit (uom) the ERP values the movement at")
    extended_value: Dec | None = Field(None, description="1.1: qty × unit_cost, signed like qty")
    currency: Currency | None = None
    erp_posting: ErpPosting | None = None

    @model_validator(mode="after")
    def _consistent(self) -> InventoryAdjustment:
        _require_item(self.item_id, self.item_ids)
        if self.type == AdjustmentType.TRANSFER and not (self.from_location_id and self.to_location_id):
            raise ValueError("a TRANSFER needs from_location_id and to_location_id")
        if self.type == AdjustmentType.CYCLE_COUNT:
            if self.qty < 0:
                raise ValueError(f"a CYCLE_COUNT qty is the counted quantity and cannot be negative ({self.qty})")
            if not (self.location_id or self.from_location_id):
                raise ValueError("a CYCLE_COUNT needs location_id (where it was counted)")
        return self


class SnapshotLine(ConvertibleLine):
    QTY_FIELD: ClassVar[str] = "qty_on_hand"

    item_id: Code | None = None
    item_ids: list[ItemIdentifier] = Field(default_factory=list)
    location_id: Code | None = None
    lot_serial_id: Code | None = None
    lot_number: Code | None = None
    serial_number: Code | None = None
    expiration_date: IsoDate | None = None
    qty_on_hand: Dec | None = None
    qty_available: Dec | None = None
    qty_type_raw: Code | None = Field(None, description="QTY01 / QTY 6063 as sent")
    uom: Code | None = None
    uom_canonical: Code | None = None
    base_qty: Dec | None = Field(None, description="qty_on_hand in the base unit")
    base_qty_available: Dec | None = None
    base_uom: Code | None = None

    @model_validator(mode="after")
    def _has_item_and_qty(self) -> SnapshotLine:
        _require_item(self.item_id, self.item_ids)
        if self.qty_on_hand is None and self.qty_available is None:
            raise ValueError("a snapshot line needs qty_on_hand or qty_available")
        return self


class InventorySnapshot(Document):
    """Stock on hand / available at a moment (X12 846 / EDIFACT INVRPT), A.12."""

    document_type: Literal["inventory_snapshot"] = "inventory_snapshot"
    snapshot_id: Code
    as_of: DateOrDateTime = Field(description="BIA04(-05) / DTM+366")
    reporter_partner_id: Code
    location_id: Code | None = Field(None, description="Header location; lines may name their own")
    basis: SnapshotBasis
    basis_raw: Code | None = None
    lines: list[SnapshotLine] = Field(min_length=1)

    @field_validator("lines")
    @classmethod
    def _located(cls, lines: list[SnapshotLine], info) -> list[SnapshotLine]:
        if info.data.get("location_id") is None:
            missing = [i for i, line in enumerate(lines) if line.location_id is None]
            if missing:
                raise ValueError(f"lines {missing} have no location_id and the snapshot has none")
        return lines


class Charge(CanonicalModel):
    cdm_code: Code | None = None
    hcpcs: Code | None = None
    qty: Dec
    unit_amount: Dec | None = None
    status: ChargeStatus = ChargeStatus.PENDING
    hl7_ft1_ref: Code | None = None


class Consignment(CanonicalModel):
    owner_partner_id: Code
    bill_only_po_number: Code | None = None


class UsageEvent(Document):
    """An item used on a patient or at a point of use, with its charge (A.13)."""

    QTY_FIELD: ClassVar[str] = "qty"
    ITEM_IDS_FIELD: ClassVar[str] = "item_ids"

    document_type: Literal["usage_event"] = "usage_event"
    usage_id: Code
    occurred_at: AwareDatetime
    # As for adjustments: a point-of-use scan names the item by GTIN; crosswalk fills item_id.
    item_id: Code | None = None
    item_ids: list[ItemIdentifier] = Field(default_factory=list)
    lot_serial_id: Code | None = None
    lot_number: Code | None = None
    serial_number: Code | None = None
    expiration_date: IsoDate | None = None
    udi_carrier: Code | None = Field(None, description="As scanned")
    qty: Dec
    uom: Code
    uom_canonical: Code | None = None
    base_qty: Dec | None = None
    base_uom: Code | None = None
    location_id: Code
    encounter_id: Code | None = Field(None, repr=False, json_schema_extra={"x-phi": True})
    patient_ref: Code | None = Field(None, repr=False, json_schema_extra={"x-phi": True})
    case_id: Code | None = None
    procedure_code: Code | None = None
    performer_ref: Code | None = Field(None, repr=False, json_schema_extra={"x-phi": True})
    charge: Charge | None = None
    consignment: Consignment | None = None
    source: UsageSource

    @model_validator(mode="after")
    def _has_item(self) -> UsageEvent:
        _require_item(self.item_id, self.item_ids)
        return self
