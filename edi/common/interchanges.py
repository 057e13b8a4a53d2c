"""The interchange log, shared by the X12 and EDIFACT engines (domain.md 4.2, A.16).

Every interchange the hub receives or sends gets a row: standard, direction, sender and
receiver (qualifier + id), control number, version, test flag, time, message id, the ack
expected and the ack received (status + codes), and a duplicate flag. Groups get rows of their
own because 997/999 acknowledge groups (GS01 + GS06), never the ISA13.

- ``register_inbound``: records an inbound interchange and says whether it is a duplicate —
  same standard + sender + receiver + control number seen (and not itself a duplicate) within
  the retention window (default 30 days). The check and the insert run under a lock on that
  key (PostgreSQL advisory transaction lock; SQLite's BEGIN IMMEDIATE), so two workers given
  the same interchange at once cannot both accept it.
- ``register_outbound``: records what the hub sent, with its groups, and the ack it expects.
- ``record_ack``: matches an inbound ``AckResult`` (TA1, 997, 999, CONTRL) to the outbound
  interchange/groups it acknowledges and stores the result; returns what matched.
- ``register_document``: business-level duplicates (same PO number + purpose, same supplier +
  invoice number, same ASN number): envelope numbers change on a resend, document numbers do not.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, func, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from edi.common.ack_results import AckResult, AckStatus
from hub.db import Base
from hub.store.models import BigId, UTCDateTime, utcnow
from edi.common.numbers import same_control_number

DEFAULT_RETENTION = timedelta(days=30)
INBOUND, OUTBOUND = "in", "out"


class InterchangeRecord(Base):
    __tablename__ = "edi_interchanges"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    standard: Mapped[str] = mapped_column(String(16))
    direction: Mapped[str] = mapped_column(String(3))
    sender_qualifier: Mapped[str] = mapped_column(String(8), default="")
    sender_id: Mapped[str] = mapped_column(String(64))
    receiver_qualifier: Mapped[str] = mapped_column(String(8), default="")
    receiver_id: Mapped[str] = mapped_column(String(64))
    control_number: Mapped[str] = mapped_column(String(32))
    version: Mapped[str | None] = mapped_column(String(32))
    test: Mapped[bool] = mapped_column(Boolean, default=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    message_id: Mapped[str | None] = mapped_column(String(36), index=True)
    status: Mapped[str] = mapped_column(String(16), default="accepted")
    duplicate: Mapped[bool] = mapped_column(Boolean, default=False)
    duplicate_of: Mapped[int | None] = mapped_column(BigId)
    ack_expected: Mapped[str | None] = mapped_column(String(8))
    ack_status: Mapped[str | None] = mapped_column(String(32))
    ack_codes: Mapped[list[str] | None] = mapped_column(JSON)
    ack_received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ack_message_id: Mapped[str | None] = mapped_column(String(36))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    groups: Mapped[list[GroupRecord]] = relationship(back_populates="interchange", lazy="selectin")

    __table_args__ = (
        Index("ix_edi_interchanges_key", "standard", "direction", "sender_id", "receiver_id", "control_number"),
    )


class GroupRecord(Base):
    __tablename__ = "edi_interchange_groups"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    interchange_id: Mapped[int] = mapped_column(ForeignKey("edi_interchanges.id"), index=True)
    functional_id: Mapped[str] = mapped_column(String(8))
    control_number: Mapped[str] = mapped_column(String(32))
    sender_id: Mapped[str] = mapped_column(String(64), default="")
    receiver_id: Mapped[str] = mapped_column(String(64), default="")
    version: Mapped[str | None] = mapped_column(String(32))
    # [{"set_id": "850", "control_number": "0001", "ack_status": ..., "ack_codes": [...]}]
    sets: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    ack_status: Mapped[str | None] = mapped_column(String(32))
    ack_codes: Mapped[list[str] | None] = mapped_column(JSON)

    interchange: Mapped[InterchangeRecord] = relationship(back_populates="groups")

    __table_args__ = (Index("ix_edi_interchange_groups_key", "functional_id", "control_number"),)


class BusinessDocument(Base):
    """First sighting of a business document key (for duplicate documents, exception #9)."""

    __tablename__ = "edi_business_documents"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    document_type: Mapped[str] = mapped_column(String(64))
    partner: Mapped[str] = mapped_column(String(128))
    document_key: Mapped[str] = mapped_column(String(256))
    message_id: Mapped[str | None] = mapped_column(String(36))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    times_seen: Mapped[int] = mapped_column(default=1)

    __table_args__ = (Index("ix_edi_business_documents_key", "document_type", "partner", "document_key",
                            unique=True),)


@dataclass(frozen=True)
class Party:
    qualifier: str
    identifier: str

    def __str__(self) -> str:
        return f"{self.qualifier}:{self.identifier}" if self.qualifier else self.identifier


@dataclass(frozen=True)
class GroupInfo:
    functional_id: str
    control_number: str
    sender_id: str = ""
    receiver_id: str = ""
    version: str | None = None
    sets: tuple[tuple[str, str], ...] = ()  # (set id, control number)


@dataclass
class AckMatch:
    """What an inbound acknowledgement was matched to."""

    interchange_ids: list[int] = field(default_factory=list)
    group_ids: list[int] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)

    @property
    def matched(self) -> bool:
        return bool(self.interchange_ids or self.group_ids)


