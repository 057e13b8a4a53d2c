"""Client idempotency keys: a sender's retry of a request the hub already accepted is answered
with the message it made then, never stored as a second message.

A sender that lost the hub's answer (the process was killed after the commit, the connection
dropped) cannot know whether its message was stored; it sends again. Without a key the hub
takes the retry for a new message, routes it and delivers its documents a second time, under
new delivery keys the receiver cannot recognise. With a key (``Idempotency-Key`` on the API)
the key is written in the same transaction as the message and its outbox row
(``hub.ingest``), so "the message exists" and "the key is taken" are one fact.

- Keys are scoped: ``scope`` is who chose the key (the authenticated partner), so two senders
  that happen to pick the same key never meet. (scope, key) is the primary key: of two
  concurrent requests with one key, one insert wins and the other reads the winner's row.
- The body's SHA-256 is kept with the key: the same key with another body is a client error
  (``KeyConflict``), never silently answered with the first message.
- A key is remembered for a time (``ttl``): each row carries its ``expires_at``, so a purge
  needs no knowledge of who wrote the row or with which ttl. An expired key may be used again
  (its row is replaced); expired rows are deleted a bounded batch at a time by the writers
  (``purge_expired``), so the table needs no scheduled job and no insert pays for a backlog.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, String, delete, select, tuple_
from sqlalchemy.orm import Mapped, Session, mapped_column

from hub.db import Base
from hub.store.models import UTCDateTime

DEFAULT_TTL = timedelta(days=7)
PURGE_BATCH = 100  # expired rows one writer deletes at most: a backlog is spread over many inserts


class IngestKey(Base):
    __tablename__ = "ingest_keys"

    scope: Mapped[str] = mapped_column(String(128), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id"))
    body_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


@dataclass(frozen=True)
class ClientKey:
    """A sender's key for one inbound message: who chose it, the key, and the body it names."""

    scope: str
    key: str
    body_sha256: str
    ttl: timedelta = DEFAULT_TTL

    @classmethod
    def for_body(cls, scope: str, key: str, raw: bytes, ttl: timedelta = DEFAULT_TTL) -> ClientKey:
        return cls(scope, key, hashlib.sha256(raw).hexdigest(), ttl)


class KeyConflict(Exception):
    """The key was used before, within its time, for a different body."""

    def __init__(self, client: ClientKey, message_id: str) -> None:
        self.scope, self.key, self.message_id = client.scope, client.key, message_id
        super().__init__(f"key {client.key!r} of {client.scope} was first used for message {message_id} "
                         f"with a different body")


def earlier(session: Session, client: ClientKey, now: datetime) -> str | None:
    """The id of the message stored earlier under this key with this body, or None when the key
    is free (never used, or expired). Raises KeyConflict when it names another body."""
    row = session.scalar(select(IngestKey).where(IngestKey.scope == client.scope, IngestKey.key == client.key,
                                                 IngestKey.expires_at > now))
    if row is None:
        return None
    if row.body_sha256 != client.body_sha256:
        raise KeyConflict(client, row.message_id)
    return row.message_id


def take(session: Session, client: ClientKey, message_id: str, now: datetime) -> None:
    """Record the key for ``message_id`` (added after the message, in its transaction). An
    expired row under the same key is replaced; a live one makes the commit fail with an
    IntegrityError on the primary key — the caller then reads the winner with ``earlier``."""
    session.execute(delete(IngestKey).where(IngestKey.scope == client.scope, IngestKey.key == client.key,
                                            IngestKey.expires_at <= now))
    session.add(IngestKey(scope=client.scope, key=client.key, message_id=message_id,
                          body_sha256=client.body_sha256, created_at=now, expires_at=now + client.ttl))


def purge_expired(session: Session, now: datetime, limit: int = PURGE_BATCH) -> None:
    """Delete at most ``limit`` expired rows. ``SKIP LOCKED`` (PostgreSQL; SQLite has one writer
    at a time anyway) lets concurrent writers take different rows instead of waiting for, or
    deadlocking with, each other."""
    stale = (select(IngestKey.scope, IngestKey.key).where(IngestKey.expires_at <= now)
             .order_by(IngestKey.expires_at).limit(limit).with_for_update(skip_locked=True))
    session.execute(delete(IngestKey).where(tuple_(IngestKey.scope, IngestKey.key).in_(stale)))


def is_key_collision(exc: Exception) -> bool:
    """Whether an IntegrityError came from this table (a concurrent writer took the key first),
    as opposed to another constraint that a retry would only hit again."""
    return IngestKey.__tablename__ in str(getattr(exc, "orig", exc))
