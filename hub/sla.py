"""SLA clocks of the order-to-invoice cycle, per partner agreement (domain.md C #8, #17, #31, #34).

Why here, in one place: each clock is a promise of a partner's registry entry that only the
absence of a document can break, so no route ever sees it happen. Four clocks run for every
purchase order the hub sends and every invoice it receives:

- ``functional_ack``: the 997/999/CONTRL for the PO's interchange, within the partner's
  ``acks: [{kind, within}]`` of the delivery that carried it (``connectors.edi_out.overdue_acks``)
  → ``ack_missing_or_negative`` (C #8, HOLD);
- ``acknowledgement``: the 855/ORDRSP, within ``business_answers: [{document: purchase_order,
  answer: purchase_order_ack, within}]`` (``hub.documents.overdue_answers``) →
  ``po_not_acknowledged`` (C #17, WARN);
- ``ship_notice``: the 856/DESADV, within ``{document: purchase_order, answer: ship_notice,
  within}`` of the PO's delivery and in any case before the PO's requested delivery date (start
  of that day, UTC) → ``asn_missing`` (C #31, WARN);
- ``receipt``: an invoice whose goods have no emitted goods receipt naming its PO within
  ``{document: invoice, answer: goods_receipt, within}`` of the invoice's arrival →
  ``invoice_without_receipt`` (C #34, HOLD).

``late`` lists what is late at a moment; ``record_clocks`` puts each late clock on the review
queue once (``hub acks overdue --record``, from cron); ``clocks_for`` says where each clock of
one document number stands (``hub documents trail``). A clock whose answer came late is kept
as recorded: the exception says it was late, an operator resolves it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select

from hub.business_exceptions import BusinessException, record_exception
from hub.partners import PartnerConfig, PartnerRegistry
from hub.store import DocumentRef, ExpectedAnswer, utcnow

# clock → the business exception it raises when it runs out
EXCEPTIONS = {"functional_ack": "ack_missing_or_negative", "acknowledgement": "po_not_acknowledged",
              "ship_notice": "asn_missing", "receipt": "invoice_without_receipt"}


@dataclass
class Late:
    clock: str
    partner_id: str | None
    document_type: str
    document_key: str
    owed: str  # what has not come: "997", "purchase_order_ack", "ship_notice", "goods_receipt"
    due_at: datetime
    now: datetime
    message_id: str | None = None
    route: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def exception(self) -> str:
        return EXCEPTIONS[self.clock]

    @property
    def overdue_hours(self) -> float:
        return (self.now - self.due_at).total_seconds() / 3600

    def __str__(self) -> str:
        return (f"{self.partner_id or '-'} {self.document_type} {self.document_key}: {self.owed} due "
                f"{self.due_at:%Y-%m-%d %H:%M} UTC, late {self.overdue_hours:.1f} h ({self.exception})")


def late(db, now: datetime | None = None, only: str | None = None) -> list[Late]:
    """Every clock that has run out at ``now`` (default: the clock), oldest due first; ``only``:
    the clocks of that document number (a PO's, or an invoice's)."""
    now = now or utcnow()
    found = _functional_acks(db, now) + _acknowledgements(db, now) + _ship_notices(db, now) + _receipts(db, now)
    if only is not None:
        found = [c for c in found if only in (c.document_key, c.detail.get("po_number"))]
    return sorted(found, key=lambda c: c.due_at)


def _functional_acks(db, now: datetime) -> list[Late]:
    from connectors.edi_out import overdue_acks

    return [Late("functional_ack", r["partner_id"], "purchase_order" if r["document_type"] in ("850", "ORDERS")
                 else str(r["document_type"]), str(r["document_key"]), str(r["ack_expected"]), r["due_at"], now,
                 r["message_id"], None, {"control_number": r["control_number"], "sent_at": r["sent_at"].isoformat()})
            for r in overdue_acks(db, now=now) if r["document_key"]]


def _acknowledgements(db, now: datetime) -> list[Late]:
    from hub.documents import overdue_answers

    return [Late("acknowledgement", r["partner_id"], r["document_type"], r["document_key"], r["answer_type"],
                 r["due_at"], now, r["message_id"], r["route"], {"sent_at": r["sent_at"].isoformat()})
            for r in overdue_answers(db, now=now) if r["answer_type"] == "purchase_order_ack"]


def _agreement(registry: PartnerRegistry, cache: dict, partner_id: str | None, document: str,
               answer: str) -> Any:
    if partner_id not in cache:
        cache[partner_id] = registry.by_id(partner_id) if partner_id else None
    partner: PartnerConfig | None = cache[partner_id]
    if partner is None:
        return None
    return next((a for a in partner.business_answers if a.document == document and a.answer == answer), None)


def _ship_notices(db, now: datetime) -> list[Late]:
    """POs sent (their first delivery) with no ship notice naming them by the agreed time or,
    sooner, by the requested delivery date."""
    from hub.documents import latest_document, sent_expectations

    rows = sent_expectations(db, ExpectedAnswer.document_type == "purchase_order")
    with db.read() as session:
        shipped = {value for (value,) in session.execute(select(DocumentRef.ref_value).where(
            DocumentRef.document_type == "ship_notice",
            DocumentRef.ref_value.in_([e.document_key for e, _ in rows] or [""])))}
    registry, cache, out = PartnerRegistry(db), {}, []
    for expected, sent_at in rows:
        agreement = _agreement(registry, cache, expected.partner_id, "purchase_order", "ship_notice")
        if agreement is None or expected.document_key in shipped:
            continue
        due = sent_at + timedelta(seconds=agreement.seconds)
        po = latest_document(db, "purchase_order", expected.document_key) or {}
        if po.get("requested_delivery_date"):
            by_delivery = datetime.combine(datetime.fromisoformat(po["requested_delivery_date"]).date(), time(), UTC)
            due = min(due, by_delivery)
        if due < now:
            out.append(Late("ship_notice", expected.partner_id, "purchase_order", expected.document_key,
                            "ship_notice", due, now, expected.message_id, expected.route,
                            {"sent_at": sent_at.isoformat(), "requested_delivery_date": po.get("requested_delivery_date")}))
    return out


def _receipts(db, now: datetime) -> list[Late]:
    """Invoices (emitted or held) naming a PO for which no goods receipt was emitted within the
    agreed time after the invoice arrived. The agreement is that of the PO's supplier."""
    from hub.documents import latest_document

    with db.read() as session:
        invoices = session.execute(
            select(DocumentRef.document_key, DocumentRef.ref_value, func.min(DocumentRef.created_at),
                   func.min(DocumentRef.message_id), func.min(DocumentRef.route))
            .where(DocumentRef.document_type == "invoice", DocumentRef.ref_field == "po_number")
            .group_by(DocumentRef.document_key, DocumentRef.ref_value)).all()
        received = {value for (value,) in session.execute(select(DocumentRef.ref_value).where(
            DocumentRef.document_type == "goods_receipt", DocumentRef.status == "emitted",
            DocumentRef.ref_value.in_([po for _, po, *_ in invoices] or [""])))}
    registry, cache, out = PartnerRegistry(db), {}, []
    for invoice_number, po_number, arrived, message_id, route in invoices:
        if po_number in received or invoice_number is None:
            continue
        po = latest_document(db, "purchase_order", po_number)
        partner_id = po.get("supplier_partner_id") if po else None
        agreement = _agreement(registry, cache, partner_id, "invoice", "goods_receipt")
        if agreement is None:
            continue
        due = arrived + timedelta(seconds=agreement.seconds)
        if due < now:
            out.append(Late("receipt", partner_id, "invoice", invoice_number, "goods_receipt", due, now, message_id,
                            route, {"po_number": po_number, "arrived_at": arrived.isoformat()}))
    return out