def _lock(session: Session, *parts: str) -> None:
    """Serialise check-then-insert on one key across workers."""
    if session.get_bind().dialect.name == "postgresql":
        digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"),
                        {"k": int.from_bytes(digest[:8], "big", signed=True)})
    # SQLite: the session's transaction began with BEGIN IMMEDIATE and holds the write lock.


def register_inbound(session: Session, *, standard: str, sender: Party, receiver: Party,
                     control_number: str, version: str | None = None, test: bool = False,
                     message_id: str | None = None, groups: list[GroupInfo] | None = None,
                     retention: timedelta = DEFAULT_RETENTION, now: datetime | None = None) -> InterchangeRecord:
    """Record an inbound interchange; ``.duplicate`` is set when it was seen within
    ``retention`` (the caller then refuses it: TA1 025 / CONTRL 26). The same stored message
    seen again (a route retried after a crash, or replayed) is not a duplicate of itself: its
    first record is returned."""
    now = now or utcnow()
    _lock(session, standard, INBOUND, str(sender), str(receiver), control_number)
    original = session.scalars(
        select(InterchangeRecord).where(
            InterchangeRecord.standard == standard, InterchangeRecord.direction == INBOUND,
            InterchangeRecord.sender_qualifier == sender.qualifier, InterchangeRecord.sender_id == sender.identifier,
            InterchangeRecord.receiver_qualifier == receiver.qualifier,
            InterchangeRecord.receiver_id == receiver.identifier,
            InterchangeRecord.control_number == control_number, InterchangeRecord.duplicate.is_(False),
            InterchangeRecord.at >= now - retention,
        ).order_by(InterchangeRecord.at.desc()).limit(1)
    ).first()
    if original is not None and message_id is not None and original.message_id == message_id:
        return original
    record = InterchangeRecord(
        standard=standard, direction=INBOUND, sender_qualifier=sender.qualifier, sender_id=sender.identifier,
        receiver_qualifier=receiver.qualifier, receiver_id=receiver.identifier, control_number=control_number,
        version=version, test=test, at=now, message_id=message_id,
        duplicate=original is not None, duplicate_of=original.id if original else None,
        status="duplicate" if original is not None else "accepted")
    record.groups = [_group_row(g) for g in groups or []]
    session.add(record)
    session.flush()
    return record


def register_outbound(session: Session, *, standard: str, sender: Party, receiver: Party,
                      control_number: str, version: str | None = None, test: bool = False,
                      message_id: str | None = None, groups: list[GroupInfo] | None = None,
                      ack_expected: str | None = None) -> InterchangeRecord:
    record = InterchangeRecord(
        standard=standard, direction=OUTBOUND, sender_qualifier=sender.qualifier, sender_id=sender.identifier,
        receiver_qualifier=receiver.qualifier, receiver_id=receiver.identifier, control_number=control_number,
        version=version, test=test, message_id=message_id, ack_expected=ack_expected,
        status="sent", ack_status="pending" if ack_expected else None)
    record.groups = [_group_row(g) for g in groups or []]
    session.add(record)
    session.flush()
    return record


def _group_row(info: GroupInfo) -> GroupRecord:
    return GroupRecord(functional_id=info.functional_id, control_number=info.control_number,
                       sender_id=info.sender_id, receiver_id=info.receiver_id, version=info.version,
                       sets=[{"set_id": s, "control_number": c} for s, c in info.sets])


def _same_number(a: str, b: str) -> bool:
    """Control numbers compare as numbers when both are numeric (GS06 ``5`` = ``000005``),
    within the count bound (a hostile ack's 5,000-digit number matches nothing)."""
    return same_control_number(a, b)


