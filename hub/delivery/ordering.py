"""Ordered delivery per business key (an endpoint with ``ordered_by: document_key``).

Why: an ERP that receives "PO 4711 changed" before "PO 4711 created" — because the first one
was retried, or its worker died — applies them wrong. For such an endpoint, a document waits
(``blocked``) while an earlier document with the same key is not settled, also across
retries, circuit waits and redeliveries. "Earlier" is the order the hub received the
messages in (then the order inside a message). A document that is dead-lettered or discarded
is settled: it steps aside, so one poison document never blocks its key forever, and other
keys are never blocked at all.

A document can also be overtaken before it exists as a delivery: its message may still be
routing when a later message's document with the same key reaches the endpoint. So an
earlier message of the same format, document type and sender (the triple routes bind on)
that is still ``received`` or ``routing`` blocks it too. The scheduler
(``hub.delivery.schedule``) releases blocked deliveries once nothing earlier is open.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import and_, or_, select, tuple_

from hub.delivery import states
from hub.store import Delivery, Message
from hub.store.status import RECEIVED, ROUTING

LOOK_BACK = timedelta(days=1)  # an earlier document older than this no longer holds a key


def blocker(hub, d) -> str | None:
    """The id of an earlier delivery or message that delivery ``d`` (a row or object with id,
    message_id, endpoint, seq, document_key, received_at) must wait for, or None."""
    received_at = d.received_at
    if d.document_key is None or received_at is None:
        return None
    earlier = tuple_(Delivery.received_at, Delivery.message_id, Delivery.seq) < tuple_(
        received_at, d.message_id, d.seq)
    earlier_delivery = (select(Delivery.id).where(
        Delivery.endpoint == d.endpoint, Delivery.document_key == d.document_key,
        Delivery.status.in_(states.UNSETTLED), Delivery.id != d.id,
        Delivery.received_at >= received_at - LOOK_BACK, earlier).limit(1))
    with hub.db.read() as session:
        found = session.scalar(earlier_delivery)
        if found is not None:
            return found
        own = session.get(Message, d.message_id)
        if own is None:
            return None
        earlier_message = (select(Message.id).where(
            Message.format == own.format, Message.doctype == own.doctype, Message.sender == own.sender,
            Message.status.in_((RECEIVED, ROUTING)), Message.id != own.id,
            Message.received_at >= received_at - LOOK_BACK,
            or_(Message.received_at < received_at, and_(Message.received_at == received_at, Message.id < own.id)))
            .limit(1))
        return session.scalar(earlier_message)
