"""A corrected payload resubmitted as a new version of a message.

Why: a supplier's file with one wrong quantity, or a CSV export with a broken date, is often
faster fixed by an operator than re-sent by its author. The original stays in the store
untouched (what was received is evidence); the corrected bytes become a new message with the
same format, document type, sender and channel, linked both ways: the new message's headers
name the original (``hub_edited_from``, ``hub_version``), the original's trace gets an
``edited`` stage naming the new one, and the original's parked dead letters are discarded as
superseded. Who did it and why is recorded like a replay. The new message goes through the
routes like any other, so its deliveries get new idempotency keys: it is a new version of the
document, not a repeat. That is why an original that already delivered documents is refused
unless the operator says the endpoints should get them again (``allow_resend``): a corrected
invoice sent to an ERP that took the first one is a second invoice there.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from hub.deadletters import discard_dead_letters
from hub.ids import new_id
from hub.ingest import Inbound, Ingest
from hub.store import DeadLetter, Delivery, Message, MessageStore, Replay, utcnow


class AlreadyDelivered(ValueError):
    pass


@dataclass
class Edited:
    original_id: str
    message_id: str
    version: int
    superseded_letters: list[str]


def resolve_original(hub, some_id: str) -> str:
    """A message id, or the message of a dead letter id."""
    with hub.db.read() as session:
        if session.get(Message, some_id) is not None:
            return some_id
        dl = session.get(DeadLetter, some_id)
        if dl is not None and dl.message_id:
            return dl.message_id
    raise KeyError(f"no message or dead letter with id {some_id}")


def resubmit(hub, some_id: str, corrected: bytes, *, by: str, why: str, filename: str | None = None,
             allow_resend: bool = False) -> Edited:
    original_id = resolve_original(hub, some_id)
    with hub.db.read() as session:
        original = session.get(Message, original_id)
        parked = list(session.scalars(select(DeadLetter.id).where(DeadLetter.message_id == original_id,
                                                                  DeadLetter.state == "parked")))
        delivered = session.execute(select(Delivery.endpoint, func.count()).where(
            Delivery.message_id == original_id, Delivery.status == "delivered").group_by(Delivery.endpoint)).all()
        earlier_edits = session.scalar(select(func.count()).select_from(Replay).where(
            Replay.message_id == original_id, Replay.target.like("edited:%"))) or 0
    if delivered and not allow_resend:
        went = ", ".join(f"{endpoint} ({n})" for endpoint, n in delivered)
        raise AlreadyDelivered(f"message {original_id} already delivered document(s) to {went}; a corrected "
                               f"version goes to every endpoint again under new idempotency keys. Give "
                               f"--allow-resend if they should get it")
    version = int((original.headers or {}).get("hub_version", 1)) + 1 + earlier_edits
    new_message_id = new_id()
    headers = {**(original.headers or {}), "hub_edited_from": original_id, "hub_version": version,
               "hub_edited_by": by}
    Ingest(hub).accept(Inbound(raw=corrected, format=original.format, doctype=original.doctype,
                               sender=original.sender, receiver=original.receiver, channel=original.channel,
                               filename=filename or original.filename, headers=headers,
                               correlation_id=original.correlation_id, message_id=new_message_id))
    with hub.db.session() as session:
        MessageStore.stage(session, original_id, "edited", detail={
            "new_message_id": new_message_id, "version": version, "by": by, "why": why})
        MessageStore.stage(session, new_message_id, "edited", detail={
            "edited_from": original_id, "version": version, "by": by, "why": why})
        session.add(Replay(message_id=original_id, target=f"edited:{new_message_id}", by=by, reason=why,
                           at=utcnow(), from_dlq=False))
    if parked:
        discard_dead_letters(hub, parked, by=by, why=f"superseded by edited message {new_message_id}: {why}")
    return Edited(original_id, new_message_id, version, parked)
