"""Ingest: the one door every inbound connector goes through.

``accept`` commits the raw message, its ``received`` stage and its outbox row in one
transaction — only then may a connector tell its sender "accepted" — and then publishes to
the ingress exchange with a confirm. If the broker is away the message waits in the outbox
and the relay publishes it later; ``Accepted.published`` says which happened.

An inbound may carry the sender's own key for it (``Inbound.client_key``, the API's
``Idempotency-Key``): the key is taken in that same transaction, so a retry of a request whose
answer was lost finds the message made the first time and gets it back (``Accepted.replayed``)
instead of a second message; see ``hub.store.ingest_keys``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.broker.publisher import Outcome
from hub.broker.topology import ingress_key
from hub.celery_app import task_message
from hub.ids import new_id
from hub.outbox import add_entries, entry_for, publish_rows
from hub.store import Message, OutboxEntry, Stage, ingest_keys, insert_rows, utcnow
from hub.store.ingest_keys import ClientKey

INGRESS_TASK = "hub.ingress"


class MessageTooLarge(ValueError):
    def __init__(self, size: int, limit: int) -> None:
        self.size, self.limit = size, limit
        super().__init__(f"message of {size} bytes exceeds the limit of {limit} bytes (HUB_MAX_MESSAGE_BYTES)")


@dataclass
class Inbound:
    raw: bytes
    format: str
    doctype: str
    sender: str
    channel: str
    receiver: str | None = None
    filename: str | None = None
    headers: dict[str, Any] = field(default_factory=dict)
    correlation_id: str | None = None
    # A connector may fix the id up front (the file drop names its claimed file after it, so
    # a restart can tell whether that file was already stored).
    message_id: str | None = None
    # The sender's key for this message: a second inbound with the same key and body gets the
    # first one's message back instead of being stored again.
    client_key: ClientKey | None = None


@dataclass
class Accepted:
    message_id: str
    routing_key: str
    published: bool
    routed: bool
    # An earlier message under the same client key: nothing was stored or published this time,
    # and published/routed describe that message as it is now.
    replayed: bool = False


def ingress_message(hub, message_id: str, routing_key: str, headers: dict[str, Any] | None = None):
    return task_message(hub.celery, INGRESS_TASK, [message_id], task_id=message_id,
                        exchange=hub.topology.ingress.name, routing_key=routing_key,
                        headers={"hub_message_id": message_id, **(headers or {})})


class Ingest:
    def __init__(self, hub) -> None:
        self.hub = hub

    def accept(self, inbound: Inbound) -> Accepted:
        return self.accept_many([inbound])[0]

    def accept_many(self, inbounds: Sequence[Inbound]) -> list[Accepted]:
        limit = self.hub.settings.max_message_bytes
        for item in inbounds:
            if len(item.raw) > limit:
                raise MessageTooLarge(len(item.raw), limit)
        try:
            return self._store(inbounds)
        except IntegrityError as exc:
            if not ingest_keys.is_key_collision(exc):
                raise
        # A concurrent request took one of the keys between our check and our commit; its
        # message is committed now, so this second pass finds it and answers with it.
        return self._store(inbounds)

    def replay(self, client_key: ClientKey) -> Accepted | None:
        """The earlier message under ``client_key`` (None when the key is free); raises
        ``KeyConflict`` when the key named another body. A read only: lets a caller answer a
        retry before doing work that must not run twice (the API's synchronous ack)."""
        with self.hub.db.read() as session:
            message_id = ingest_keys.earlier(session, client_key, utcnow())
            return None if message_id is None else _replayed(session, message_id)

    def _store(self, inbounds: Sequence[Inbound]) -> list[Accepted]:
        """One transaction: each inbound's message, outbox row and key, or the earlier message
        its key names (a KeyConflict stores nothing of the batch). Then publishes the new rows."""
        rows, keys, replays = [], [], {}
        unwritten = _NewRows()
        now = utcnow()
        with self.hub.db.session() as session:
            for index, item in enumerate(inbounds):
                earlier = ingest_keys.earlier(session, item.client_key, now) if item.client_key else None
                if earlier is not None:
                    replays[index] = earlier
                    continue
                message_id = item.message_id or new_id()
                key = ingress_key(item.format, item.doctype, item.sender)
                message, received = self.hub.store.message_rows(
                    item.raw, format=item.format, doctype=item.doctype, sender=item.sender,
                    channel=item.channel, receiver=item.receiver, filename=item.filename,
                    headers=item.headers, correlation_id=item.correlation_id, message_id=message_id,
                )
                row = entry_for(ingress_message(self.hub, message_id, key), purpose="ingress", message_id=message_id)
                unwritten.add(message, received, row)
                if item.client_key is not None:
                    # The key names its message (a foreign key), and the next item's lookup
                    # must see this key: the message goes in first, the key at once after.
                    unwritten.write(session)
                    ingest_keys.take(session, item.client_key, message_id, now)
                rows.append(row)
                keys.append(key)
            unwritten.write(session)
            if any(item.client_key for item in inbounds):
                ingest_keys.purge_expired(session, now)
        # Committed: the message is safe. Publishing may fail; the relay will catch up.
        outcomes = publish_rows(self.hub, rows)
        fresh = iter([
            Accepted(r.message_id, k, published=o in (Outcome.CONFIRMED, Outcome.RETURNED), routed=o is Outcome.CONFIRMED)
            for r, k, o in zip(rows, keys, outcomes, strict=True)
        ])
        if not replays:
            return list(fresh)
        with self.hub.db.read() as session:
            return [_replayed(session, replays[i]) if i in replays else next(fresh) for i in range(len(inbounds))]


@dataclass
class _NewRows:
    """A batch's new messages, their ``received`` stages and outbox rows, written together: one
    statement per table for the batch (hub.store.insert_rows) instead of the ORM's per-row
    flush, which cost ingest about half its CPU (docs/backbone.md)."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    stages: list[dict[str, Any]] = field(default_factory=list)
    entries: list[OutboxEntry] = field(default_factory=list)

    def add(self, message: dict[str, Any], received: dict[str, Any], entry: OutboxEntry) -> None:
        self.messages.append(message)
        self.stages.append(received)
        self.entries.append(entry)

    def write(self, session: Session) -> None:
        insert_rows(session, Message, self.messages)
        insert_rows(session, Stage, self.stages)
        add_entries(session, self.entries)
        self.messages, self.stages, self.entries = [], [], []


def _replayed(session: Session, message_id: str) -> Accepted:
    """An earlier message as it stands: published once its ingress publish was recorded, routed
    unless the broker returned it (no queue bound for its key)."""
    msg = session.get(Message, message_id)
    stages = set(session.scalars(select(Stage.stage).where(Stage.message_id == message_id)))
    published = "published" in stages or "unrouted" in stages
    return Accepted(message_id, ingress_key(msg.format, msg.doctype, msg.sender), published=published,
                    routed=published and "unrouted" not in stages, replayed=True)
