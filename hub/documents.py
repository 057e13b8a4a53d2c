"""Following a business document across messages: one PO number from the order the hub sent,
through the supplier's acknowledgement and ship notice, the goods receipt, to the invoice
(850 → 855 → 856 → receipt → 810, or ORDERS → ORDRSP → DESADV → RECADV → INVOIC).

Every document a route emits or holds is indexed in ``document_refs`` by the business numbers
it carries — its own key and the numbers it refers to (``po_number`` in the header or on any
line, ``asn_number``, ``invoice_number``, ``receipt_id``) — in the same transaction as the
route's stages and deliveries. ``trail(db, "PO-4500012")`` then lists, oldest first, every
document that names that number, with the message it came from and where it was delivered.

The same index answers "has the supplier acknowledged this PO?": a partner's
``business_answers`` (registry) make the ``render:`` step note an ``expected_answers`` row for
each PO it sends; ``overdue_answers`` lists those delivered longer ago than the partner's
window with no purchase_order_ack naming the PO, and ``record_overdue_answers`` puts each on
the review queue once (domain.md C #17).

A route can also keep a document whole (``store_document`` step, table ``stored_documents``):
the purchase orders the hub sends are kept so that the supplier's acknowledgements, ship
notices and invoices can be matched against them (``po_match``, hub/canonical/matching.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, select, update

from hub.payloads import identity
from hub.store import Delivery, DocumentRef, ExpectedAnswer, Message, StoredDocument, utcnow

# The numbers that tie the documents of one order together (domain.md A field names).
TRAIL_FIELDS = ("po_number", "asn_number", "invoice_number", "receipt_id", "recall_id")


def _getter(body: Any):
    if isinstance(body, BaseModel):
        return lambda name: getattr(body, name, None)
    if isinstance(body, dict):
        return body.get
    return None


def references(body: Any) -> list[tuple[str, str]]:
    """(field, value) of every business number ``body`` carries, without repeats: the header's
    and the lines' TRAIL_FIELDS, led by its own key when no such field names it (item_id ...)."""
    return _references(body, *identity(body))


def _references(body: Any, doc_type: str | None, key: str | None) -> list[tuple[str, str]]:
    get = _getter(body)  # None for a rendered EDI body: it knows only its key
    holders = [get, *filter(None, (_getter(line) for line in get("lines") or ()))] if get is not None else []
    found = {(name, str(value)): None for holder in holders for name in TRAIL_FIELDS
             if (value := holder(name)) not in (None, "")}
    if doc_type is not None and key is not None and all(value != key for _, value in found):
        found = {("document_key", key): None, **found}
    return list(found)


def ref_rows(message_id: str, route: str, body: Any, status: str, at: datetime) -> list[dict[str, Any]]:
    """The ``document_refs`` rows of one emitted (``status`` "emitted") or held document."""
    doc_type, key = identity(body)
    return [{"message_id": message_id, "route": route, "document_type": doc_type, "document_key": key,
             "ref_field": name, "ref_value": value[:256], "status": status, "created_at": at}
            for name, value in _references(body, doc_type, key)]


@dataclass
class TrailEntry:
    at: datetime
    message_id: str
    route: str
    document_type: str | None
    document_key: str | None
    status: str  # emitted / held
    fields: list[str]  # where the number stands in this document (document_key, po_number ...)
    sender: str | None
    filename: str | None
    deliveries: list[tuple[str, str]] = field(default_factory=list)  # (endpoint, status)


def trail(db, value: str) -> list[TrailEntry]:
    """Every document that carries ``value``, oldest first, with its deliveries."""
    with db.read() as session:
        rows = session.execute(
            select(DocumentRef, Message.sender, Message.filename)
            .join(Message, Message.id == DocumentRef.message_id)
            .where(DocumentRef.ref_value == value)
            .order_by(DocumentRef.created_at, DocumentRef.id)).all()
        entries: dict[tuple, TrailEntry] = {}
        for ref, sender, filename in rows:
            key = (ref.message_id, ref.route, ref.document_type, ref.document_key, ref.status)
            entry = entries.get(key)
            if entry is None:
                entry = entries[key] = TrailEntry(ref.created_at, ref.message_id, ref.route, ref.document_type,
                                                  ref.document_key, ref.status, [], sender, filename)
            entry.fields.append(ref.ref_field)
        message_ids = {e.message_id for e in entries.values()}
        deliveries = session.execute(
            select(Delivery.message_id, Delivery.route, Delivery.document_type, Delivery.document_key,
                   Delivery.endpoint, Delivery.status)
            .where(Delivery.message_id.in_(message_ids)).order_by(Delivery.seq)).all() if message_ids else []
    for message_id, route, doc_type, doc_key, endpoint, status in deliveries:
        entry = entries.get((message_id, route, doc_type, doc_key, "emitted"))
        if entry is not None:
            entry.deliveries.append((endpoint, status))
    return list(entries.values())