def record_clocks(db, now: datetime | None = None, only: str | None = None) -> list[Late]:
    """Put each clock late at ``now`` on the review queue once; returns those recorded now."""
    from hub.documents import record_overdue_answers

    now = now or utcnow()
    clocks = late(db, now, only)
    recorded = []
    fresh_acknowledgements = {(c.document_key, c.message_id) for c in clocks if c.clock == "acknowledgement"
                              and not _reported(db, c)}
    if fresh_acknowledgements:
        record_overdue_answers(db, now, only=only)  # claims each ExpectedAnswer row once
    with db.session() as session:
        for clock in clocks:
            if clock.clock == "acknowledgement":
                if (clock.document_key, clock.message_id) in fresh_acknowledgements:
                    recorded.append(clock)
                continue
            if _already(session, clock):
                continue
            record_exception(session, kind=clock.exception, document_type=clock.document_type,
                             document_key=clock.document_key, partner_id=clock.partner_id,
                             message_id=clock.message_id, route=clock.route,
                             message=f"no {clock.owed} from {clock.partner_id or 'the partner'} for "
                                     f"{clock.document_type} {clock.document_key}: due {clock.due_at:%Y-%m-%d %H:%M} UTC",
                             detail={"clock": clock.clock, "due_at": clock.due_at.isoformat(), **clock.detail})
            recorded.append(clock)
    return recorded


def _reported(db, clock: Late) -> bool:
    with db.read() as session:
        return session.scalar(select(ExpectedAnswer.reported_at).where(
            ExpectedAnswer.message_id == clock.message_id, ExpectedAnswer.document_key == clock.document_key)) is not None


def _already(session, clock: Late) -> bool:
    """Whether this clock of this document was recorded before (whatever became of it)."""
    rows = session.scalars(select(BusinessException.detail).where(
        BusinessException.kind == clock.exception, BusinessException.document_key == clock.document_key)).all()
    return any((detail or {}).get("clock") == clock.clock and (detail or {}).get("control_number") ==
               clock.detail.get("control_number") for detail in rows)


def clocks_for(db, number: str, now: datetime | None = None) -> list[str]:
    """Where each clock of a document number stands now: met, running (due when) or late."""
    now = now or utcnow()
    overdue = {(c.clock, c.document_key) for c in late(db, now, only=number)}
    lines = []
    with db.read() as session:
        expected = session.scalars(select(ExpectedAnswer).where(ExpectedAnswer.document_key == number)).all()
        refs = session.execute(select(DocumentRef.document_type, func.min(DocumentRef.created_at))
                               .where(DocumentRef.ref_value == number).group_by(DocumentRef.document_type)).all()
    seen = dict(refs)
    for row in expected:
        registry = PartnerRegistry(db).by_id(row.partner_id)
        answers = [a for a in (registry.business_answers if registry else []) if a.document == row.document_type]
        for answer in answers:
            clock = "acknowledgement" if answer.answer == "purchase_order_ack" else \
                "ship_notice" if answer.answer == "ship_notice" else None
            if clock is None:
                continue
            if answer.answer in seen:
                state = f"came {seen[answer.answer]:%Y-%m-%d %H:%M}"
            elif (clock, number) in overdue:
                state = "LATE (on the review queue: hub acks overdue --record)"
            else:
                state = f"owed within {answer.within} of the delivery"
            lines.append(f"clock {answer.answer} from {row.partner_id}: {state}")
    return lines
