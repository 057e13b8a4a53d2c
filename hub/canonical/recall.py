"""Recalls, the products they name, and where the hub found them (domain.md A.15, section 6)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from hub.canonical.base import CanonicalModel, Document
from hub.canonical.enums import Confidence, RecallClass, RecallHitKind, RecallSource, RecallStatus, RecallType
from hub.canonical.items import ItemIdentifier
from hub.canonical.types import Code, Dec, IsoDate, NonNegDec, Text


class RecallLine(CanonicalModel):
    line_number: Code | None = None
    item_ids: list[ItemIdentifier] = Field(min_length=1, description="GTIN / UDI-DI / NDC / part numbers")
    item_id: Code | None = None
    description: Text | None = None
    lot_numbers: list[Code] = Field(default_factory=list)
    serial_numbers: list[Code] = Field(default_factory=list)
    expiry_from: IsoDate | None = None
    expiry_to: IsoDate | None = None
    date_from: IsoDate | None = Field(None, description="Manufactured / distributed from")
    date_to: IsoDate | None = None
    quantity: NonNegDec | None = None
    uom: Code | None = None


class RecallHit(CanonicalModel):
    kind: RecallHitKind
    ref: Code = Field(description="ASN number, receipt id, location id or usage id")
    line_number: Code | None = Field(None, description="RecallLine.line_number matched")
    item_id: Code | None = None
    lot_serial_id: Code | None = None
    location_id: Code | None = None
    qty: Dec | None = None
    uom: Code | None = None
    confidence: Confidence
    action_status: Code | None = None


class Recall(Document):
    """A product recall, its affected items/lots and where they were found (A.15)."""

    document_type: Literal["recall"] = "recall"
    recall_id: Code
    external_ref: Code
    source: RecallSource
    firm_name: Text | None = None
    classification: RecallClass | None = None
    recall_type: RecallType | None = None
    risk_level: Text | None = None
    action_required: Text | None = None
    description: Text | None = None
    issued_at: IsoDate
    response_due: IsoDate | None = None
    lines: list[RecallLine] = Field(min_length=1)
    status: RecallStatus = RecallStatus.OPEN
    hits: list[RecallHit] = Field(default_factory=list)
