"""Tables of the message store: every inbound message, each stage it passes, the outbox,
deliveries with their attempts, dead letters and replays."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a real BIGINT.
BigId = BigInteger().with_variant(Integer, "sqlite")


class UTCDateTime(TypeDecorator):
    """Timezone-aware datetimes on every backend: stored in UTC, returned aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Message(Base):
    """An inbound message exactly as received. Raw bytes are inline or in a content-addressed blob."""

    __tablename__ = "messages"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    format: Mapped[str] = mapped_column(String(32))
    doctype: Mapped[str] = mapped_column(String(64))
    sender: Mapped[str] = mapped_column(String(128))
    receiver: Mapped[str | None] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(128))
    filename: Mapped[str | None] = mapped_column(String(512))
    headers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    correlation_id: Mapped[str] = mapped_column(String(128), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)
    blob: Mapped[str | None] = mapped_column(String(200))
    # Derived from the message's route runs, documents, deliveries and dead letters, never set
    # by hand (hub.store.status): received, routing, delivering, delivered, ...
    status: Mapped[str] = mapped_column(String(32), default="received")

    __table_args__ = (Index("ix_messages_status_received_at", "status", "received_at"),)


class Stage(Base):
    """One step of a message's life: received, published, routed, transformed, delivered ..."""

    __tablename__ = "message_stages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id"), index=True)
    stage: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    route: Mapped[str | None] = mapped_column(String(128))
    endpoint: Mapped[str | None] = mapped_column(String(128))
    delivery_id: Mapped[str | None] = mapped_column(String(36))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)


