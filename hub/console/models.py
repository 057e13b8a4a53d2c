"""The console's tables: operators, their browser sessions and API tokens, and the audit trail.

Why in the hub's database: every process that serves the console (``hub run``, each ``hub api``
replica) and every CLI command must see the same operators, the same lockouts and the same
audit trail; the database is the one thing they all share.

Secrets are never stored: passwords as scrypt hashes (``hub.console.passwords``), session ids
and API tokens as SHA-256 digests of 256 random bits (nothing to brute-force, so a fast hash is
enough and a stolen table opens no session).

The indexes at the end serve the console's search (``hub.console.search``) over millions of
messages.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base
from hub.store.models import BigId, Delivery, Message, RouteRun, UTCDateTime, utcnow

ROLES = ("viewer", "operator", "admin")  # each role may do what the ones before it may


class Operator(Base):
    __tablename__ = "console_operators"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(128))
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)  # consecutive, reset by a good login
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ConsoleSession(Base):
    __tablename__ = "console_sessions"

    id_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    operator: Mapped[str] = mapped_column(String(64), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    remote_addr: Mapped[str | None] = mapped_column(String(64))


class OperatorToken(Base):
    __tablename__ = "console_tokens"

    token_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    operator: Mapped[str] = mapped_column(String(64), index=True)
    secret_sha256: Mapped[str] = mapped_column(String(64))
    label: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(128))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    """One action: who (operator and the role they held), how (console, api, cli), what (action,
    the kind and ids of what it touched), why (the reason they gave), and how it ended."""

    __tablename__ = "console_audit"
    __table_args__ = (Index("ix_console_audit_operator_at", "operator", "at"),
                      Index("ix_console_audit_action_at", "action", "at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    operator: Mapped[str] = mapped_column(String(128))
    role: Mapped[str | None] = mapped_column(String(16))
    via: Mapped[str] = mapped_column(String(16))  # console, api, cli
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str | None] = mapped_column(String(32))  # message, dead_letter, exception, partner ...
    targets: Mapped[list[str]] = mapped_column(JSON, default=list)
    target_count: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(16))  # done, refused, failed
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    remote_addr: Mapped[str | None] = mapped_column(String(64))


# The console's searches over a large store (benchmarks/console_search.py measures them): the
# newest of one partner; keyset paging; a file name or its start (text_pattern_ops: LIKE 'x%'
# on PostgreSQL whatever the collation); a route's messages; a delivery's document key.
Index("ix_messages_sender_received_at", Message.sender, Message.received_at, Message.id)
Index("ix_messages_received_at_id", Message.received_at, Message.id)
Index("ix_messages_filename", Message.filename, postgresql_ops={"filename": "text_pattern_ops"})
Index("ix_route_runs_route", RouteRun.route, RouteRun.message_id)
Index("ix_deliveries_document_key", Delivery.document_key)
