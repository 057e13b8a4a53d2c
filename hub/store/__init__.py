"""The message store: durable record of every inbound message and everything that happens to it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from hub.ids import new_id
from hub.store.blobs import BlobStore
from hub.store.models import (
    DeadLetter,
    Delivery,
    DeliveryAttempt,
    DocumentRef,
    ExpectedAnswer,
    Message,
    MessageDocument,
    OutboxEntry,
    Replay,
    RouteRun,
    Stage,
    StoredDocument,
    utcnow,
)

__all__ = [
    "BlobStore", "DeadLetter", "Delivery", "DeliveryAttempt", "DocumentRef", "ExpectedAnswer", "Message",
    "MessageDocument", "MessageStore",
    "OutboxEntry", "Replay", "RouteRun", "Stage", "StoredDocument", "insert_rows", "utcnow",
]

# Stages a message passes; `hub trace` prints them in time order.
STAGES = (
    "received", "published", "unrouted", "routed", "filtered", "held", "refused", "transformed", "delivered",
    "retrying", "failed", "waiting", "blocked", "resent", "swept", "dead_lettered", "replayed", "discarded",
    "edited",
)


def insert_rows(session: Session, model: type, rows: list[dict[str, Any]]) -> None:
    """Insert many rows of one table as Core ``executemany`` statements, one per set of keys.

    Why not ``session.execute(insert(Model), rows)``: the ORM's bulk path works out each row's
    insert command in Python first, which profiling showed costing more than the rows' own
    round trip on the hot path (docs/backbone.md, "Where a document's time goes"). Column
    defaults apply as they do there; rows that name different columns go in separate
    statements, as the ORM groups them."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row), []).append(row)
    table = model.__table__
    for group in groups.values():
        session.execute(insert(table), group)


class MessageStore:
    """Writes and reads messages. Callers pass the session, so one transaction can hold a
    message, its stages and its outbox rows together."""

    def __init__(self, blobs: BlobStore, inline_max: int) -> None:
        self.blobs = blobs
        self.inline_max = inline_max

    def add_message(
        self,
        session: Session,
        raw: bytes,
        *,
        format: str,
        doctype: str,
        sender: str,
        channel: str,
        receiver: str | None = None,
        filename: str | None = None,
        headers: dict[str, Any] | None = None,
        correlation_id: str | None = None,
        message_id: str | None = None,
        received_at: datetime | None = None,
    ) -> Message:
        sha = hashlib.sha256(raw).hexdigest()
        message_id = message_id or new_id()
        inline = len(raw) <= self.inline_max
        msg = Message(
            id=message_id,
            received_at=received_at or utcnow(),
            format=format,
            doctype=doctype,
            sender=sender,
            receiver=receiver,
            channel=channel,
            filename=filename,
            headers=headers or {},
            correlation_id=correlation_id or message_id,
            sha256=sha,
            size=len(raw),
            raw=raw if inline else None,
            # The blob is on disk (fsynced) before the row commits: a committed row never
            # points at a missing file.
            blob=None if inline else self.blobs.put(raw, sha),
            status="received",
        )
        session.add(msg)
        session.add(Stage(message_id=message_id, stage="received", at=msg.received_at,
                          detail={"channel": channel, "size": len(raw), "sha256": sha}))
        return msg

    def raw(self, message: Message) -> bytes:
        if message.raw is not None:
            return message.raw
        if message.blob is None:
            raise ValueError(f"message {message.id} has neither inline bytes nor a blob")
        return self.blobs.get(message.blob)

    @staticmethod
    def stage(session: Session, message_id: str, stage: str, **fields: Any) -> Stage:
        """Add one line to a message's trace. (Its status is derived: hub.store.status.)"""
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}")
        row = Stage(message_id=message_id, stage=stage, at=fields.pop("at", None) or utcnow(), **fields)
        session.add(row)
        return row

    @staticmethod
    def get(session: Session, message_id: str) -> Message | None:
        return session.get(Message, message_id)

    @staticmethod
    def stages(session: Session, message_ids: Iterable[str]) -> list[Stage]:
        ids = list(message_ids)
        return list(session.scalars(select(Stage).where(Stage.message_id.in_(ids)).order_by(Stage.at, Stage.id)))
