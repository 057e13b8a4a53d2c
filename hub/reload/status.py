"""What ``hub routes status`` shows: the generation in force, whether the folder still holds it,
which running process runs which generation, and the recent reloads (who, when, what changed)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from hub.db import Database
from hub.reload.follow import LIVE
from hub.reload.generations import fetch, history, read_snapshot
from hub.reload.models import RouteFollower
from hub.store.models import utcnow


@dataclass
class Process:
    process: str
    kind: str
    generation: int | None
    error: str | None
    seen_at: datetime


def processes(db: Database) -> list[Process]:
    """The hub processes heard from lately (a process reports every few seconds while it runs)."""
    with db.read() as session:
        rows = session.scalars(select(RouteFollower).where(RouteFollower.seen_at >= utcnow() - LIVE)
                               .order_by(RouteFollower.process))
        return [Process(r.process, r.kind, r.generation, r.error, r.seen_at) for r in rows]


def folder_state(hub, fingerprint: str | None) -> dict:
    """Does the folder hold the generation in force, a valid change not yet reloaded, or an
    invalid one (with its problems, as a reload would refuse it)?"""
    from hub.reload.command import check

    snapshot, read_problems = read_snapshot(hub.settings.routes_dir)
    if snapshot.fingerprint == fingerprint:
        return {"directory": str(snapshot.directory), "state": "the generation in force"}
    _, problems = check(hub, snapshot, read_problems)
    if problems:
        return {"directory": str(snapshot.directory), "state": f"changed, INVALID ({len(problems)} problem(s); "
                "a reload would be refused)", "problems": problems}
    what = "changed, valid" if fingerprint is not None else "valid"
    return {"directory": str(snapshot.directory), "state": f"{what}: not in force until hub routes reload "
                                                          "(or a hub process starts)"}


def current_status(hub) -> dict:
    gen = fetch(hub.db, with_files=False)
    now = utcnow()
    return {
        "generation": None if gen is None else {
            "id": gen.id, "activated_at": gen.activated_at, "by": gen.by, "via": gen.via, "summary": gen.summary,
            "changes": gen.changes},
        "folder": folder_state(hub, gen.fingerprint if gen else None),
        "processes": [{"process": p.process, "kind": p.kind, "generation": p.generation, "error": p.error,
                       "seen_seconds_ago": (now - p.seen_at).total_seconds()} for p in processes(hub.db)],
        "history": [{"id": h.id, "activated_at": h.activated_at, "by": h.by, "via": h.via, "summary": h.summary}
                    for h in history(hub.db)],
    }
