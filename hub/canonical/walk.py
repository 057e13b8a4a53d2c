"""Finding the parts of a canonical document that steps work on: lines with items and
quantities, and party references. Paths are pydantic-style dotted locations (``lines.0.uom``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime

from pydantic import BaseModel

from hub.canonical.base import Document
from hub.canonical.parties import PartyRef

# Business keys of canonical documents, in order of preference (domain.md section A).
KEY_FIELDS = (
    "po_number",
    "asn_number",
    "invoice_number",
    "receipt_id",
    "adjustment_id",
    "snapshot_id",
    "usage_id",
    "catalog_id",
    "recall_id",
    "breach_id",
    "decision_id",
    "transfer_id",
    "charge_id",
    "ack_id",
    "item_id",
    "location_id",
    "partner_id",
    "lot_serial_id",
)
# Documents that also carry an earlier key of the list (an invoice names its PO, a receipt its
# ASN, a lot its item) are identified by their own number first.
OWN_KEY_FIELD = {"invoice": "invoice_number", "goods_receipt": "receipt_id", "lot_serial": "lot_serial_id",
                 "inventory_adjustment": "adjustment_id", "replenishment_decision": "decision_id",
                 "transfer_order": "transfer_id", "charge": "charge_id"}


def key_fields(document_type: str | None) -> tuple[str, ...]:
    """The fields naming a document of ``document_type``, its own number first."""
    own = OWN_KEY_FIELD.get(document_type or "")
    return (own, *KEY_FIELDS) if own else KEY_FIELDS


DATE_FIELDS = ("order_date", "invoice_date", "ack_date", "ship_date", "receipt_datetime", "occurred_at", "as_of", "valid_from", "issued_at",
               "detected_at", "decided_at", "requested_at", "service_date")
PARTNER_FIELDS = ("supplier_partner_id", "reporter_partner_id")


def join(path: str, part: str | int) -> str:
    return f"{path}.{part}" if path else str(part)


def item_holders(model: BaseModel, path: str = "") -> Iterator[tuple[str, BaseModel]]:
    """Every (path, model) below ``model`` (itself included) that names an item by identifiers."""
    fields = type(model).model_fields
    if "item_id" in fields and ("item_ids" in fields or "item_ids_sent" in fields):
        yield path, model
    for child_path, child in _listed_parts(model, path):
        yield from item_holders(child, child_path)


def _listed_parts(model: BaseModel, path: str) -> Iterator[tuple[str, BaseModel]]:
    """(path, model) of the models in ``model``'s list fields (lines, lots ...), parties aside."""
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, list):
            for index, element in enumerate(value):
                if isinstance(element, BaseModel) and not isinstance(element, PartyRef):
                    yield join(join(path, name), index), element


def identifiers_field(holder: BaseModel) -> str:
    return getattr(type(holder), "ITEM_IDS_FIELD", "item_ids")


def qty_field(holder: BaseModel) -> str | None:
    name = getattr(type(holder), "QTY_FIELD", None)
    return name if name in type(holder).model_fields and "uom" in type(holder).model_fields else None


def party_refs(document: Document) -> Iterator[tuple[str, PartyRef]]:
    for name in type(document).model_fields:
        value = getattr(document, name)
        if isinstance(value, PartyRef):
            yield name, value


def document_key(document: Document) -> str | None:
    for name in key_fields(document.document_type):
        value = getattr(document, name, None)
        if isinstance(value, str):
            return value
    return None


def document_date(document: Document) -> date | None:
    """The business date conversions are checked against (order date, ship date ...)."""
    for name in DATE_FIELDS:
        value = getattr(document, name, None)
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
    return None


def document_partner(document: Document) -> str | None:
    for name in PARTNER_FIELDS:
        value = getattr(document, name, None)
        if isinstance(value, str):
            return value
    return None


def invalid_identifiers(model: BaseModel, path: str = "") -> Iterator[tuple[str, str, str]]:
    """(field path, value as sent, reason) of every identifier a mapper kept although it failed
    its format or check-digit rule (``invalid_reason`` / ``sscc_invalid_reason``), in field order."""
    fields = type(model).model_fields
    reason = getattr(model, "invalid_reason", None) if "invalid_reason" in fields else None
    if reason is not None:
        yield join(path, "value"), model.value, reason  # type: ignore[attr-defined]
    if "sscc_invalid_reason" in fields and model.sscc_invalid_reason is not None:  # type: ignore[attr-defined]
        yield join(path, "sscc"), model.sscc, model.sscc_invalid_reason  # type: ignore[attr-defined]
    for name in fields:
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            yield from invalid_identifiers(value, join(path, name))
        elif isinstance(value, list):
            for index, element in enumerate(value):
                if isinstance(element, BaseModel):
                    yield from invalid_identifiers(element, join(join(path, name), index))


def lot_expiries(model: BaseModel, path: str = "") -> Iterator[tuple[str, BaseModel, date]]:
    """(path, holder, expiration_date) of every lot, allocation, line or event that carries an
    expiry date, in field order (ship notice lots, receipt allocations, usage events ...)."""
    fields = type(model).model_fields
    expiry = getattr(model, "expiration_date", None) if "expiration_date" in fields else None
    if isinstance(expiry, date):
        yield path, model, expiry
    for child_path, child in _listed_parts(model, path):
        yield from lot_expiries(child, child_path)
