"""AS2 messages and their MDNs (table ``as2_messages``), both directions.

Why a table of its own beside the message store: an MDN is a receipt about an AS2 transfer, not
a document, and it may arrive minutes after the delivery attempt that sent its message
(asynchronous MDN). The row is what matches it to that message (by the original Message-ID),
what tells a retried delivery that its MDN came meanwhile, and what ``hub as2 messages
--overdue`` reads, like ``hub acks overdue`` reads the interchange log.

- inbound: one row per AS2 message received (the hub message it became, the MIC the hub
  computed, the MDN it answered);
- outbound: one row per delivery (its Message-ID is derived from the delivery id, so a retry
  sends the same Message-ID), with the MIC the partner must return and the MDN's outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Integer, String, Text, UniqueConstraint, select, update
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, Database
from hub.store.models import UTCDateTime, utcnow

PENDING, PROCESSED, FAILED, NOT_ASKED = "pending", "processed", "failed", "none"


class As2Message(Base):
    __tablename__ = "as2_messages"
    __table_args__ = (UniqueConstraint("direction", "partner_id", "as2_message_id", name="uq_as2_messages_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    direction: Mapped[str] = mapped_column(String(3))  # in / out
    partner_id: Mapped[str] = mapped_column(String(128), index=True)
    as2_message_id: Mapped[str] = mapped_column(String(255))
    message_id: Mapped[str | None] = mapped_column(String(36), index=True)  # the hub's message
    delivery_id: Mapped[str | None] = mapped_column(String(64), index=True)
    mic: Mapped[str | None] = mapped_column(String(200))  # "<base64>, <algorithm>"
    mdn_mode: Mapped[str] = mapped_column(String(8))  # sync async none
    mdn_status: Mapped[str] = mapped_column(String(16))  # pending processed failed none
    mdn_detail: Mapped[str | None] = mapped_column(Text)
    mdn_message_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # outbound: the last POST
    mdn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)  # outbound async: MDN overdue after


@dataclass(frozen=True)
class Receipt:
    """An MDN's outcome for one outbound message."""

    status: str  # processed / failed
    detail: str
    mdn_message_id: str | None = None


def record_inbound(db: Database, *, partner_id: str, as2_message_id: str, message_id: str | None, mic: str | None,
                   mdn_mode: str, mdn_status: str, detail: str | None) -> None:
    """One received message (a duplicate Message-ID updates the row it made the first time)."""
    with db.session() as session:
        row = session.scalar(select(As2Message).where(
            As2Message.direction == "in", As2Message.partner_id == partner_id,
            As2Message.as2_message_id == as2_message_id))
        if row is None:
            row = As2Message(direction="in", partner_id=partner_id, as2_message_id=as2_message_id)
            session.add(row)
        row.message_id = message_id or row.message_id
        row.mic, row.mdn_mode, row.mdn_status, row.mdn_detail = mic, mdn_mode, mdn_status, detail
        row.mdn_at = utcnow()


def outbound(db: Database, delivery_id: str) -> As2Message | None:
    with db.read() as session:
        return session.scalar(select(As2Message).where(As2Message.direction == "out",
                                                       As2Message.delivery_id == delivery_id))


def record_sent(db: Database, *, partner_id: str, as2_message_id: str, message_id: str, delivery_id: str,
                mic: str | None, mdn_mode: str, mdn_within: float) -> None:
    """A POST made for a delivery: pending until its MDN (none asked: settled at once)."""
    now = utcnow()
    with db.session() as session:
        row = session.scalar(select(As2Message).where(As2Message.direction == "out",
                                                      As2Message.delivery_id == delivery_id))
        if row is None:
            row = As2Message(direction="out", partner_id=partner_id, as2_message_id=as2_message_id,
                             message_id=message_id, delivery_id=delivery_id, created_at=now)
            session.add(row)
        row.mic, row.mdn_mode, row.sent_at = mic, mdn_mode, now
        if row.mdn_status not in (PROCESSED, FAILED):
            row.mdn_status = PENDING if mdn_mode != NOT_ASKED else NOT_ASKED
            row.due_at = now + timedelta(seconds=mdn_within) if mdn_mode == "async" else None


def record_receipt(db: Database, partner_id: str, as2_message_id: str, receipt: Receipt) -> bool:
    """An MDN for an outbound message; False when no such message was sent to that partner."""
    with db.session() as session:
        result = session.execute(update(As2Message).where(
            As2Message.direction == "out", As2Message.partner_id == partner_id,
            As2Message.as2_message_id == as2_message_id,
        ).values(mdn_status=receipt.status, mdn_detail=receipt.detail, mdn_message_id=receipt.mdn_message_id,
                 mdn_at=utcnow()))
        return result.rowcount > 0


def find_outbound(db: Database, as2_message_id: str) -> As2Message | None:
    with db.read() as session:
        return session.scalar(select(As2Message).where(As2Message.direction == "out",
                                                       As2Message.as2_message_id == as2_message_id))


def listing(db: Database, *, overdue_at: datetime | None = None, limit: int = 100) -> list[As2Message]:
    """Newest first; with ``overdue_at``, only outbound messages whose MDN is pending past due."""
    query = select(As2Message).order_by(As2Message.id.desc()).limit(limit)
    if overdue_at is not None:
        query = query.where(As2Message.direction == "out", As2Message.mdn_status == PENDING,
                            As2Message.due_at.is_not(None), As2Message.due_at < overdue_at)
    with db.read() as session:
        return list(session.scalars(query))
