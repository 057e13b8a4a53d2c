"""Business exceptions: data-quality problems routed to human review (domain.md section C).

A step that finds an unknown item, an unknown UoM, a duplicate invoice ... calls
``record_exception(session, kind=..., ...)`` inside its transaction. ``KINDS`` names every
kind of section C with its number and default severity: ``BLOCK`` (do not post, quarantine),
``HOLD`` (post nothing downstream until resolved), ``WARN`` (post, but queue for review).
Offending values are stored as sent; they are master-data codes, never patient data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Index, String, Text
from sqlalchemy.orm import Mapped, Session, mapped_column

from hub.db import Base
from hub.ids import new_id
from hub.store.models import UTCDateTime, utcnow


class Severity(StrEnum):
    BLOCK = "BLOCK"
    HOLD = "HOLD"
    WARN = "WARN"


class ExceptionStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class ExceptionKind:
    name: str
    number: int  # row of domain.md section C
    severity: Severity
    title: str


B, H, W = Severity.BLOCK, Severity.HOLD, Severity.WARN
KINDS: dict[str, ExceptionKind] = {
    k.name: k
    for k in (
        ExceptionKind("duplicate_interchange", 1, B, "Duplicate interchange"),
        ExceptionKind("duplicate_control_number", 2, B, "Duplicate group / set control number"),
        ExceptionKind("envelope_count_mismatch", 3, B, "Envelope count / number mismatch"),
        ExceptionKind("unknown_partner", 4, B, "Unknown sender / receiver"),
        ExceptionKind("usage_mismatch", 5, B, "Test/production mismatch"),
        ExceptionKind("unsupported_document", 6, B, "Unsupported document"),
        ExceptionKind("unsupported_version", 6, B, "Unsupported version"),
        ExceptionKind("syntax_error", 7, B, "Syntax or implementation error"),
        # Beside row 7: a well-formed set/message the hub cannot map (no usable item identifier,
        # no lines, a currency the canonical model refuses …). Acks report syntax only, so this
        # is the review queue's, not a negative 997/999/CONTRL.
        ExceptionKind("unmappable_document", 7, B, "Well-formed document the hub cannot map"),
        ExceptionKind("ack_missing_or_negative", 8, H, "Expected ack missing / negative ack received"),
        ExceptionKind("duplicate_document", 9, B, "Duplicate business document"),
        ExceptionKind("unknown_item", 10, H, "Unknown vendor item"),
        ExceptionKind("conflicting_item_identifiers", 11, H, "Conflicting item identifiers"),
        ExceptionKind("invalid_identifier", 12, H, "Invalid identifier format"),
        ExceptionKind("unknown_location", 13, H, "Unknown ship-to / bill-to account"),
        ExceptionKind("unknown_uom", 14, H, "Unknown or invalid UoM"),
        ExceptionKind("missing_conversion", 14, H, "No UomConversion for (item, partner?, uom)"),
        ExceptionKind("uom_mismatch", 15, H, "UoM mismatch across documents"),
        ExceptionKind("pack_size_disagreement", 16, W, "Pack-size disagreement"),
        ExceptionKind("po_not_acknowledged", 17, W, "PO not acknowledged"),
        ExceptionKind("line_rejected_or_backordered", 18, W, "Line rejected / backordered / on hold"),
        ExceptionKind("substitution", 19, H, "Substitution"),
        ExceptionKind("ack_differs", 20, H, "Acknowledged price/qty differs"),
        ExceptionKind("ack_unknown_po", 21, H, "Ack for unknown PO/line"),
        ExceptionKind("asn_unknown_po", 22, H, "ASN against unknown / closed / cancelled PO"),
        ExceptionKind("asn_qty_exceeds_open", 23, H, "ASN quantity exceeds PO open quantity"),
        ExceptionKind("asn_item_not_on_po", 24, H, "ASN item not on PO"),
        ExceptionKind("missing_lot_serial_expiry", 25, H, "Missing lot / serial / expiry"),
        ExceptionKind("lot_qty_mismatch", 26, H, "Lot quantities don't add up"),
        ExceptionKind("expired_lot", 27, B, "Expired lot shipped / received"),
        ExceptionKind("short_dated_lot", 28, W, "Short-dated lot"),
        ExceptionKind("duplicate_serial_or_sscc", 29, H, "Duplicate serial or SSCC"),
        ExceptionKind("lot_on_recall", 30, B, "Lot on recall / quarantined"),
        ExceptionKind("receipt_differs_from_asn", 31, W, "Receipt ≠ ASN"),
        # Beside row 31 ("required ASN missing"): the SLA clock of a PO whose ship notice has not
        # come before its delivery date (hub.sla).
        ExceptionKind("asn_missing", 31, W, "Required ASN missing"),
        ExceptionKind("dscsa_data_missing", 32, B, "DSCSA data missing or inconsistent"),
        ExceptionKind("invoice_price_out_of_tolerance", 33, H, "Invoice price outside contract / PO tolerance"),
        # Beside row 33: GHX's "Contract Price" — a PO, acknowledgement or invoice price other than
        # the active contract price (transforms/contracts.py).
        ExceptionKind("contract_price_mismatch", 33, H, "Price other than the active contract price"),
        ExceptionKind("invoice_qty_exceeds_received", 34, H, "Invoice qty exceeds received"),
        # Beside row 34: the SLA clock of an invoice whose goods have still not been received
        # N days later (hub.sla; "invoice before any receipt" as it stands after the agreed wait).
        ExceptionKind("invoice_without_receipt", 34, H, "Invoice without receipt"),
        ExceptionKind("invoice_unknown_po", 35, H, "Invoice for unknown / closed PO or no PO"),
        ExceptionKind("invoice_line_not_on_po", 36, H, "Invoice line not on PO"),
        ExceptionKind("totals_do_not_reconcile", 37, B, "Totals don't reconcile"),
        ExceptionKind("unexpected_charges", 38, H, "Unexpected charges or tax"),
        ExceptionKind("credit_memo_without_reference", 39, H, "Credit memo without reference"),
        ExceptionKind("bill_only_incomplete", 40, H, "Bill-only data incomplete or duplicated"),
        ExceptionKind("price_catalog_anomaly", 41, W, "Price catalog anomaly"),
        ExceptionKind("inventory_variance", 42, W, "Inventory variance"),
        # Beside row 42: a par breach none of the organisation's replenishment rules can fill (no
        # site holds the item above par, no active contract) — transforms/replenishment.py.
        ExceptionKind("replenishment_unfilled", 42, H, "Par breach no replenishment rule can fill"),
        ExceptionKind("usage_of_expired_or_recalled_lot", 43, B, "Usage of expired / recalled lot"),
        ExceptionKind("implant_usage_without_udi", 44, H, "Implant usage without UDI/lot"),
        ExceptionKind("charge_mapping_missing", 45, H, "Charge mapping missing / mismatch"),
        ExceptionKind("recall_line_unresolved", 46, H, "Recall line unresolved"),
        ExceptionKind("recall_trace_gap", 47, H, "Recall trace gap"),
        ExceptionKind("erp_posting_rejected", 48, H, "ERP posting rejected"),
    )
}


def severity_of(kind: str) -> Severity | None:
    """The default severity of a kind (None for a kind this hub does not know)."""
    spec = KINDS.get(kind)
    return spec.severity if spec else None


class BusinessException(Base):
    __tablename__ = "business_exceptions"
    __table_args__ = (
        Index("ix_business_exceptions_status_kind", "status", "kind"),
        Index("ix_business_exceptions_document", "document_type", "document_key"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(8))
    document_type: Mapped[str | None] = mapped_column(String(64))
    document_key: Mapped[str | None] = mapped_column(String(256))
    field_path: Mapped[str | None] = mapped_column(String(512))
    offending_value: Mapped[str | None] = mapped_column(Text)
    partner_id: Mapped[str | None] = mapped_column(String(128), index=True)
    message_id: Mapped[str | None] = mapped_column(String(36), index=True)
    route: Mapped[str | None] = mapped_column(String(128))
    message: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=ExceptionStatus.OPEN.value)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    def as_dict(self) -> dict[str, Any]:
        """The form steps append to ``Exchange.exceptions`` (and the engine records)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "severity": self.severity,
            "document_type": self.document_type,
            "document_key": self.document_key,
            "field_path": self.field_path,
            "offending_value": self.offending_value,
            "partner_id": self.partner_id,
            "message_id": self.message_id,
            "route": self.route,
            "message": self.message,
            "detail": dict(self.detail or {}),
        }


