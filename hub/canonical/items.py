"""Items, their identifiers, and lots/serials (domain.md A.3, A.5)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, ValidationInfo, field_validator, model_validator

from hub.canonical.base import CanonicalModel, Document
from hub.canonical.enums import ItemIdScheme, ItemStatus, ItemType, LotSource, LotStatus
from hub.canonical.identifiers import INVALID_REASON_DESCRIPTION, normalize_gtin, normalize_ndc, validate_hibc, validate_upc
from hub.canonical.types import Code, IsoDate, Text

# Scheme → normaliser. Schemes not listed are partner-assigned codes kept as sent.
_NORMALISERS: dict[ItemIdScheme, Callable[[str], str]] = {
    ItemIdScheme.GTIN: normalize_gtin,
    ItemIdScheme.NDC11: normalize_ndc,
    ItemIdScheme.HIBC: validate_hibc,
    ItemIdScheme.UPC: validate_upc,
}


def normalize_item_identifier(scheme: ItemIdScheme | str, value: str) -> str:
    """The stored form of ``value`` under ``scheme`` (GTIN 14 digits, NDC 11 digits ...)."""
    # A scheme already validated by the model skips the enum lookup (this runs per identifier).
    normaliser = _NORMALISERS.get(scheme if scheme.__class__ is ItemIdScheme else ItemIdScheme(scheme))
    return normaliser(value) if normaliser else value.strip()


class ItemIdentifier(CanonicalModel):
    """An identifier of an item, normalised: GTIN → 14 digits, NDC → 11 digits (5-4-2),
    HIBC → primary data with '+', all check digits verified — unless ``invalid_reason`` says
    why the value failed its check: then it is carried as sent, never relabelled or dropped."""

    scheme: ItemIdScheme
    # Declared before ``value`` so that the value's validator sees it.
    invalid_reason: Text | None = Field(None, description=INVALID_REASON_DESCRIPTION)
    # Not trimmed by the type: an HIBC check character may be a space; the normaliser trims.
    value: Annotated[str, StringConstraints(strict=True, strip_whitespace=False, min_length=1, max_length=256)]
    qualifier: Code | None = Field(None, description="Qualifier as sent (X12 235 / EDIFACT 7143), e.g. UP, VP, SRV")
    partner_id: Code | None = Field(None, description="Assigning partner for vendor/buyer codes")
    uom: Code | None = Field(None, description="Packaging level this identifier denotes (a box GTIN)")
    is_primary: bool | None = None
    valid_from: IsoDate | None = None
    valid_to: IsoDate | None = None

    @field_validator("value")
    @classmethod
    def _normalise(cls, value: str, info: ValidationInfo) -> str:
        data = info.data
        if data.get("invalid_reason") is not None:
            return value
        scheme = data.get("scheme")
        return normalize_item_identifier(scheme, value) if scheme is not None else value.strip()


class Item(Document):
    """An item of the hub's item master with every identifier it is known by (A.3)."""

    document_type: Literal["item"] = "item"
    item_id: Code
    erp_refs: dict[str, str] = Field(default_factory=dict)
    description: Text
    item_type: ItemType
    identifiers: list[ItemIdentifier] = Field(min_length=1)
    base_uom: Code
    lot_controlled: bool
    serial_controlled: bool
    expiry_controlled: bool
    min_remaining_shelf_life_days: int | None = Field(None, ge=0)
    dscsa_product: bool | None = None
    udi_di: Code | None = None
    manufacturer_partner_id: Code | None = None
    unspsc: Code | None = None
    hcpcs: Code | None = None
    chargeable: bool | None = None
    cdm_code: Code | None = None
    storage_requirements: Text | None = None
    status: ItemStatus


class LotSerial(Document):
    """A lot or serial number of an item, with expiry and status (A.5)."""

    document_type: Literal["lot_serial"] = "lot_serial"
    lot_serial_id: Code
    item_id: Code
    gtin: Code | None = None
    lot_number: Code | None = None
    serial_number: Code | None = None
    expiration_date: IsoDate | None = None
    production_date: IsoDate | None = None
    udi_carrier: Code | None = Field(None, description="Raw AIDC string as scanned (GS1 or HIBC)")
    udi_pi_parsed: dict[str, Any] | None = None
    status: LotStatus
    first_seen_source: LotSource
    dscsa_refs: list[Code] = Field(default_factory=list)

    @field_validator("gtin")
    @classmethod
    def _gtin(cls, value: str | None) -> str | None:
        return normalize_gtin(value) if value is not None else None

    @model_validator(mode="after")
    def _lot_or_serial(self) -> LotSerial:
        if self.lot_number is None and self.serial_number is None:
            raise ValueError("a LotSerial needs a lot_number or a serial_number")
        return self
