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


# -- the review queue (hub.review) ---------------------------------------------------------------


def _record(db, **fields) -> str:
    defaults = {"kind": "unknown_item", "message": "item not in the crosswalk", "document_type": "purchase_order"}
    with db.session() as session:
        return record_exception(session, **{**defaults, **fields}).id


def test_review_queue_filters_by_status_kind_partner_document_and_message(db) -> None:
    from hub.review import ExceptionFilter, list_exceptions

    a = _record(db, document_key="PO-1", partner_id="P-0042", message_id="m-1")
    b = _record(db, kind="duplicate_document", document_key="PO-2", partner_id="P-0107", message_id="m-2")
    c = _record(db, document_key="PO-1", partner_id="P-0042", message_id="m-3")
    with db.session() as session:
        resolve_exception(session, c, "fixed")

    def ids(**query) -> list[str]:
        return [row.id for row in list_exceptions(db, ExceptionFilter(**query))]

    assert ids() == [b, a]  # open ones, newest first
    assert ids(status=None) == [c, b, a]
    assert ids(status="resolved") == [c]
    assert ids(kind="duplicate_document") == [b]
    assert ids(partner_id="P-0042", status=None) == [c, a]
    assert ids(document_key="PO-1") == [a]
    assert ids(message_id="m-2") == [b]
    with pytest.raises(ValueError, match="unknown exception kind 'no_such'"):
        ids(kind="no_such")
    with pytest.raises(ValueError, match="unknown status"):
        ids(status="closed")


def test_review_queue_resolve_records_who_and_why_and_refuses_twice(db) -> None:
    from types import SimpleNamespace

    from hub.review import describe, get_exception, resolve

    exception_id = _record(db, document_key="PO-9", offending_value="BUYER_ITEM:X-1")
    hub = SimpleNamespace(db=db)  # no re-run: the broker is not needed
    assert resolve(hub, [exception_id], by="alice", why="item added to the crosswalk") == []
    shown = describe(get_exception(db, exception_id))
    assert shown["status"] == "resolved" and shown["resolution"] == "item added to the crosswalk (by alice)"
    assert (shown["section_c"], shown["title"], shown["offending_value"]) == (10, "Unknown vendor item", "BUYER_ITEM:X-1")
    with pytest.raises(ValueError, match="already resolved"):
        resolve(hub, [exception_id], by="bob", why="again")
    with pytest.raises(KeyError, match="no business exception nope"):
        resolve(hub, ["nope"], by="bob", why="x")
    orphan = _record(db, document_key="PO-10")  # recorded outside a message: nothing to re-run
    with pytest.raises(ValueError, match="no stored message to re-run"):
        resolve(hub, [orphan], by="bob", why="x", rerun=True)
    assert get_exception(db, orphan).status == "open"
    gone = _record(db, document_key="PO-11", message_id="msg-never-stored")
    with pytest.raises(ValueError, match="no stored message to re-run"):
        resolve(hub, [gone], by="bob", why="x", rerun=True)
    assert get_exception(db, gone).status == "open"
