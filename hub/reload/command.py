"""``hub routes reload``: check the route folder, and put it in force as the next generation.

The order matters, so that no message is lost or taken twice across the swap:

1. read every file once and check the set (routes, endpoints, channels) and the partner
   registry against it — any problem refuses the reload with every ``file:line``, and the
   generation in force stays;
2. load the partner registry (a new partner and the channel bound to it arrive together);
3. declare the new set's queues and bindings, *before* it is in force: a message received once
   the generation is recorded is certain to be copied to the routes it names
   (``Topology.routes_for`` counts on it);
4. record the generation (its number is the primary key: a concurrent reload loses and reads
   again) and the audit entry;
5. unbind what the new set no longer binds (a removed route, a route's old ``from``): no new
   copy goes there; what its queue already holds is finished by the workers on its old
   definition (hub.reload.worker). An unbind the broker refuses now is done by the workers'
   upkeep later (hub.reload.upkeep); the reload stays applied and is audited either way.

Running processes notice the new generation within ``HUB_ROUTES_FOLLOW_INTERVAL`` seconds
(hub.reload.follow).
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text

from hub.console.audit import record as audit
from hub.console.operators import Principal
from hub.reload.generations import (
    Generation,
    GenerationTaken,
    Snapshot,
    any_change,
    bindings_of,
    changes_between,
    fetch,
    load_snapshot,
    read_snapshot,
    record,
    summarise,
)
from hub.partner_sync import RegistryInvalid
from hub.routes.loader import RouteSet
from hub.store.models import utcnow

log = logging.getLogger(__name__)

ACTION = "routes_reload"
MAX_PROBLEMS_RECORDED = 200


@dataclass
class ReloadResult:
    outcome: str  # applied, unchanged, refused, checked (a dry run)
    generation: Generation | None = None  # the one in force afterwards
    previous: Generation | None = None
    problems: list[str] = field(default_factory=list)
    changes: dict = field(default_factory=dict)
    registry: str | None = None  # what the partner registry load changed

    @property
    def summary(self) -> str:
        return summarise(self.changes) if self.changes else "nothing changed"


def check(hub, snapshot: Snapshot, read_problems: list) -> tuple[RouteSet, list[str]]:
    """The set the snapshot makes, and every problem with it — its own and the partner
    registry's against it (an endpoint a partner names must still exist)."""
    from hub.partner_sync import check_registry, registry_path

    new = load_snapshot(snapshot)
    problems = [str(p) for p in sorted([*read_problems, *new.problems])]
    registry = registry_path(snapshot.directory)
    if not problems and registry.is_file():
        problems += check_registry(registry, new).problems
    return new, problems


def reload_routes(hub, principal: Principal, *, dry_run: bool = False) -> ReloadResult:
    """Check ``HUB_ROUTES_DIR`` and put it in force (see the module docstring)."""
    snapshot, read_problems = read_snapshot(hub.settings.routes_dir)
    new, problems = check(hub, snapshot, read_problems)
    if problems:
        if not dry_run:
            _audit_refused(hub, principal, snapshot, problems)
        return ReloadResult("refused", fetch(hub.db, with_files=False), problems=problems)
    with one_reload_at_a_time(hub):
        return _apply(hub, principal, snapshot, new, dry_run)


def _apply(hub, principal: Principal, snapshot: Snapshot, new: RouteSet, dry_run: bool) -> ReloadResult:
    # Before the first declare, once: a message published from then on may be copied by a new
    # binding, so a key's since must not be later than any message it copied (it may be a
    # little earlier: such a message is then looked for there, and the sweeper sends it).
    bound_at = utcnow()
    for _ in range(10):
        previous = fetch(hub.db)
        if previous is not None and previous.fingerprint == snapshot.fingerprint:
            return ReloadResult("unchanged", previous, previous)
        old = load_snapshot(previous.snapshot) if previous and previous.snapshot else None
        if dry_run:
            changes = changes_between(old, new, previous.snapshot if previous else None, snapshot)
            return ReloadResult("checked", previous, previous, changes=changes)
        try:
            registry = _load_registry(hub, new)
        except RegistryInvalid as exc:
            _audit_refused(hub, principal, snapshot, exc.problems)
            return ReloadResult("refused", previous, problems=exc.problems)
        declare(hub, new)
        try:
            generation = record(hub.db, snapshot, new, previous, old, by=principal.name, via=principal.via,
                                bound_at=bound_at)
        except GenerationTaken:
            continue  # another reload got there first: compare with what it put in force
        try:
            unbind_dropped(hub, old, new)
        except Exception:  # noqa: BLE001 - in force already; every worker's upkeep unbinds it later
            log.warning("route reload: generation %d is in force, but what it no longer binds could not be "
                        "unbound now; the workers' upkeep unbinds it (hub.reload.upkeep)", generation.id,
                        exc_info=True)
        _audit_applied(hub, principal, generation, previous, registry)
        return ReloadResult("applied", generation, previous, changes=generation.changes, registry=registry)
    raise RuntimeError("route reload: ten other reloads recorded a generation while this one tried; try again")


