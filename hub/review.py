"""The review queue: business exceptions (domain.md section C) as operations work them.

Steps and the EDI engines record exceptions (``hub.business_exceptions.record_exception``)
while they hold, block or warn about a document. Here operations list them (by status, kind,
partner, document or message), look at one with its message's trace, and resolve them with a
recorded reason — optionally re-running the message through its route once the cause is fixed
(a crosswalk entry added, a contract price corrected): a held document is then processed with
the current master data, and endpoints see the same idempotency keys as before, so what was
already delivered is not applied twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from hub.business_exceptions import KINDS, BusinessException, ExceptionStatus, resolve_exception
from hub.store import Message


@dataclass(frozen=True)
class ExceptionFilter:
    """What ``hub exceptions list`` shows; None means any."""

    status: str | None = ExceptionStatus.OPEN.value
    kind: str | None = None
    partner_id: str | None = None
    document_key: str | None = None
    message_id: str | None = None
    since: datetime | None = None
    limit: int = 100

    def check(self) -> None:
        if self.kind is not None and self.kind not in KINDS:
            raise ValueError(f"unknown exception kind {self.kind!r}; known: {', '.join(sorted(KINDS))}")
        if self.status is not None and self.status not in {s.value for s in ExceptionStatus}:
            raise ValueError(f"unknown status {self.status!r}; use open or resolved")


def list_exceptions(db, query: ExceptionFilter) -> list[BusinessException]:
    """Exceptions matching ``query``, newest first."""
    query.check()
    stmt = select(BusinessException).order_by(BusinessException.created_at.desc()).limit(query.limit)
    columns = {"status": query.status, "kind": query.kind, "partner_id": query.partner_id,
               "document_key": query.document_key, "message_id": query.message_id}
    for name, value in columns.items():
        if value is not None:
            stmt = stmt.where(getattr(BusinessException, name) == value)
    if query.since is not None:
        stmt = stmt.where(BusinessException.created_at >= query.since)
    with db.read() as session:
        rows = list(session.scalars(stmt))
        session.expunge_all()
    return rows


def get_exception(db, exception_id: str) -> BusinessException:
    with db.read() as session:
        row = session.get(BusinessException, exception_id)
        if row is None:
            raise KeyError(f"no business exception {exception_id!r}")
        session.expunge(row)
    return row


def describe(row: BusinessException) -> dict[str, Any]:
    """The JSON form ``hub exceptions show`` prints."""
    spec = KINDS.get(row.kind)
    return {**row.as_dict(), "status": row.status, "section_c": spec.number if spec else None,
            "title": spec.title if spec else None, "created_at": row.created_at.isoformat(),
            "resolved_at": row.resolved_at.isoformat() if row.resolved_at else None, "resolution": row.resolution}


def resolve(hub, exception_ids: list[str], *, by: str, why: str, rerun: bool = False) -> list[str]:
    """Mark exceptions resolved (who and why recorded with each); with ``rerun`` the messages
    they came from are run through their routes again (each message once, recorded as a
    replay). Returns the re-run message ids. Nothing changes when an id is unknown or an
    exception is already resolved."""
    from hub.deadletters import replay_messages

    with hub.db.session() as session:
        rows = [session.get(BusinessException, i) for i in exception_ids]
        unknown = [i for i, row in zip(exception_ids, rows, strict=True) if row is None]
        if unknown:
            raise KeyError(f"no business exception {', '.join(unknown)}")
        done = [row.id for row in rows if row.status == ExceptionStatus.RESOLVED.value]
        if done:
            raise ValueError(f"already resolved: {', '.join(done)}")
        if rerun and (missing := [row.id for row in rows if row.message_id is None
                                  or session.get(Message, row.message_id) is None]):
            raise ValueError(f"no stored message to re-run for {', '.join(missing)}")
        for row in rows:
            resolve_exception(session, row.id, f"{why} (by {by}{', message re-run' if rerun else ''})")
        messages = list(dict.fromkeys(row.message_id for row in rows if row.message_id))
    if rerun and messages:
        replay_messages(hub, messages, by=by, why=f"business exception resolved: {why}")
        return messages
    return []
