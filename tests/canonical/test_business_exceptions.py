"""Business exception records (domain.md section C) on the real PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hub.business_exceptions import KINDS, BusinessException, UnknownExceptionKind, record_exception, resolve_exception


def test_kinds_cover_section_c() -> None:
    assert {k.number for k in KINDS.values()} == set(range(1, 49))
    for name in ("unknown_item", "unknown_uom", "missing_conversion", "duplicate_document"):
        assert name in KINDS


def test_record_and_resolve(db) -> None:
    with db.session() as session:
        row = record_exception(
            session,
            kind="duplicate_document",
            message="invoice INV-1 from P-0042 was already received",
            document_type="invoice",
            document_key="INV-1",
            field_path="invoice_number",
            offending_value="INV-1",
            partner_id="P-0042",
            message_id="msg-1",
            route="invoices-in",
            detail={"first_message_id": "msg-0"},
        )
        exception_id = row.id
    with db.session() as session:
        stored = session.get(BusinessException, exception_id)
        assert (stored.kind, stored.severity, stored.status) == ("duplicate_document", "BLOCK", "open")
        assert stored.created_at.tzinfo is not None
        assert stored.as_dict()["detail"] == {"first_message_id": "msg-0"}
        resolve_exception(session, exception_id, "rejected back to partner")
    with db.session() as session:
        stored = session.scalars(select(BusinessException).where(BusinessException.id == exception_id)).one()
        assert stored.status == "resolved" and stored.resolution == "rejected back to partner" and stored.resolved_at


def test_severity_override_and_unknown_kind(db) -> None:
    with db.session() as session:
        assert record_exception(session, kind="pack_size_disagreement", message="m", severity="HOLD").severity == "HOLD"
        with pytest.raises(UnknownExceptionKind, match="unknown_item"):
            record_exception(session, kind="no_such_kind", message="m")


def test_a_failed_transaction_records_nothing(db) -> None:
    with pytest.raises(RuntimeError):
        with db.session() as session:
            record_exception(session, kind="unknown_item", message="m", document_key="ROLLBACK-ME")
            raise RuntimeError("the step failed after recording")
    with db.session() as session:
        assert session.scalars(select(BusinessException).where(BusinessException.document_key == "ROLLBACK-ME")).all() == []
