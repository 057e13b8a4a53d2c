"""What the hub made of one order's cycle, read from the hub's own records — the document trail,
the interchange log and the review queue — never from what the simulator planted.

Why from the records: the summary is the proof the routes did their job. ``documents`` lists
the document types on the PO's trail (``hub documents trail``) in the order they first
appeared; ``exceptions`` the business exception kinds recorded for the cycle (its documents'
numbers, the messages the partner and the dock sent, the PO's SLA clocks), in the order they
were raised; ``matched`` is true when an invoice for the PO passed the three-way match
(emitted by ``po_match`` with ``three_way``, not held) and no exception of the cycle is open.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import or_, select

from connectors.edi_out import EDIFACT_MESSAGES, X12_SETS
from edi.common.interchanges import InterchangeRecord
from hub.business_exceptions import BusinessException, ExceptionStatus
from hub.documents import trail

# A document the hub rendered for a partner is on the trail under its wire name (850, ORDERS).
CANONICAL = {**X12_SETS, **EDIFACT_MESSAGES}


def summarize(db, po_number: str, *, messages: Iterable[str] = ()) -> dict[str, Any]:
    """The summary object of the cycle of ``po_number`` (``messages``: other messages of the
    cycle the trail cannot name, e.g. the partner's functional acks)."""
    entries = trail(db, po_number)
    for entry in entries:
        entry.document_type = CANONICAL.get(entry.document_type or "", entry.document_type)
    keys = {po_number} | {e.document_key for e in entries if e.document_key}
    cycle_messages = {e.message_id for e in entries} | set(messages)
    with db.read() as session:
        sent = session.scalars(select(InterchangeRecord).where(
            InterchangeRecord.direction == "out", InterchangeRecord.message_id.in_(
                [e.message_id for e in entries if e.document_type == "purchase_order"] or [""]))).all()
        ack_status = next((r.ack_status for r in sent if r.ack_expected), None)
        cycle_messages |= {r.ack_message_id for r in sent if r.ack_message_id}
        rows = session.scalars(select(BusinessException).where(or_(
            BusinessException.document_key.in_(keys), BusinessException.message_id.in_(cycle_messages)))
            .order_by(BusinessException.created_at, BusinessException.id)).all()
        exceptions = [{"id": r.id, "kind": r.kind, "severity": r.severity, "status": r.status,
                       "document": f"{r.document_type or '-'} {r.document_key or '-'}", "message": r.message}
                      for r in rows]
    invoiced = any(e.document_type == "invoice" and e.status == "emitted" for e in entries)
    still_open = [e for e in exceptions if e["status"] == ExceptionStatus.OPEN.value]
    return {
        "po_number": po_number,
        "documents": list(dict.fromkeys(e.document_type for e in entries if e.document_type)),
        "functional_ack": ack_status.lower() if ack_status else None,
        "exceptions": list(dict.fromkeys(e["kind"] for e in exceptions)),
        "matched": invoiced and not still_open,
        "invoice": "emitted" if invoiced else "held" if any(e.document_type == "invoice" for e in entries) else None,
        "open_exceptions": len(still_open),
        "trail": [{"at": e.at.isoformat(), "document_type": e.document_type, "document_key": e.document_key,
                   "status": e.status, "route": e.route, "message_id": e.message_id,
                   "deliveries": [f"{endpoint} {status}" for endpoint, status in e.deliveries]} for e in entries],
        "exception_details": exceptions,
    }


def format_summary(summary: dict[str, Any]) -> str:
    """The summary as lines for a terminal; partner text is escaped."""
    from hub.operations.terminal import printable

    lines = [f"PO {summary['po_number']} ({summary.get('partner', '-')}, scenario {summary.get('scenario', '-')})"]
    for entry in summary["trail"]:
        where = ", ".join(entry["deliveries"]) or ("held for review" if entry["status"] == "held" else "no delivery")
        lines.append(f"  {entry['document_type'] or '-':<20} {printable(entry['document_key'] or '-'):<24} "
                     f"route {entry['route']:<18} → {printable(where)}")
    lines.append(f"  functional ack: {summary['functional_ack'] or 'none received'}")
    for exception in summary["exception_details"]:
        lines.append(f"  exception {exception['kind']} ({exception['severity']}, {exception['status']}) "
                     f"{printable(exception['document'])}: {printable(exception['message'][:140])}")
    if not summary["exception_details"]:
        lines.append("  no business exception")
    lines.append("  " + _match_line(summary))
    if "expected" in summary:
        verdict = "as the scenario expects" if summary["as_expected"] else \
            f"NOT as the scenario expects (expected {', '.join(summary['expected']) or 'none'})"
        lines.append(f"  {verdict}")
    return "\n".join(lines)


def _match_line(summary: dict[str, Any]) -> str:
    if summary["matched"]:
        return "matched: the invoice passed the three-way match and nothing is open"
    if summary["invoice"] == "emitted":
        return (f"not matched: the invoice passed the three-way match, {summary['open_exceptions']} exception(s) "
                "of the cycle are open")
    if summary["invoice"] == "held":
        return "not matched: the invoice is held for review"
    return "not matched: no invoice"
