"""Purchase orders and their acknowledgements (domain.md A.6, A.7, B.1, B.2, B.8, B.9)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from hub.canonical.base import CanonicalModel, Document, Reference
from hub.canonical.enums import AckLineStatus, AckType, PoPurpose, PoStatus, PoType
from hub.canonical.items import ItemIdentifier
from hub.canonical.lines import ConvertibleLine
from hub.canonical.parties import Contact, PartyRef
from hub.canonical.types import Code, Currency, Dec, IsoDate, NonNegDec, Text


class BillOnlyCase(CanonicalModel):
    """Case data of a bill-only PO. PHI: minimum necessary; never logged (repr hides it)."""

    case_id: Code
    procedure_date: IsoDate | None = None
    physician: Text | None = Field(None, repr=False, json_schema_extra={"x-phi": True})
    patient_mrn: Code | None = Field(None, repr=False, json_schema_extra={"x-phi": True})
    encounter_id: Code | None = Field(None, repr=False, json_schema_extra={"x-phi": True})


class PurchaseOrderLine(ConvertibleLine):
    ITEM_IDS_FIELD: ClassVar[str] = "item_ids_sent"

    line_number: Code = Field(description="PO101 / LIN 1082, kept exactly as sent (partners echo it)")
    item_id: Code | None = Field(None, description="Resolved item; None until the crosswalk resolves it")
    item_ids_sent: list[ItemIdentifier] = Field(min_length=1)
    description: Text | None = None
    qty: NonNegDec
    uom: Code | None = Field(None, description="As sent; None = units of the line's GTIN (EANCOM)")
    uom_canonical: Code | None = None
    base_qty: Dec | None = Field(None, description="Filled by uom_convert")
    base_uom: Code | None = None
    # PO104 and PRI are optional in both standards (no-charge lines): None = no price sent.
    unit_price: Dec | None = None
    price_uom: Code | None = None
    price_basis: Code | None = Field(None, description="PO105 / PRI 5387 as sent")
    contract_price: Dec | None = None
    requested_date: IsoDate | None = None
    lot_numbers: list[Code] = Field(default_factory=list)
    serial_numbers: list[Code] = Field(default_factory=list)
    status: Code | None = None
    qty_acked: Dec | None = None
    qty_shipped: Dec | None = None
    qty_received: Dec | None = None
    qty_invoiced: Dec | None = None
    refs: list[Reference] = Field(default_factory=list)


class PurchaseOrder(Document):
    """A purchase order (X12 850 / EDIFACT ORDERS), A.6."""

    document_type: Literal["purchase_order"] = "purchase_order"
    po_number: Code
    release_number: Code | None = Field(None, description="BEG04")
    po_type: PoType
    po_type_raw: Code | None = Field(None, description="BEG02 / order type as sent")
    purpose: PoPurpose
    purpose_raw: Code | None = Field(None, description="BEG01 / BGM 1225 as sent")
    # No 850/ORDERS element carries a revision: the hub counts changes, 0 for the first version.
    revision: int = Field(0, ge=0)
    order_date: IsoDate
    # Mappers fill buyer_org from N1*BY / NAD+BY, else from the interchange sender.
    buyer_org: PartyRef
    # N1*BT / NAD+IV is absent from many real 850s (e.g. the GHX/oopfactory samples).
    bill_to: PartyRef | None = None
    ship_to: PartyRef
    supplier_partner_id: Code
    supplier: PartyRef | None = Field(None, description="N1*SE/VN/SU / NAD+SU as sent")
    currency: Currency = Field(description="CUR02 / CUX; the partner default (USD) when absent")
    contract_ref: Code | None = None
    requested_delivery_date: IsoDate | None = None
    requested_ship_date: IsoDate | None = None
    payment_terms: Text | None = None
    buyer_contact: Contact | None = None
    notes: list[Text] = Field(default_factory=list)
    refs: list[Reference] = Field(default_factory=list)
    # A.6 marks it required for BILL_ONLY/BILL_AND_REPLACE, but section C (#40) routes an
    # incomplete bill-only PO to review: the model accepts it so the exception can be raised.
    bill_only_case: BillOnlyCase | None = None
    lines: list[PurchaseOrderLine] = Field(min_length=1)
    # Hub lifecycle state: an EDI message cannot carry it, so None until the hub tracks it.
    status: PoStatus | None = None


class AckLine(ConvertibleLine):
    po_line_number: Code
    status: AckLineStatus
    status_raw: Code = Field(description="ACK01 / LIN 1229 as sent")
    reason_code: Code | None = Field(None, description="R1-R8, QVR 4221/4295 reason")
    item_ids: list[ItemIdentifier] = Field(default_factory=list, description="PO1 echo / LIN-PIA")
    item_id: Code | None = None
    ordered_qty: NonNegDec | None = Field(None, description="PO102 echo / QTY+21")
    ordered_uom: Code | None = None
    qty: NonNegDec | None = Field(None, description="ACK02 / QTY+113: quantity the status applies to")
    uom: Code | None = None
    uom_canonical: Code | None = None
    base_qty: Dec | None = None
    base_uom: Code | None = None
    qty_backordered: NonNegDec | None = Field(None, description="QTY+83")
    unit_price: Dec | None = None
    price_uom: Code | None = None
    # Required in spirit when status is SUBSTITUTED, but real 855s send IS without ACK07 pairs:
    # that is a business exception (domain.md C #19), not a reason to drop the document.
    substitute_item_ids: list[ItemIdentifier] = Field(default_factory=list)
    promised_ship_date: IsoDate | None = None
    promised_delivery_date: IsoDate | None = None
    date_qualifier_raw: Code | None = Field(None, description="ACK04 / DTM 2005 as sent")


class PurchaseOrderAck(Document):
    """A supplier's order acknowledgement (X12 855 / EDIFACT ORDRSP), A.7."""

    document_type: Literal["purchase_order_ack"] = "purchase_order_ack"
    # X12 855 has no acknowledgement number (BAK carries the PO's); ORDRSP has BGM 1004.
    ack_id: Code | None = None
    po_number: Code
    po_date: IsoDate | None = None
    purpose: PoPurpose | None = None
    purpose_raw: Code | None = None
    ack_type: AckType
    ack_type_raw: Code | None = Field(None, description="BAK02 / BGM 1225 as sent")
    supplier_partner_id: Code | None = Field(None, description="Addition to A.7: who acknowledged")
    supplier_order_number: Code | None = None
    # BAK09 is optional; mappers fall back to DTM or the GS04 date.
    ack_date: IsoDate
    currency: Currency | None = None
    refs: list[Reference] = Field(default_factory=list)
    lines: list[AckLine] = Field(default_factory=list)
