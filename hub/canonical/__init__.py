"""The canonical healthcare supply-chain model (domain.md section A).

``DOCUMENT_MODELS`` maps every document type to its pydantic class, under both its
``document_type`` (``"ship_notice"``) and its class name (``"ShipNotice"``); ``get_model``
looks one up with an error listing the valid names.
"""

from __future__ import annotations

from hub.canonical.base import CanonicalModel, Document, canonical_json
from hub.canonical.catalog import PriceCatalogEntry
from hub.canonical.charges import ChargeTransaction
from hub.canonical.inventory import InventoryAdjustment, InventorySnapshot, UsageEvent
from hub.canonical.invoices import Invoice
from hub.canonical.items import Item, LotSerial
from hub.canonical.orders import PurchaseOrder, PurchaseOrderAck
from hub.canonical.parties import Location, Partner
from hub.canonical.recall import Recall
from hub.canonical.replenishment import ParBreach, ReplenishmentDecision, TransferOrder
from hub.canonical.shipping import GoodsReceipt, ShipNotice

DOCUMENT_CLASSES: tuple[type[Document], ...] = (
    Partner,
    Location,
    Item,
    LotSerial,
    PurchaseOrder,
    PurchaseOrderAck,
    ShipNotice,
    GoodsReceipt,
    Invoice,
    InventoryAdjustment,
    InventorySnapshot,
    UsageEvent,
    PriceCatalogEntry,
    Recall,
    ParBreach,
    ReplenishmentDecision,
    TransferOrder,
    ChargeTransaction,
)

DOCUMENT_TYPES: dict[str, type[Document]] = {cls.type_name(): cls for cls in DOCUMENT_CLASSES}
DOCUMENT_MODELS: dict[str, type[Document]] = {
    **DOCUMENT_TYPES,
    **{cls.__name__: cls for cls in DOCUMENT_CLASSES},
}


def get_model(name: str) -> type[Document]:
    """The model class for a document type (``ship_notice``) or class name (``ShipNotice``)."""
    try:
        return DOCUMENT_MODELS[name]
    except KeyError:
        valid = ", ".join(sorted(DOCUMENT_TYPES)) + "; or class names " + ", ".join(c.__name__ for c in DOCUMENT_CLASSES)
        raise KeyError(f"unknown canonical document type {name!r}; valid: {valid}") from None


def parse_document(data: dict) -> Document:
    """Validate a canonical document dict, choosing the model by its ``document_type``."""
    if not isinstance(data, dict) or "document_type" not in data:
        raise KeyError("a canonical document needs a 'document_type' field")
    return get_model(str(data["document_type"])).model_validate(data)


__all__ = [
    "DOCUMENT_CLASSES",
    "DOCUMENT_MODELS",
    "DOCUMENT_TYPES",
    "CanonicalModel",
    "Document",
    "canonical_json",
    "get_model",
    "parse_document",
    *(cls.__name__ for cls in DOCUMENT_CLASSES),
]