def format_trail(value: str, entries: list[TrailEntry]) -> str:
    """The trail as lines; numbers and senders come from partners' documents, so they are shown
    with control and direction characters escaped (``hub.operations.terminal.printable``)."""
    from hub.operations.terminal import printable

    if not entries:
        return f"no document carries {printable(repr(value))}"
    lines = [f"{printable(value)}: {len(entries)} document(s)"]
    for e in entries:
        where = ", ".join(f"{endpoint} {status}" for endpoint, status in e.deliveries) or (
            "held for review" if e.status == "held" else "no delivery")
        lines.append(f"{e.at.strftime('%Y-%m-%d %H:%M:%S')}  {e.document_type or '-':<20} "
                     f"{printable(e.document_key) or '-':<20} as {'/'.join(e.fields):<24} route {e.route}  message "
                     f"{e.message_id} from {printable(e.sender) or '-'}  → {where}")
    return "\n".join(lines)


# -- answers partners owe (domain.md C #17) ------------------------------------------------------


def expect_answer(session, *, partner_id: str, answer, document_type: str, document_key: str, message_id: str,
                  route: str | None) -> None:
    """Note that the partner owes ``answer`` (a ``BusinessAnswer``) for the document sent in
    ``message_id``; a re-run of the same message notes it once."""
    exists = session.scalars(select(ExpectedAnswer.id).where(
        ExpectedAnswer.message_id == message_id, ExpectedAnswer.document_type == document_type,
        ExpectedAnswer.document_key == document_key)).first()
    if exists is None:
        session.add(ExpectedAnswer(message_id=message_id, route=route, partner_id=partner_id,
                                   document_type=document_type, document_key=document_key,
                                   answer_type=answer.answer, within_seconds=answer.seconds, created_at=utcnow()))


def overdue_answers(db, now: datetime | None = None) -> list[dict[str, Any]]:
    """Documents the hub delivered whose answer has not arrived within the partner's window,
    counted from the first delivery of the document (an undelivered one is owed nothing). An
    answer is any document of the answer type — emitted or held for review — that carries the
    document's key (a PO's 855 names its PO number)."""
    now = now or utcnow()
    # An answer that came before the document was sent answers an earlier version of it. The PO
    # number is the hub's own, so the number (not the sender's id) ties the answer to the order.
    answered = select(DocumentRef.id).where(DocumentRef.document_type == ExpectedAnswer.answer_type,
                                            DocumentRef.ref_value == ExpectedAnswer.document_key,
                                            DocumentRef.created_at >= ExpectedAnswer.created_at)
    out = []
    rows = sent_expectations(db, ~answered.exists())
    for expected, sent_at in rows:
        due = sent_at + timedelta(seconds=expected.within_seconds)
        if due < now:
            out.append({"id": expected.id, "partner_id": expected.partner_id, "document_type": expected.document_type,
                        "document_key": expected.document_key, "answer_type": expected.answer_type,
                        "message_id": expected.message_id, "route": expected.route, "sent_at": sent_at,
                        "due_at": due, "overdue_seconds": (now - due).total_seconds(),
                        "reported_at": expected.reported_at})
    return sorted(out, key=lambda r: r["due_at"])


def sent_expectations(db, *conditions) -> list[tuple[ExpectedAnswer, datetime]]:
    """(expected answer, when its document was first delivered) for every delivered document
    an answer is owed for, filtered by ``conditions`` (hub.sla's clocks start there too)."""
    sent = (select(Delivery.message_id, Delivery.document_key, func.min(Delivery.delivered_at).label("sent_at"))
            .where(Delivery.status == "delivered").group_by(Delivery.message_id, Delivery.document_key).subquery())
    with db.read() as session:
        return [tuple(row) for row in session.execute(
            select(ExpectedAnswer, sent.c.sent_at)
            .join(sent, (sent.c.message_id == ExpectedAnswer.message_id)
                  & (sent.c.document_key == ExpectedAnswer.document_key))
            .where(*conditions)).all()]


