"""``POST /api/v1/messages?ack=sync``: the acknowledgement (TA1/997/999, CONTRL) in the answer.

The engines' own ``ack: auto`` component does the work, exactly as a route would: it maps the
file (so the ack reports what translation finds), logs the inbound interchange in the
interchange log (a duplicate is answered TA1 025 / CONTRL 26), allocates the ack's control
numbers and logs the ack as sent. The message is then stored with ``ack: sync``, the refused
interchanges (duplicates, unknown senders, test/production mismatches) and the parts the
sender's agreement does not cover in its headers; the route's ``ack: auto`` step sees ``ack:
sync`` and does not acknowledge a second time, and ``split: transaction`` still leaves them out.
The checks run with the step's defaults here (``HUB_EDI_USAGE``, ``versions: enforce``): the
acknowledgement is due before any route is chosen.

If storing the message fails after the ack was built, the interchange log rows written for it
are removed again, so the partner's retry is not mistaken for a duplicate.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from hub.exchange import Exchange
from hub.partners import PartnerRegistry
from hub.registry import PARSERS, RouteEnv, StepError, load_plugins

EDI_FORMATS = ("x12", "edifact")


class SyncAckError(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def acknowledge_now(hub, raw: bytes, fmt: str, message_id: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(acks for the response, headers to store with the message)."""
    if fmt not in EDI_FORMATS:
        raise SyncAckError(400, f"?ack=sync is for X12 and EDIFACT messages, not {fmt}")
    load_plugins()
    from edi.common.route_steps import REFUSED_HEADER, REJECTED_PARTS_HEADER, AckStep

    parser = PARSERS.get(fmt)
    if parser is None:
        raise SyncAckError(501, f"the {fmt} engine is not installed in this build")
    ex = Exchange(message_id=message_id, body=raw, format=fmt, doctype="", sender="", headers={})
    options = parser.Config.model_validate({"envelope_errors": "keep"}) if parser.Config else None
    try:
        ex.body = parser.fn(raw, options, ex)
        env = RouteEnv("api", {"db": hub.db, "partners": PartnerRegistry(hub.db), "hub": hub,
                               "settings": hub.settings})
        AckStep(AckStep.configure({"endpoint": "api-sync"}), env).process(ex)
    except StepError as exc:
        raise SyncAckError(400, f"{fmt}: {exc}") from None
    acks = [{"document_type": out.document_type, "control_number": out.document_key,
             "content_type": out.content_type, "data": out.body.decode("utf-8", errors="replace")}
            for out in ex.side_outputs]
    # The refused interchanges (duplicates, unknown senders, test/production mismatches) and the
    # rejected parts (not in the sender's agreement) travel with the stored message, so the
    # route's `split: transaction` leaves them out exactly as after its own ack step.
    return acks, {REFUSED_HEADER: ex.headers.get(REFUSED_HEADER, {}),
                  REJECTED_PARTS_HEADER: ex.headers.get(REJECTED_PARTS_HEADER, {}), "ack": "sync"}


def forget(hub, message_id: str) -> None:
    """Remove what ``acknowledge_now`` logged for a message that was then not stored: its
    interchange-log rows and the business exceptions its checks recorded (they would point at a
    message that does not exist, and come again with the partner's retry)."""
    from edi.common.interchanges import GroupRecord, InterchangeRecord
    from hub.business_exceptions import BusinessException

    with hub.db.session() as session:
        session.execute(delete(BusinessException).where(BusinessException.message_id == message_id))
        ids = list(session.scalars(select(InterchangeRecord.id).where(InterchangeRecord.message_id == message_id)))
        if ids:
            session.execute(delete(GroupRecord).where(GroupRecord.interchange_id.in_(ids)))
            session.execute(delete(InterchangeRecord).where(InterchangeRecord.id.in_(ids)))
