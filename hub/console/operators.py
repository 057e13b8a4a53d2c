"""Operator accounts: who may use the console and the operations API, with which role.

Roles, each including the ones before it:

- ``viewer`` reads everything the console shows (messages, payloads, dead letters, the review
  queue, trails, partners, the audit trail);
- ``operator`` also acts on messages: replay, edit and resubmit, discard, resolve exceptions;
- ``admin`` also manages partners (registry reload, API keys) and operators.

Why lockout per operator and not per address: hospital networks put many people behind one
NAT address, and an attacker has many addresses; counting per account stops password guessing
against the account whatever address it comes from. A locked operator is told so (the lock
is the operator's own business), an unknown name gets the same answer as a wrong password.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from hub.console.models import ROLES, Operator, OperatorToken
from hub.console.passwords import generate, hash_password, needs_rehash, verify_password
from hub.console.settings import ConsoleSettings, console_settings
from hub.db import Database
from hub.store.models import utcnow

NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
TOKEN_PREFIX = "hot"
_TOKEN = re.compile(r"^hot_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")
LAST_USED_RESOLUTION = timedelta(minutes=1)


class LoginRefused(Exception):
    """A refused login. ``locked_until`` is set when the account is (now) locked."""

    def __init__(self, reason: str, locked_until: datetime | None = None, known: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.locked_until, self.known = reason, locked_until, known


@dataclass(frozen=True)
class Principal:
    """Who is acting, as every action records it."""

    name: str
    role: str
    via: str  # console, api, cli

    def may(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise ValueError("an operator name is 1-64 lower-case letters, digits, '.', '_' or '-', starting with a "
                         "letter or digit")
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; use one of: {', '.join(ROLES)}")
    return role


def add_operator(db: Database, name: str, role: str, *, password: str | None = None,
                 by: str | None = None) -> str:
    """Create an operator. Returns the password: the one given, or a generated one to hand over
    once (only its hash is stored)."""
    check_name(name)
    check_role(role)
    password = password or generate()
    hashed = hash_password(password)
    with db.session() as session:
        if session.get(Operator, name) is not None:
            raise ValueError(f"operator {name!r} exists already")
        session.add(Operator(name=name, role=role, password_hash=hashed, created_at=utcnow(), created_by=by,
                             password_changed_at=utcnow(), failed_logins=0))
    return password


def get_operator(db: Database, name: str) -> Operator | None:
    with db.read() as session:
        return session.get(Operator, name)


def list_operators(db: Database) -> list[Operator]:
    with db.read() as session:
        return list(session.scalars(select(Operator).order_by(Operator.name)))


def _change(db: Database, name: str, change) -> Operator:
    with db.session() as session:
        op = session.get(Operator, name, with_for_update=True)
        if op is None:
            raise KeyError(f"no operator {name!r}")
        change(op)
        return op


def set_role(db: Database, name: str, role: str) -> Operator:
    check_role(role)
    return _change(db, name, lambda op: setattr(op, "role", role))


def set_password(db: Database, name: str, password: str | None = None) -> str:
    """A new password (given, or generated and returned once); ends the operator's sessions
    and clears a lock."""
    from hub.console.sessions import end_sessions

    password = password or generate()
    hashed = hash_password(password)

    def apply(op: Operator) -> None:
        op.password_hash, op.password_changed_at = hashed, utcnow()
        op.failed_logins, op.locked_until = 0, None

    _change(db, name, apply)
    end_sessions(db, name)
    return password


def set_disabled(db: Database, name: str, disabled: bool) -> Operator:
    """Disable (sessions end, tokens stop working) or enable an operator."""
    from hub.console.sessions import end_sessions

    op = _change(db, name, lambda o: setattr(o, "disabled_at", utcnow() if disabled else None))
    if disabled:
        end_sessions(db, name)
    return op


def unlock(db: Database, name: str) -> Operator:
    def apply(op: Operator) -> None:
        op.failed_logins, op.locked_until = 0, None

    return _change(db, name, apply)


def authenticate(db: Database, name: str, password: str, settings: ConsoleSettings | None = None) -> Operator:
    """The operator, when the password is right and the account usable; else LoginRefused.
    Every wrong password counts; ``lockout_failures`` in a row lock the account."""
    settings = settings or console_settings()
    op = get_operator(db, name) if NAME.match(name or "") else None
    good = verify_password(password, op.password_hash if op else None)  # same work for unknown names
    if op is None:
        raise LoginRefused("wrong name or password")
    now = utcnow()
    if op.locked_until is not None and op.locked_until > now:
        raise LoginRefused(f"locked after {op.failed_logins} wrong passwords until "
                           f"{op.locked_until:%H:%M:%S} UTC (an admin can unlock it)", op.locked_until, True)
    if not good:
        return _failed(db, name, settings)
    if op.disabled_at is not None:
        raise LoginRefused("this operator is disabled", None, True)
    rehash = hash_password(password) if needs_rehash(op.password_hash) else None

    def success(o: Operator) -> None:
        o.failed_logins, o.locked_until, o.last_login_at = 0, None, now
        if rehash:
            o.password_hash = rehash

    return _change(db, name, success)


def _failed(db: Database, name: str, settings: ConsoleSettings) -> Operator:
    state: dict[str, datetime | None] = {}

    def count(op: Operator) -> None:
        op.failed_logins = (op.failed_logins or 0) + 1
        if op.failed_logins >= settings.lockout_failures:
            op.locked_until = utcnow() + timedelta(minutes=settings.lockout_minutes)
        state["locked_until"] = op.locked_until

    _change(db, name, count)
    locked = state.get("locked_until")
    raise LoginRefused("wrong name or password" + (" (the account is now locked)" if locked else ""), locked, True)


# -- API tokens --------------------------------------------------------------------------------

def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def create_token(db: Database, operator: str, *, label: str | None = None, by: str | None = None) -> tuple[str, str]:
    """(token id, token) for the operations API; the token is shown once, its hash stored. A
    token acts with its operator's current role."""
    if get_operator(db, operator) is None:
        raise KeyError(f"no operator {operator!r}")
    token_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    with db.session() as session:
        session.add(OperatorToken(token_id=token_id, operator=operator, secret_sha256=_digest(secret), label=label,
                                  created_at=utcnow(), created_by=by))
    return token_id, f"{TOKEN_PREFIX}_{token_id}_{secret}"


def revoke_token(db: Database, token_id: str) -> bool:
    with db.session() as session:
        row = session.get(OperatorToken, token_id)
        if row is None or row.revoked_at is not None:
            return False
        row.revoked_at = utcnow()
        return True


def list_tokens(db: Database, operator: str | None = None) -> list[OperatorToken]:
    query = select(OperatorToken).order_by(OperatorToken.operator, OperatorToken.created_at)
    if operator:
        query = query.where(OperatorToken.operator == operator)
    with db.read() as session:
        return list(session.scalars(query))


def operator_for_token(db: Database, presented: str) -> Operator | None:
    """The enabled operator owning a valid, unrevoked token; None otherwise."""
    match = _TOKEN.match(presented.strip())
    if match is None:
        return None
    token_id, secret = match.groups()
    with db.session() as session:
        row = session.get(OperatorToken, token_id)
        ok = row is not None and row.revoked_at is None
        if not hmac.compare_digest(_digest(secret), row.secret_sha256 if ok else "0" * 64) or not ok:
            return None
        op = session.get(Operator, row.operator)
        if op is None or op.disabled_at is not None:
            return None
        now = utcnow()
        if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
            row.last_used_at = now
        return op