def record_ack(session: Session, ack: AckResult, *, ack_sender: Party, ack_receiver: Party,
               group_sender_id: str | None = None, group_receiver_id: str | None = None,
               message_id: str | None = None, now: datetime | None = None) -> AckMatch:
    """Match an inbound acknowledgement to what the hub sent (the ack's sender is our
    receiver) and record its result on the interchange / group rows."""
    now = now or utcnow()
    match = AckMatch()
    standard = "X12" if ack.standard == "X12" else "EDIFACT"
    sent = select(InterchangeRecord).where(
        func.upper(InterchangeRecord.standard) == standard, InterchangeRecord.direction == OUTBOUND,
        InterchangeRecord.receiver_id == ack_sender.identifier, InterchangeRecord.sender_id == ack_receiver.identifier,
    ).order_by(InterchangeRecord.at.desc())
    if ack.interchange_control_number is not None:
        found = [r for r in session.scalars(sent.limit(500))
                 if _same_number(r.control_number, ack.interchange_control_number)]
        if found:
            record = found[0]
            previous = record.ack_status if record.ack_status != "pending" else None
            record.ack_status = _worst([previous, (ack.interchange_status or AckStatus.ACCEPTED).value])
            record.ack_codes = sorted({*(record.ack_codes or []), *([ack.note_code] if ack.note_code else [])})
            record.ack_received_at, record.ack_message_id = now, message_id
            match.interchange_ids.append(record.id)
        else:
            match.unmatched.append(f"interchange {ack.interchange_control_number}")
    for group in ack.groups:
        row = _find_group(session, sent, group.functional_id, group.control_number,
                          group_sender_id, group_receiver_id)
        if row is None:
            match.unmatched.append(f"group {group.functional_id} {group.control_number}")
            continue
        _apply_group_ack(row, group, now, message_id)
        match.group_ids.append(row.id)
        if row.interchange_id not in match.interchange_ids:
            match.interchange_ids.append(row.interchange_id)
    session.flush()
    return match


def _find_group(session: Session, sent, functional_id: str, control_number: str,
                group_sender_id: str | None, group_receiver_id: str | None) -> GroupRecord | None:
    for record in session.scalars(sent.limit(500)):
        for row in record.groups:
            if row.functional_id != functional_id or not _same_number(row.control_number, control_number):
                continue
            # The ack's GS02 is our GS03 and its GS03 our GS02, when both were given.
            if group_sender_id and row.receiver_id and row.receiver_id != group_sender_id:
                continue
            if group_receiver_id and row.sender_id and row.sender_id != group_receiver_id:
                continue
            return row
    return None


def _apply_group_ack(row: GroupRecord, group, now: datetime, message_id: str | None) -> None:
    row.ack_status = group.status.value if group.status else None
    row.ack_codes = list(group.codes)
    by_control = {s.control_number: s for s in group.sets}
    sets = []
    for entry in row.sets or []:
        acked = next((s for c, s in by_control.items() if _same_number(c, entry["control_number"])), None)
        if acked is not None:
            entry = {**entry, "ack_status": acked.status.value if acked.status else None,
                     "ack_codes": acked.codes, "errors": [e.model_dump(exclude_none=True) for e in acked.errors]}
        elif row.ack_status in (AckStatus.ACCEPTED.value, AckStatus.ACCEPTED_WITH_ERRORS.value):
            entry = {**entry, "ack_status": row.ack_status}  # a group accepted whole accepts its sets
        sets.append(entry)
    row.sets = sets
    record = row.interchange
    record.ack_status = _worst([record.ack_status if record.ack_status != "pending" else None, row.ack_status])
    record.ack_codes = sorted({*(record.ack_codes or []), *group.codes})
    record.ack_received_at, record.ack_message_id = now, message_id


_RANK = [AckStatus.ACCEPTED, AckStatus.RECEIVED, AckStatus.ACCEPTED_WITH_ERRORS,
         AckStatus.PARTIALLY_ACCEPTED, AckStatus.REJECTED]


def _worst(statuses: list[str | None]) -> str | None:
    known = [AckStatus(s) for s in statuses if s]
    return max(known, key=_RANK.index).value if known else None


def register_document(session: Session, *, document_type: str, partner: str, key: str,
                      message_id: str | None = None) -> BusinessDocument | None:
    """Record a business document key; returns the earlier sighting when it is a duplicate.
    The same stored message seen again (a retry or replay of its route) is no duplicate."""
    _lock(session, "document", document_type, partner, key)
    earlier = session.scalars(select(BusinessDocument).where(
        BusinessDocument.document_type == document_type, BusinessDocument.partner == partner,
        BusinessDocument.document_key == key)).first()
    if earlier is not None and message_id is not None and earlier.message_id == message_id:
        return None
    if earlier is not None:
        earlier.times_seen += 1
        session.flush()
        return earlier
    session.add(BusinessDocument(document_type=document_type, partner=partner, document_key=key,
                                 message_id=message_id))
    session.flush()
    return None
