"""The audit trail: every action on the hub's messages, dead letters, review queue, partners
and operators, with who did it, when, why, what it touched and how it ended.

Why one function (``audited``) in front of every action: the console, the operations API and
the CLI all replay, discard, edit and resolve through ``hub.deadletters``, ``hub.review`` and
``hub.operations.edits``; wrapping each call in ``audited`` is what makes all three paths write
the same row, and a refused or failed attempt is recorded too (an operator trying to replay a
letter someone else already closed is part of the story). The row is written after the action,
in its own transaction: the action's own records (``replays``, ``dead_letters.closed_by``,
the message's trace) are the ledger, the audit row is the index over them by person.

CLI actions record the operator they run as: ``--by``, else ``HUB_OPERATOR``, else the OS user.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select

from hub.console.models import AuditEntry
from hub.console.operators import Principal
from hub.db import Database
from hub.store.models import utcnow

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_TARGETS = 1000  # a bulk action over more records its count and the first ids


def cli_principal(by: str | None = None) -> Principal:
    from hub.deadletters import who

    return Principal(by or who(), "shell", "cli")


def record(db: Database, principal: Principal, action: str, *, outcome: str = "done", reason: str | None = None,
           target_type: str | None = None, targets: Sequence[str] = (), detail: dict[str, Any] | None = None,
           remote_addr: str | None = None, target_count: int | None = None) -> None:
    targets = [str(t) for t in targets]
    with db.session() as session:
        session.add(AuditEntry(at=utcnow(), operator=principal.name, role=principal.role, via=principal.via,
                               action=action, target_type=target_type, targets=targets[:MAX_TARGETS],
                               target_count=len(targets) if target_count is None else target_count,
                               reason=reason, outcome=outcome, detail=detail, remote_addr=remote_addr))


def audited(db: Database, principal: Principal, action: str, run: Callable[[], T], *, reason: str | None,
            target_type: str | None = None, targets: Sequence[str] = (),
            done: Callable[[T], tuple[Sequence[str], dict[str, Any]]] | None = None,
            remote_addr: str | None = None) -> T:
    """Run ``run()`` and record it. ``done(result)`` may name what was actually touched (a bulk
    action's ids, a new message id) and add detail. LookupError / ValueError (unknown id, already
    closed, refused edit) are recorded as ``refused``, anything else as ``failed``; both are
    raised again for the caller to report."""
    try:
        result = run()
    except (LookupError, ValueError) as exc:
        record(db, principal, action, outcome="refused", reason=reason, target_type=target_type, targets=targets,
               detail={"error": str(exc.args[0] if exc.args else exc)}, remote_addr=remote_addr)
        raise
    except Exception as exc:
        try:
            record(db, principal, action, outcome="failed", reason=reason, target_type=target_type, targets=targets,
                   detail={"error": f"{type(exc).__name__}: {exc}"[:2000]}, remote_addr=remote_addr)
        except Exception:  # noqa: BLE001 - the store may be what failed: the original error matters more
            log.warning("could not record the failed %s of %s in the audit trail", action, principal.name)
        raise
    touched, detail = done(result) if done else (targets, {})
    record(db, principal, action, reason=reason, target_type=target_type, targets=touched, detail=detail or None,
           remote_addr=remote_addr)
    return result


@dataclass
class AuditFilter:
    operator: str | None = None
    action: str | None = None
    via: str | None = None
    target: str | None = None  # an id the action touched (exact)
    since: datetime | None = None
    before_id: int | None = None  # keyset paging: entries older than this one
    limit: int = 50


def entries(db: Database, f: AuditFilter) -> list[AuditEntry]:
    """Newest first. ``target`` is matched in Python over a bounded window: the targets are a
    JSON list, which neither backend indexes portably, and who-touched-this-id questions are
    asked about recent actions."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc())
    for column, value in (("operator", f.operator), ("action", f.action), ("via", f.via)):
        if value:
            query = query.where(getattr(AuditEntry, column) == value)
    if f.since:
        query = query.where(AuditEntry.at >= f.since)
    if f.before_id:
        query = query.where(AuditEntry.id < f.before_id)
    with db.read() as session:
        if not f.target:
            return list(session.scalars(query.limit(f.limit)))
        rows = session.scalars(query.limit(20_000))
        return [r for r in rows if f.target in (r.targets or [])][:f.limit]


def as_json(entry: AuditEntry) -> dict[str, Any]:
    return {"id": entry.id, "at": entry.at.isoformat(), "operator": entry.operator, "role": entry.role,
            "via": entry.via, "action": entry.action, "target_type": entry.target_type,
            "targets": entry.targets or [], "target_count": entry.target_count, "reason": entry.reason,
            "outcome": entry.outcome, "detail": entry.detail, "remote_addr": entry.remote_addr}
