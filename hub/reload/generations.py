"""Route generations: the route set in force, numbered, as the texts that were validated.

Why the texts and not just a number: a process that takes generation 7 must run exactly what
``hub routes reload`` checked, not whatever the folder holds when it gets round to looking
(someone may be half-way through the next edit). So each generation keeps its files' texts,
and every process builds its route set from those (``RouteSet.load(directory, texts)``) — the
problems a process may still meet (a transform its code lacks) are its own, and it then keeps
the set it runs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, null, select, update
from sqlalchemy.exc import IntegrityError

from hub.db import Database
from hub.reload.models import RouteGeneration
from hub.routes.loader import RouteSet, route_files
from hub.store.models import utcnow
from hub.yamlfile import MAX_FILE_BYTES, Problem

KEEP = 20  # generations whose texts are kept (a worker may still finish a removed route's batches on one)
KINDS = ("routes", "endpoints", "channels")


@dataclass(frozen=True)
class Snapshot:
    """The route folder as read once: (file name, text) in reading order."""

    directory: Path
    files: tuple[tuple[str, str], ...]

    @property
    def texts(self) -> dict[str, str]:
        return dict(self.files)

    @property
    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for name, text in self.files:
            digest.update(name.encode() + b"\0" + text.encode() + b"\0")
        return digest.hexdigest()


def read_snapshot(directory: Path) -> tuple[Snapshot, list[Problem]]:
    """Read every route file once. A file that cannot be read is a problem naming it."""
    directory = Path(directory).resolve()  # recorded so: another process compares it with its own folder
    if not directory.is_dir():
        return Snapshot(directory, ()), [Problem(str(directory), 1, "routes folder does not exist")]
    files, problems = [], []
    for path in route_files(directory):
        try:
            raw = path.read_bytes()
            if len(raw) > MAX_FILE_BYTES:
                problems.append(Problem(str(path), 1, f"file is {len(raw)} bytes, more than the {MAX_FILE_BYTES} "
                                                      "a data file may have"))
                continue
            files.append((path.name, raw.decode("utf-8")))
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(str(path), 1, f"cannot read file: {exc}"))
    return Snapshot(directory, tuple(files)), problems


def load_snapshot(snapshot: Snapshot) -> RouteSet:
    return RouteSet.load(snapshot.directory, texts=snapshot.texts)


@dataclass
class Generation:
    """A ``route_generations`` row, detached from its session."""

    id: int
    fingerprint: str
    activated_at: datetime
    by: str
    via: str
    directory: str
    changes: dict[str, Any]
    summary: str
    bound_since: dict[str, dict[str, datetime]] = field(default_factory=dict)  # route → key → when bound
    files: tuple[tuple[str, str], ...] | None = None

    @property
    def snapshot(self) -> Snapshot | None:
        return Snapshot(Path(self.directory), self.files) if self.files is not None else None

    @classmethod
    def of(cls, row: RouteGeneration, with_files: bool) -> Generation:
        files = tuple((name, text) for name, text in row.files) if with_files and row.files is not None else None
        return cls(row.id, row.fingerprint, row.activated_at, row.by, row.via, row.directory, dict(row.changes),
                   row.summary, _read_bound_since(row.bound_since), files)


def newest_id(db: Database) -> int | None:
    """The number of the generation in force (one cheap query: followers ask it every few seconds)."""
    with db.read() as session:
        return session.scalar(select(func.max(RouteGeneration.id)))


def fetch(db: Database, generation_id: int | None = None, *, with_files: bool = True) -> Generation | None:
    """One generation (default: the one in force), or None."""
    with db.read() as session:
        if generation_id is None:
            generation_id = session.scalar(select(func.max(RouteGeneration.id)))
            if generation_id is None:
                return None
        row = session.get(RouteGeneration, generation_id)
        return Generation.of(row, with_files) if row is not None else None


def recent(db: Database, limit: int = KEEP) -> list[Generation]:
    """The newest generations, oldest first, without their texts."""
    return list(reversed(history(db, limit)))


def history(db: Database, limit: int = 10) -> list[Generation]:
    with db.read() as session:
        rows = session.scalars(select(RouteGeneration).order_by(RouteGeneration.id.desc()).limit(limit))
        return [Generation.of(r, with_files=False) for r in rows]


# -- what changed ----------------------------------------------------------------------------------

def _entries(routes: RouteSet | None, kind: str) -> dict[str, Any]:
    """name → the entry as data, for comparing two sets (a route's dump holds its steps)."""
    if routes is None:
        return {}
    if kind == "routes":
        return {name: lr.route.model_dump(mode="json", by_alias=True) for name, lr in routes.routes.items()}
    found = routes.endpoints if kind == "endpoints" else routes.channels
    return {name: entry.model_dump(mode="json", by_alias=True) for name, entry in found.items()}


def _compare(old: dict[str, Any], new: dict[str, Any]) -> dict[str, list[str]]:
    return {"added": sorted(set(new) - set(old)), "removed": sorted(set(old) - set(new)),
            "changed": sorted(name for name in set(old) & set(new) if old[name] != new[name])}


def changes_between(old: RouteSet | None, new: RouteSet, old_files: Snapshot | None, new_files: Snapshot) -> dict:
    """Routes, endpoints, channels and files added, removed and changed (``old`` None: the first
    generation, everything added)."""
    out = {kind: _compare(_entries(old, kind), _entries(new, kind)) for kind in KINDS}
    out["files"] = _compare(old_files.texts if old_files else {}, new_files.texts)
    return out


def summarise(changes: dict) -> str:
    parts = []
    for kind in KINDS:
        said = [f"{how} {', '.join(names)}" for how, names in changes.get(kind, {}).items() if names]
        if said:
            parts.append(f"{kind}: {'; '.join(said)}")
    if parts:
        return " | ".join(parts)
    files = [name for names in changes.get("files", {}).values() for name in names]
    return ("no route, endpoint or channel changed" + (f" (files changed: {', '.join(sorted(files))})" if files else ""))


def any_change(changes: dict) -> bool:
    return any(names for kind in (*KINDS, "files") for names in changes.get(kind, {}).values())


# -- recording -------------------------------------------------------------------------------------

class GenerationTaken(Exception):
    """Another process recorded the same generation number first: read the newest and decide again."""


def bindings_of(routes: RouteSet | None) -> dict[str, tuple[str, ...]]:
    return {r.name: tuple(r.route.from_.binding_keys()) for r in routes.enabled_routes} if routes else {}


def bound_since(previous: Generation | None, old: RouteSet | None, new: RouteSet,
                now: datetime) -> dict[str, dict[str, datetime]]:
    """When each binding key of each route took effect — kept across generations while the route
    keeps the key; ``now`` for a key added (a new route's, a key its ``from`` gained). Keys of the
    first generation have none: they were bound before anything was recorded. Per key, not per
    route: a route that gains a key still had its old keys' messages copied to it all along."""
    if previous is None:
        return {}
    before, after = bindings_of(old), bindings_of(new)
    out: dict[str, dict[str, datetime]] = {}
    for name, keys in after.items():
        kept, had = previous.bound_since.get(name, {}), before.get(name, ())
        times = {key: (kept[key] if key in had else now) for key in keys if key not in had or key in kept}
        if times:
            out[name] = times
    return out


def _read_bound_since(stored: dict | None) -> dict[str, dict[str, datetime]]:
    """The stored JSON: route → key → ISO time. (The table's first version, never released,
    kept one time per route; such a value is read as bound from the start.)"""
    return {route: {key: datetime.fromisoformat(at) for key, at in keys.items()}
            for route, keys in (stored or {}).items() if isinstance(keys, dict)}


def record(db: Database, snapshot: Snapshot, new: RouteSet, previous: Generation | None, old: RouteSet | None,
           *, by: str, via: str, bound_at: datetime | None = None) -> Generation:
    """Insert the next generation. Raises ``GenerationTaken`` when another process took its
    number meanwhile (the caller reads the newest again: it may be this very set). ``bound_at``:
    when the new bindings were declared (taken just before declaring them)."""
    now = bound_at or utcnow()
    changes = changes_between(old, new, previous.snapshot if previous else None, snapshot)
    # The ingress bindings this generation put in force: what a later one no longer binds is
    # unbound by every worker's upkeep until it is gone (hub.reload.upkeep), not only once.
    changes["bindings"] = {name: list(keys) for name, keys in bindings_of(new).items()}
    changes["endpoint_names"] = sorted(new.endpoints)  # a removed one's queue is drained on the last that had it
    since = bound_since(previous, old, new, now)
    number = (previous.id if previous else 0) + 1
    row = RouteGeneration(id=number, fingerprint=snapshot.fingerprint, activated_at=now, by=by, via=via,
                          directory=str(snapshot.directory), files=[list(f) for f in snapshot.files],
                          changes=changes,
                          bound_since={r: {k: at.isoformat() for k, at in keys.items()} for r, keys in since.items()},
                          summary=summarise(changes) if previous else f"first generation: {_count(new)}")
    try:
        with db.session() as session:
            session.add(row)
            # Old texts go: only a worker finishing a removed route's last batches reads one back.
            session.execute(update(RouteGeneration).where(RouteGeneration.id <= number - KEEP)
                            .where(RouteGeneration.files.is_not(None)).values(files=null()))
    except IntegrityError:
        raise GenerationTaken(number) from None
    return Generation(number, row.fingerprint, now, by, via, row.directory, changes, row.summary, since,
                      snapshot.files)


def _count(routes: RouteSet) -> str:
    return f"{len(routes.routes)} route(s), {len(routes.endpoints)} endpoint(s), {len(routes.channels)} channel(s)"