class OutboxEntry(Base):
    """A broker publish that must happen. Written in the same transaction as the work it announces."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(36), index=True)
    delivery_id: Mapped[str | None] = mapped_column(String(36))
    # ingress (a new message for the routes), egress (a delivery), dead_letter, replay
    purpose: Mapped[str] = mapped_column(String(16))
    exchange: Mapped[str] = mapped_column(String(255))
    routing_key: Mapped[str] = mapped_column(String(255))
    headers: Mapped[dict[str, Any]] = mapped_column(JSON)
    properties: Mapped[dict[str, Any]] = mapped_column(JSON)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    publish_after: Mapped[datetime | None] = mapped_column(UTCDateTime)  # a delayed publish (a route's retry)

    __table_args__ = (
        Index(
            "ix_outbox_pending",
            "id",
            postgresql_where=published_at.is_(None),
            sqlite_where=published_at.is_(None),
        ),
    )


class RouteRun(Base):
    """That a route has processed a message: makes redelivered route tasks idempotent."""

    __tablename__ = "route_runs"

    message_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    route: Mapped[str] = mapped_column(String(128), primary_key=True)
    status: Mapped[str] = mapped_column(String(32))
    outputs: Mapped[int] = mapped_column(Integer, default=0)  # deliveries it made
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    documents: Mapped[int] = mapped_column(Integer, default=0)  # documents emitted for delivery
    held: Mapped[int] = mapped_column(Integer, default=0)  # documents held for review
    refused: Mapped[int] = mapped_column(Integer, default=0)  # parts refused (duplicate, unknown partner ...)


class Delivery(Base):
    """One document for one endpoint. Its id is stable for (message, route, endpoint, seq),
    so a re-run route produces the same delivery and the same idempotency key."""

    __tablename__ = "deliveries"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id"), index=True)
    route: Mapped[str] = mapped_column(String(128))
    endpoint: Mapped[str] = mapped_column(String(128), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    document_type: Mapped[str | None] = mapped_column(String(64))
    document_key: Mapped[str | None] = mapped_column(String(256))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    content_type: Mapped[str] = mapped_column(String(128))
    headers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    idempotency_key: Mapped[str] = mapped_column(String(64))
    # hub.delivery.states: pending, sending, retrying, waiting, blocked, delivered, dead_lettered, discarded
    status: Mapped[str] = mapped_column(String(32), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # calls made (outages included)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failures: Mapped[int] = mapped_column(Integer, default=0)  # this document's failures since it was (re)sent
    outages: Mapped[int] = mapped_column(Integer, default=0)  # outage answers in a row for this document
    lost: Mapped[int] = mapped_column(Integer, default=0)  # worker processes that died holding it
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # retrying: when to try again
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)  # sending: the claim's expiry
    lease_holder: Mapped[str | None] = mapped_column(String(160))
    last_error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # its message's, for ordered delivery
    pending_since: Mapped[datetime | None] = mapped_column(UTCDateTime)  # last put on the broker (else created_at)
    waiting_since: Mapped[datetime | None] = mapped_column(UTCDateTime)  # first outage answer of this wait

    __table_args__ = (Index("ix_deliveries_status_endpoint", "status", "endpoint"),
                      Index("ix_deliveries_endpoint_document_key", "endpoint", "document_key"))


class MessageDocument(Base):
    """A canonical document a route emitted or held, as JSON, so operations can read what the
    hub made of a message (``hub messages show ID --canonical``) beside what it received and
    what it sent."""

    __tablename__ = "message_documents"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id"), index=True)
    route: Mapped[str] = mapped_column(String(128))
    seq: Mapped[int] = mapped_column(Integer)
    document_type: Mapped[str | None] = mapped_column(String(64))
    document_key: Mapped[str | None] = mapped_column(String(256))
    status: Mapped[str] = mapped_column(String(16))  # emitted, held
    body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DocumentRef(Base):
    """A business number (PO, ASN, invoice, receipt) a document emitted or held by a route
    carries: the index ``hub documents trail`` follows across messages (hub.documents)."""

    __tablename__ = "document_refs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id"), index=True)
    route: Mapped[str] = mapped_column(String(128))
    document_type: Mapped[str | None] = mapped_column(String(64))
    document_key: Mapped[str | None] = mapped_column(String(256))
    ref_field: Mapped[str] = mapped_column(String(32))
    ref_value: Mapped[str] = mapped_column(String(256), index=True)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ExpectedAnswer(Base):
    """A business answer a partner owes for a document the hub sent it (an 855/ORDRSP for a
    PO, domain.md C #17), from the partner's ``business_answers``. Answered when a route emits
    or holds a document of ``answer_type`` carrying ``document_key`` (hub.documents)."""

    __tablename__ = "expected_answers"
    __table_args__ = (UniqueConstraint("message_id", "document_type", "document_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id"), index=True)
    route: Mapped[str | None] = mapped_column(String(128))
    partner_id: Mapped[str] = mapped_column(String(128))
    document_type: Mapped[str] = mapped_column(String(64))
    document_key: Mapped[str] = mapped_column(String(256), index=True)
    answer_type: Mapped[str] = mapped_column(String(64))
    within_seconds: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StoredDocument(Base):
    """A canonical document a route kept with its ``store_document`` step (the purchase orders
    the hub sent, for instance), so later documents can be matched against it (hub.documents)."""

    __tablename__ = "stored_documents"
    __table_args__ = (UniqueConstraint("document_type", "document_key", "message_id"),
                      Index("ix_stored_documents_key", "document_type", "document_key"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    document_type: Mapped[str] = mapped_column(String(64))
    document_key: Mapped[str] = mapped_column(String(256))
    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id"), index=True)
    route: Mapped[str | None] = mapped_column(String(128))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeliveryAttempt(Base):
    """One call to an endpoint, with what the endpoint answered."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(ForeignKey("deliveries.id"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(String(32))
    status_code: Mapped[int | None] = mapped_column(Integer)
    response: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)


class DeadLetter(Base):
    """A message parked in a dead-letter queue, with its reason. Replayable."""

    __tablename__ = "dead_letters"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(36), index=True)
    delivery_id: Mapped[str | None] = mapped_column(String(36))
    route: Mapped[str | None] = mapped_column(String(128))
    endpoint: Mapped[str | None] = mapped_column(String(128))
    queue: Mapped[str] = mapped_column(String(255), index=True)
    reason: Mapped[str] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    task_name: Mapped[str] = mapped_column(String(255))
    task_args: Mapped[list[Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    state: Mapped[str] = mapped_column(String(16), default="parked")  # parked, replayed, discarded
    replayed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # replayed or discarded
    closed_by: Mapped[str | None] = mapped_column(String(128))
    closed_reason: Mapped[str | None] = mapped_column(Text)


class Replay(Base):
    """Who replayed what, when and why."""

    __tablename__ = "replays"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(36), index=True)
    dead_letter_id: Mapped[str | None] = mapped_column(String(36))
    target: Mapped[str] = mapped_column(String(255))
    by: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    from_dlq: Mapped[bool] = mapped_column(Boolean, default=False)
