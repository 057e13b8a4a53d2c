"""Price catalogue entries (domain.md A.14, B.6, B.12)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from hub.canonical.base import CanonicalModel, Document, Reference
from hub.canonical.enums import CatalogAction, ConversionSource, PriceType
from hub.canonical.items import ItemIdentifier
from hub.canonical.parties import PartyRef
from hub.canonical.types import Code, Currency, Dec, IsoDate, NonNegDec, Text


class PackConversion(CanonicalModel):
    """A packaging level the catalogue states (PO4, PRICAT QTY 59 / 17E / 45E, PKL).

    It is a ``UomConversion`` without ``item_id``/``partner_id``: those come from the entry,
    whose item may still be unresolved when the catalogue arrives."""

    uom: Code
    factor_to_base: Dec | None = Field(None, gt=0)
    gtin: Code | None = None
    contains_uom: Code | None = None
    contains_qty: Dec | None = Field(None, gt=0)
    source: ConversionSource


class PriceCatalogEntry(Document):
    """One item's price in a supplier catalogue (X12 832 / EDIFACT PRICAT), A.14."""

    document_type: Literal["price_catalog_entry"] = "price_catalog_entry"
    catalog_id: Code
    # BCT03 is often empty and PRICAT has no catalogue version element: None = not sent.
    version: Code | None = None
    supplier_partner_id: Code
    item_ids: list[ItemIdentifier] = Field(min_length=1)
    item_id: Code | None = None
    description: Text | None = None
    action: CatalogAction
    action_raw: Code | None = Field(None, description="G53 / LIN 1229 as sent")
    price: Dec | None = Field(None, description="Required unless action is DELETE")
    # CTP05 / PRI 6411 may be absent: the price is then per unit of the line's GTIN (EANCOM).
    price_uom: Code | None = None
    price_type: PriceType
    price_type_raw: Code | None = Field(None, description="CTP02 / PRI 5375 as sent")
    price_qty_basis: NonNegDec | None = Field(None, description="CTP04")
    price_multiplier: Dec | None = Field(None, description="CTP06")
    class_of_trade: Code | None = Field(None, description="CTP01")
    contract_ref: Code | None = None
    tier: Code | None = None
    customer_scope: list[PartyRef] = Field(default_factory=list)
    min_order_qty: NonNegDec | None = None
    order_multiple: NonNegDec | None = None
    pack_conversions: list[PackConversion] = Field(default_factory=list)
    valid_from: IsoDate
    valid_to: IsoDate | None = None
    currency: Currency = Field(description="CUR / CUX; the partner default when absent")
    refs: list[Reference] = Field(default_factory=list)

    @model_validator(mode="after")
    def _priced(self) -> PriceCatalogEntry:
        if self.price is None and self.action in {CatalogAction.ADD, CatalogAction.CHANGE}:
            raise ValueError(f"price is required when action is {self.action.value}")
        if self.valid_to and self.valid_to < self.valid_from:
            raise ValueError(f"valid_to {self.valid_to} is before valid_from {self.valid_from}")
        return self
