"""Replenishment: a par level breached, the decision the hub takes, and an internal transfer.

Additions to domain.md section A (version 1.0 of each): the inventory system reports that a
storeroom's count of an item fell to or below its reorder point (``par_breach``); the hub decides,
by the organisation's rules, between a transfer from a site with stock, a standard PO at the
contract price and an expedited order, and tells the inventory system what it decided and when
the goods are expected (``replenishment_decision``); a transfer is a ``transfer_order`` to the
sites' stock system. The PO is a canonical ``purchase_order``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from hub.canonical.base import CanonicalModel, Document
from hub.canonical.enums import ReplenishmentMethod
from hub.canonical.items import ItemIdentifier
from hub.canonical.types import (
    AwareDatetime,
    Code,
    Currency,
    Dec,
    IsoDate,
    NonNegDec,
    Text,
)


class ParBreach(Document):
    """A par location's stock of an item at or below its reorder point (the inventory system's
    par-level alert); ``reorder_point`` absent: the par level itself is the threshold."""

    document_type: Literal["par_breach"] = "par_breach"
    breach_id: Code
    detected_at: AwareDatetime
    facility_id: Code | None = None
    location_id: Code = Field(description="The par location (storeroom, unit, cabinet)")
    item_id: Code | None = None
    item_ids: list[ItemIdentifier] = Field(default_factory=list)
    description: Text | None = None
    on_hand: Dec
    par_level: NonNegDec
    reorder_point: NonNegDec | None = None
    uom: Code
    critical: bool = Field(False, description="A critical item (wound care in a surge): the rules may expedite")
    note: Text | None = Field(None, description="Why, as the inventory system says it (a surge, a recall)")

    @model_validator(mode="after")
    def _a_breach(self) -> ParBreach:
        if self.item_id is None and not self.item_ids:
            raise ValueError("give item_id or at least one entry in item_ids")
        threshold = self.reorder_point if self.reorder_point is not None else self.par_level
        if self.on_hand > threshold:
            raise ValueError(f"on_hand {self.on_hand} is above the reorder point {threshold}: not a breach")
        return self


class ReplenishmentDecision(Document):
    """What the hub decided for a par breach, and when the goods are expected at the location."""

    document_type: Literal["replenishment_decision"] = "replenishment_decision"
    decision_id: Code
    breach_id: Code
    decided_at: AwareDatetime
    location_id: Code
    item_id: Code | None = None
    item_ids: list[ItemIdentifier] = Field(default_factory=list)
    qty: NonNegDec
    uom: Code
    method: ReplenishmentMethod
    rule: Code = Field(description="The organisation's rule that chose the method")
    reason: Text
    source_location_id: Code | None = Field(None, description="TRANSFER: the site the stock comes from")
    transfer_id: Code | None = None
    supplier_partner_id: Code | None = Field(None, description="A PO: the supplier under contract")
    po_number: Code | None = None
    unit_price: Dec | None = Field(None, description="A PO: the active contract price")
    currency: Currency | None = None
    contract_ref: Code | None = None
    expected_receipt_date: IsoDate

    @model_validator(mode="after")
    def _sourced(self) -> ReplenishmentDecision:
        if self.method is ReplenishmentMethod.TRANSFER and not (self.source_location_id and self.transfer_id):
            raise ValueError("a TRANSFER decision names source_location_id and transfer_id")
        if self.method is not ReplenishmentMethod.TRANSFER and not (self.supplier_partner_id and self.po_number):
            raise ValueError(f"a {self.method.value} decision names supplier_partner_id and po_number")
        return self


class TransferLine(CanonicalModel):
    line_number: Code
    item_id: Code | None = None
    item_ids: list[ItemIdentifier] = Field(default_factory=list)
    qty: NonNegDec
    uom: Code
    lot_number: Code | None = None


class TransferOrder(Document):
    """Stock moved between two of the organisation's locations (sites, storerooms, par locations)."""

    document_type: Literal["transfer_order"] = "transfer_order"
    transfer_id: Code
    requested_at: AwareDatetime
    from_location_id: Code
    to_location_id: Code
    needed_by: IsoDate | None = None
    reason_code: Code | None = Field(None, description="PAR_REPLENISHMENT, RECALL_RETURN …")
    reference: Code | None = Field(None, description="What asked for it (a par breach id)")
    lines: list[TransferLine] = Field(min_length=1)
