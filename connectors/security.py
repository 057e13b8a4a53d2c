"""Who may post to the inbound API, and what happens to those who may not.

- API keys: ``hub partners api-key create P-0042`` prints a key once
  (``shk_<key id>_<secret>``); the store keeps only the key id and the SHA-256 of the secret
  (the secret is 256 random bits, so a fast hash is enough: there is nothing to brute-force).
  Checking compares digests in constant time. Keys can be listed and revoked.
- Client certificates: a TLS terminator in front of the API verifies the certificate and
  passes its SHA-256 fingerprint and/or subject DN in headers (names configurable); the
  partner registry maps them to partners (``auth.client_cert_fingerprints`` /
  ``auth.client_cert_subjects``). Those headers are believed only from trusted proxy
  addresses.
- Security events: every refused attempt (bad key, a sender that is not the authenticated
  partner's, a document type the partner may not send, a certificate header from an
  untrusted peer) is recorded with what was claimed and from where; for refused messages the
  raw bytes are kept in the blob store under their SHA-256 (evidence, nothing lost).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, BigInteger, String, select
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, Database
from hub.partners import PartnerConfig, PartnerRegistry
from hub.store.models import BigId, UTCDateTime, utcnow

KEY_PREFIX = "shk"
LAST_USED_RESOLUTION = timedelta(minutes=1)
_KEY = re.compile(r"^shk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")


class ApiKey(Base):
    __tablename__ = "partner_api_keys"

    key_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    partner_id: Mapped[str] = mapped_column(String(128), index=True)
    secret_sha256: Mapped[str] = mapped_column(String(64))
    label: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(128))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SecurityEvent(Base):
    __tablename__ = "security_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    channel: Mapped[str] = mapped_column(String(64))
    partner_id: Mapped[str | None] = mapped_column(String(128), index=True)  # who authenticated, if anyone
    claimed: Mapped[str | None] = mapped_column(String(200))  # e.g. the envelope sender ZZ:ACMEMED
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int | None] = mapped_column(BigInteger)
    blob: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)


# -- API keys ----------------------------------------------------------------------------------

def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


@dataclass(frozen=True)
class IssuedKey:
    key_id: str
    partner_id: str
    key: str  # shown once; never stored


def create_api_key(db: Database, partner_id: str, *, label: str | None = None, by: str | None = None) -> IssuedKey:
    if PartnerRegistry(db).by_id(partner_id) is None:
        raise LookupError(f"no partner {partner_id!r} in the store (load it with `hub partners load`)")
    key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    with db.session() as session:
        session.add(ApiKey(key_id=key_id, partner_id=partner_id, secret_sha256=_digest(secret), label=label,
                           created_by=by, created_at=utcnow()))
    return IssuedKey(key_id, partner_id, f"{KEY_PREFIX}_{key_id}_{secret}")


def partner_for_key(db: Database, presented: str) -> str | None:
    """The partner id owning a valid, unrevoked key; None otherwise (no hint which part was wrong)."""
    match = _KEY.match(presented.strip())
    if match is None:
        return None
    key_id, secret = match.groups()
    with db.session() as session:
        row = session.get(ApiKey, key_id)
        if row is None or row.revoked_at is not None:
            hmac.compare_digest(_digest(secret), "0" * 64)  # same work either way
            return None
        if not hmac.compare_digest(_digest(secret), row.secret_sha256):
            return None
        now = utcnow()
        if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
            row.last_used_at = now  # a write per minute per key, not per request
        return row.partner_id


def revoke_api_key(db: Database, key_id: str) -> bool:
    with db.session() as session:
        row = session.get(ApiKey, key_id)
        if row is None or row.revoked_at is not None:
            return False
        row.revoked_at = utcnow()
        return True


def api_keys(db: Database, partner_id: str | None = None) -> list[ApiKey]:
    with db.session() as session:
        query = select(ApiKey).order_by(ApiKey.partner_id, ApiKey.created_at)
        if partner_id:
            query = query.where(ApiKey.partner_id == partner_id)
        return list(session.scalars(query))


# -- client certificates -----------------------------------------------------------------------

def partner_for_certificate(partners: list[PartnerConfig], fingerprint: str | None,
                            subject: str | None) -> PartnerConfig | None:
    """The one partner whose registry entry lists this certificate (fingerprint first)."""
    wanted = fingerprint.replace(":", "").strip().lower() if fingerprint else None
    for partner in partners:
        auth = partner.auth
        if auth is None:
            continue
        if wanted and wanted in auth.client_cert_fingerprints:
            return partner
        if subject and not wanted and subject.strip() in auth.client_cert_subjects:
            return partner
    return None


# -- security events ---------------------------------------------------------------------------

def record_event(hub, kind: str, reason: str, *, channel: str = "api", partner_id: str | None = None,
                 claimed: str | None = None, remote_addr: str | None = None, raw: bytes | None = None,
                 detail: dict[str, Any] | None = None) -> int:
    """Store a refused attempt (and its bytes, when there are any). Returns the event id."""
    sha = hashlib.sha256(raw).hexdigest() if raw is not None else None
    blob = hub.store.blobs.put(raw, sha) if raw is not None and sha is not None else None
    with hub.db.session() as session:
        event = SecurityEvent(at=utcnow(), kind=kind, channel=channel, partner_id=partner_id, claimed=claimed,
                              remote_addr=remote_addr, reason=reason[:500], sha256=sha,
                              size=len(raw) if raw is not None else None, blob=blob,
                              detail=detail)
        session.add(event)
        session.flush()
        return event.id


def security_events(db: Database, *, kind: str | None = None, limit: int = 100) -> list[SecurityEvent]:
    with db.session() as session:
        query = select(SecurityEvent).order_by(SecurityEvent.at.desc()).limit(limit)
        if kind:
            query = query.where(SecurityEvent.kind == kind)
        return list(session.scalars(query))