class UnknownExceptionKind(ValueError):
    pass


def record_exception(
    session: Session,
    *,
    kind: str,
    message: str,
    severity: Severity | str | None = None,
    document_type: str | None = None,
    document_key: str | None = None,
    field_path: str | None = None,
    offending_value: Any = None,
    partner_id: str | None = None,
    message_id: str | None = None,
    route: str | None = None,
    detail: dict[str, Any] | None = None,
) -> BusinessException:
    """Add an open business exception to ``session`` (flushed, so its id is set) and return it.
    ``severity`` defaults to the kind's section C severity."""
    try:
        spec = KINDS[kind]
    except KeyError:
        raise UnknownExceptionKind(f"unknown business exception kind {kind!r}; known: {', '.join(sorted(KINDS))}") from None
    row = BusinessException(
        id=new_id(),
        kind=kind,
        severity=Severity(severity or spec.severity).value,
        document_type=document_type,
        document_key=document_key,
        field_path=field_path,
        offending_value=None if offending_value is None else str(offending_value),
        partner_id=partner_id,
        message_id=message_id,
        route=route,
        message=message,
        status=ExceptionStatus.OPEN.value,
        created_at=utcnow(),
        detail=detail or {},
    )
    session.add(row)
    session.flush()
    return row


def resolve_exception(session: Session, exception_id: str, resolution: str) -> BusinessException:
    row = session.get(BusinessException, exception_id)
    if row is None:
        raise KeyError(f"no business exception {exception_id!r}")
    row.status = ExceptionStatus.RESOLVED.value
    row.resolution = resolution
    row.resolved_at = utcnow()
    return row
