"""Browser sessions of the console: an opaque cookie, a row in the store, a CSRF token.

Why server-side sessions and not a signed cookie: logout, a disabled operator and a changed
password must end a session at once, on every process serving the console; a row that is
deleted does that, a signed cookie lives until it expires. The cookie carries 256 random bits;
the store keeps their SHA-256, so reading the table opens no session.

The CSRF token is per session (synchronizer token): every form carries it, htmx sends it as
``X-CSRF-Token``, and every state-changing request must present it — on top of the cookie's
``SameSite=Strict``, which old or misconfigured browsers may not honour.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete

from hub.console.models import ConsoleSession, Operator
from hub.console.settings import ConsoleSettings, console_settings
from hub.db import Database
from hub.store.models import utcnow

COOKIE = "hub_console"
LAST_SEEN_RESOLUTION = timedelta(seconds=30)  # a write per half minute per session, not per request


@dataclass(frozen=True)
class Session:
    operator: str
    role: str
    csrf: str
    id_sha256: str


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("ascii", errors="replace")).hexdigest()


def start(db: Database, operator: str, remote_addr: str | None, settings: ConsoleSettings | None = None) -> str:
    """A new session for ``operator``; returns the cookie value (never stored as such)."""
    settings = settings or console_settings()
    session_id = secrets.token_urlsafe(32)
    now = utcnow()
    with db.session() as s:
        # Expired sessions of anyone are swept here: logins are rare, so this costs nothing.
        s.execute(delete(ConsoleSession).where(ConsoleSession.expires_at < now))
        s.add(ConsoleSession(id_sha256=_digest(session_id), operator=operator, csrf=secrets.token_urlsafe(32),
                             created_at=now, last_seen_at=now, remote_addr=remote_addr,
                             expires_at=now + timedelta(hours=settings.session_hours)))
    return session_id


def lookup(db: Database, session_id: str | None, settings: ConsoleSettings | None = None) -> Session | None:
    """The live session behind a cookie (touching its idle timer), or None: unknown, expired,
    idle too long, or its operator disabled."""
    if not session_id or len(session_id) > 100:
        return None
    settings = settings or console_settings()
    now = utcnow()
    key = _digest(session_id)
    with db.session() as s:
        row = s.get(ConsoleSession, key)
        if row is None:
            return None
        op = s.get(Operator, row.operator)
        idle = now - row.last_seen_at > timedelta(minutes=settings.idle_minutes)
        if row.expires_at <= now or idle or op is None or op.disabled_at is not None:
            s.delete(row)
            return None
        if now - row.last_seen_at > LAST_SEEN_RESOLUTION:
            row.last_seen_at = now
        return Session(row.operator, op.role, row.csrf, key)


def end(db: Database, session_id: str | None) -> None:
    if session_id:
        with db.session() as s:
            s.execute(delete(ConsoleSession).where(ConsoleSession.id_sha256 == _digest(session_id)))


def end_sessions(db: Database, operator: str) -> None:
    """Every session of an operator (disabled, new password)."""
    with db.session() as s:
        s.execute(delete(ConsoleSession).where(ConsoleSession.operator == operator))