RELOAD_LOCK = 0x48554252  # "HUBR": with the namespace's checksum, the PostgreSQL advisory lock of route reloads


@contextmanager
def one_reload_at_a_time(hub) -> Iterator[None]:
    """Reloads (and processes starting on an edited folder) of one hub one after another on
    PostgreSQL: two interleaved declare-then-record sequences could record a key's ``since``
    later than the other's declare. (SQLite, the one-machine default, runs one writer at a time.)"""
    db = hub.db
    if db.is_sqlite:
        yield
        return
    keys = {"a": RELOAD_LOCK, "b": zlib.crc32(hub.settings.namespace.encode()) - 2**31}
    with db.engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:a, :b)"), keys)
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:a, :b)"), keys)
            conn.commit()


def _load_registry(hub, routes: RouteSet) -> str | None:
    from hub.partner_sync import record_change, sync_partners

    change = sync_partners(hub, routes)
    if change is None or not change.any:
        return None
    record_change(hub, change, "routes reload")
    return change.summary()


# -- the broker ------------------------------------------------------------------------------------

def declare(hub, routes: RouteSet) -> None:
    """The set's exchanges, queues and bindings (idempotent: what exists stays as it is)."""
    with hub.connection() as conn:
        hub.topology_for(routes).declare(conn.default_channel)


def unbind_dropped(hub, old: RouteSet | None, new: RouteSet) -> list[tuple[str, str]]:
    """Remove the ingress bindings the new set no longer has: a removed (or disabled) route's,
    and the keys a route's ``from`` dropped. Returns (queue, key) pairs unbound."""
    before, after = bindings_of(old), bindings_of(new)
    topology = hub.topology_for(new)
    dropped = [(topology.queue_name("route", name), key) for name, keys in before.items()
               for key in keys if key not in after.get(name, ())]
    if dropped:
        with hub.connection() as conn:
            channel = conn.default_channel
            for queue, key in dropped:
                channel.queue_unbind(queue=queue, exchange=topology.ingress.name, routing_key=key)
                log.info("route reload: unbound %s from %s (%s)", queue, topology.ingress.name, key)
    return dropped


# -- the audit trail -------------------------------------------------------------------------------

def _audit_applied(hub, principal: Principal, generation: Generation, previous: Generation | None,
                   registry: str | None) -> None:
    try:
        audit(hub.db, principal, ACTION, target_type="route_generation", targets=[str(generation.id)],
              reason=generation.summary,
              detail={"generation": generation.id, "previous": previous.id if previous else None,
                      "directory": generation.directory, "fingerprint": generation.fingerprint,
                      "changes": generation.changes, "partner_registry": registry})
    except Exception:  # noqa: BLE001 - the generation is in force; a missing audit row must not undo it
        log.warning("route generation %d not recorded in the audit trail", generation.id, exc_info=True)


def _audit_refused(hub, principal: Principal, snapshot: Snapshot, problems: list[str]) -> None:
    try:
        audit(hub.db, principal, ACTION, outcome="refused", target_type="route_generation",
              reason=f"{len(problems)} problem(s) in {snapshot.directory}",
              detail={"directory": str(snapshot.directory), "fingerprint": snapshot.fingerprint,
                      "problems": problems[:MAX_PROBLEMS_RECORDED]})
    except Exception:  # noqa: BLE001 - the refusal stands either way
        log.warning("refused route reload not recorded in the audit trail", exc_info=True)


def describe(result: ReloadResult, directory: Path) -> list[str]:
    """What ``hub routes reload`` prints."""
    if result.outcome == "refused":
        kept = f"generation {result.generation.id} stays in force" if result.generation else "nothing changed"
        return [f"refused: {directory} has {len(result.problems)} problem(s); {kept}:",
                *[f"  {p}" for p in result.problems]]
    if result.outcome == "unchanged":
        return [f"unchanged: {directory} is generation {result.generation.id} already"]
    if result.outcome == "checked":
        number = (result.previous.id + 1) if result.previous else 1
        return [f"ok (not applied): generation {number} would be: "
                + (result.summary if any_change(result.changes) else "the same routes")]
    lines = [f"generation {result.generation.id} in force (was {result.previous.id if result.previous else 'none'}):"
             f" {result.generation.summary}"]
    if result.registry:
        lines.append(f"  partner registry: {result.registry}")
    return lines