def record_overdue_answers(db, now: datetime | None = None, only: str | None = None) -> int:
    """Record each answer overdue at ``now`` (default: the clock) once as a business exception
    for the review queue (po_not_acknowledged for a PO, domain.md C #17; else
    ack_missing_or_negative, C #8); ``only``: the answers owed for that document number (the
    partner simulator judges its own PO at a simulated time). Returns how many were recorded."""
    from hub.business_exceptions import record_exception

    late = [r for r in overdue_answers(db, now) if r["reported_at"] is None and only in (None, r["document_key"])]
    recorded = 0
    with db.session() as session:
        for r in late:
            # Claimed in the same transaction as the record: two overlapping runs record it once.
            claimed = session.execute(update(ExpectedAnswer).where(
                ExpectedAnswer.id == r["id"], ExpectedAnswer.reported_at.is_(None)).values(reported_at=utcnow()))
            if claimed.rowcount != 1:
                continue
            recorded += 1
            kind = "po_not_acknowledged" if r["document_type"] == "purchase_order" else "ack_missing_or_negative"
            record_exception(session, kind=kind, document_type=r["document_type"], document_key=r["document_key"],
                             partner_id=r["partner_id"], message_id=r["message_id"], route=r["route"],
                             message=f"no {r['answer_type']} from {r['partner_id']} for {r['document_type']} "
                                     f"{r['document_key']}: due {r['due_at']:%Y-%m-%d %H:%M} UTC",
                             detail={"sent_at": r["sent_at"].isoformat(), "due_at": r["due_at"].isoformat()})
    return recorded


# -- stored documents (matching later documents against them) -----------------------------------


def store_document(session, document: dict[str, Any], *, message_id: str, route: str | None) -> None:
    """Keep a canonical document (its JSON form) under its type and key; a re-run of the same
    message replaces its earlier copy."""
    doc_type, key = identity(document)
    if doc_type is None or key is None:
        raise ValueError("only a canonical document with a key can be stored")
    earlier = session.scalars(select(StoredDocument).where(
        StoredDocument.document_type == doc_type, StoredDocument.document_key == key,
        StoredDocument.message_id == message_id)).first()
    if earlier is not None:
        earlier.body = document  # keeps its place in time: a re-run of an old PO does not supersede a newer one
    else:
        session.add(StoredDocument(document_type=doc_type, document_key=key, message_id=message_id, route=route,
                                   body=document, created_at=utcnow()))


def latest_document(db, document_type: str, key: str) -> dict[str, Any] | None:
    """The newest stored document of that type and key (a changed PO supersedes the first)."""
    with db.read() as session:
        return session.scalars(select(StoredDocument.body).where(
            StoredDocument.document_type == document_type, StoredDocument.document_key == key)
            .order_by(StoredDocument.created_at.desc(), StoredDocument.id.desc())).first()


def stored_naming(db, document_type: str, number: str, *, except_key: str | None = None) -> list[dict[str, Any]]:
    """The newest stored copy of every ``document_type`` document that names ``number`` (per the
    document trail), but the one keyed ``except_key``: e.g. the earlier ship notices of a PO."""
    with db.read() as session:
        rows = session.execute(
            select(StoredDocument.document_key, StoredDocument.body)
            .join(DocumentRef, (DocumentRef.message_id == StoredDocument.message_id)
                  & (DocumentRef.document_type == StoredDocument.document_type)
                  & (DocumentRef.document_key == StoredDocument.document_key))
            .where(StoredDocument.document_type == document_type, DocumentRef.ref_value == number,
                   DocumentRef.status == "emitted")
            .order_by(StoredDocument.created_at, StoredDocument.id)).all()
    newest = {key: body for key, body in rows if key != except_key}  # later copies replace earlier
    return list(newest.values())


def stored_all(db, document_type: str) -> list[dict[str, Any]]:
    """The newest stored copy of every document of ``document_type`` (e.g. the recalls)."""
    with db.read() as session:
        rows = session.execute(select(StoredDocument.document_key, StoredDocument.body)
                               .where(StoredDocument.document_type == document_type)
                               .order_by(StoredDocument.created_at, StoredDocument.id)).all()
    return list({key: body for key, body in rows}.values())
