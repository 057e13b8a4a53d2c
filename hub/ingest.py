"""Ingest: the one door every inbound connector goes through.

``accept`` commits the raw message, its ``received`` stage and its outbox row in one
transaction — only then may a connector tell its sender "accepted" — and then publishes to
the ingress exchange with a confirm. If the broker is away the message waits in the outbox
and the relay publishes it later; ``Accepted.published`` says which happened.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hub.broker.publisher import Outcome
from hub.broker.topology import ingress_key
from hub.celery_app import task_message
from hub.ids import new_id
from hub.outbox import entry_for, publish_rows

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


@dataclass
class Accepted:
    message_id: str
    routing_key: str
    published: bool
    routed: bool


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
        rows, keys = [], []
        with self.hub.db.session() as session:
            for item in inbounds:
                message_id = item.message_id or new_id()
                key = ingress_key(item.format, item.doctype, item.sender)
                self.hub.store.add_message(
                    session, item.raw, format=item.format, doctype=item.doctype, sender=item.sender,
                    channel=item.channel, receiver=item.receiver, filename=item.filename,
                    headers=item.headers, correlation_id=item.correlation_id, message_id=message_id,
                )
                row = entry_for(ingress_message(self.hub, message_id, key), purpose="ingress", message_id=message_id)
                session.add(row)
                rows.append(row)
                keys.append(key)
        # Committed: the message is safe. Publishing may fail; the relay will catch up.
        outcomes = publish_rows(self.hub, rows)
        return [
            Accepted(r.message_id, k, published=o in (Outcome.CONFIRMED, Outcome.RETURNED), routed=o is Outcome.CONFIRMED)
            for r, k, o in zip(rows, keys, outcomes, strict=True)
        ]
