"""Every running hub process follows the route generation in force.

A process starts on the generation in force (``take_in_force``, before it declares anything on
the broker). If its route folder is the one that generation was read from and the files differ
(an edit), or none is recorded yet, its start is a reload — recorded the same way, ``via:
start`` — and the other processes follow it; a process on another folder runs the generation in
force and says so (``adopt_at_start``). While it runs, ``RoutesFollower`` asks the
store every ``HUB_ROUTES_FOLLOW_INTERVAL`` seconds (default 2) for the newest generation; a
new one is built from its texts and put in force in one swap (``swap``; a worker's happens in
its consumer loop, between batches: hub.reload.worker), then the listeners run (the file drop
and SFTP pollers take their channels: connectors.inbound.channels_follow). A generation this process cannot
build (its code lacks a transform the files name) is refused in the log with every file:line,
and the process keeps the set it runs — ``hub routes status`` shows it behind, with the reason.

With ``HUB_ROUTES_WATCH_INTERVAL`` set (seconds), the follower also watches the folder, like
the partner registry's watcher: an edit is reloaded as ``hub routes reload`` would
(``via: watch``), an invalid one refused in the log. Watch in one process per hub (the others
follow the store): every watching process would otherwise log the same refusal.
"""

from __future__ import annotations

import logging
import os
import pwd
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import delete, update
from sqlalchemy.exc import SQLAlchemyError

from hub.console.operators import Principal
from hub.reload.command import reload_routes
from hub.reload.generations import Generation, fetch, load_snapshot, newest_id, read_snapshot
from hub.reload.models import RouteFollower
from hub.routes.engine import CompiledRoute
from hub.routes.loader import RouteSet, route_files
from hub.store.models import utcnow

log = logging.getLogger(__name__)

HEARTBEAT = 10.0  # seconds between two reports of a process that changes nothing
LIVE = timedelta(seconds=3 * HEARTBEAT)  # a process not heard from for longer is taken for gone
FORGET = timedelta(days=1)  # rows of processes gone that long are deleted


def follow_interval() -> float:
    return float(os.environ.get("HUB_ROUTES_FOLLOW_INTERVAL", "2"))


def watch_interval() -> float:
    return float(os.environ.get("HUB_ROUTES_WATCH_INTERVAL", "0"))


@dataclass
class RouteState:
    """One route set ready to be put in force: built beforehand, swapped in at once."""

    generation: Generation | None
    routes: RouteSet
    topology: object
    compiled: dict[str, CompiledRoute]


def build(hub, generation: Generation, routes: RouteSet) -> RouteState:
    return RouteState(generation, routes, hub.topology_for(routes, generation.bound_since), hub.compile(routes))


def in_force(hub) -> RouteState:
    return RouteState(hub.generation, hub.routes, hub.topology, hub.compiled)


def put_in_force(hub, state: RouteState) -> None:
    hub.use_routes(state.routes, state.topology, state.compiled, state.generation)


class RoutesInvalidHere(Exception):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def take_in_force(hub) -> Generation | None:
    """Put the generation in force in this process, if one is recorded and this process can
    build it (else the process keeps its folder's routes, and says why). Every process's start
    begins here (``Hub.setup``), before it declares anything on the broker."""
    try:
        generation = fetch(hub.db)
    except SQLAlchemyError as exc:  # no schema yet (``hub flower`` on a fresh database): nothing is in force
        log.debug("no route generation read: %s", exc)
        return None
    if generation is None or generation.snapshot is None:
        return None
    routes = load_snapshot(generation.snapshot)
    if routes.problems:
        log.warning("route generation %d cannot run here (%s); this process uses its own route folder",
                    generation.id, routes.problems[0])
        return None
    put_in_force(hub, build(hub, generation, routes))
    return generation


def registry_routes(hub) -> RouteSet | None:
    """The route set a starting process checks its partner registry against: its folder's, which
    its start is about to put in force (an edit may add the endpoint a partner names); the set in
    force when the folder does not load. None when its folder is not the one the generation in
    force was read from: that process runs the generation in force, and loads no registry of its own."""
    here = Path(hub.settings.routes_dir)
    if hub.generation is not None and not _same_folder(hub.generation.directory, here):
        return None
    routes = RouteSet.load(here)
    return hub.routes if routes.problems else routes


def _same_folder(recorded: str, here: Path) -> bool:
    try:
        return Path(recorded).resolve() == here.resolve()
    except OSError:
        return False


def adopt_at_start(hub, user: str) -> str:
    """Put the route files in force in this starting process, as the generation in force or as
    a new one (a start is a reload). Raises ``RoutesInvalidHere`` with every file:line. Returns
    the line saying which generation runs here.

    A process whose route folder is not the one the generation in force was read from (another
    checkout, a container with another mount, a test's copy) runs the generation in force and
    says so: starting it must not put a different set in force for every other process. An edit
    in the same folder is a reload, as ``hub routes reload`` would make it; so is the first start."""
    here = Path(hub.settings.routes_dir)
    current = fetch(hub.db)
    if current is not None and not _same_folder(current.directory, here):
        if current.snapshot is None:
            raise RoutesInvalidHere([f"generation {current.id}'s texts are no longer kept"])
        routes = load_snapshot(current.snapshot)
        if routes.problems:
            raise RoutesInvalidHere([str(p) for p in routes.problems])
        put_in_force(hub, build(hub, current, routes))
        log.warning("route folder %s is not %s, the folder route generation %d was read from: this process "
                    "runs generation %d and does not put its folder in force (`hub routes reload` does)",
                    here.resolve(), current.directory, current.id, current.id)
        return f"route generation {current.id} (in force, read from {current.directory}; not this process's folder)"
    result = reload_routes(hub, Principal(user, "routes", "start"))
    if result.outcome == "refused":
        raise RoutesInvalidHere(result.problems)
    generation = fetch(hub.db, result.generation.id)
    routes = load_snapshot(generation.snapshot)
    put_in_force(hub, build(hub, generation, routes))
    said = "recorded: " + generation.summary if result.outcome == "applied" else "in force"
    return f"route generation {generation.id} ({said})"


Listener = Callable[[RouteState, RouteState], None]


class RoutesFollower(threading.Thread):
    """Takes each new generation in a running process (see the module docstring)."""

    def __init__(self, hub, kind: str, *, swap: Callable[[RouteState], None] | None = None,
                 interval: float | None = None, watch: float | None = None) -> None:
        super().__init__(name="routes-follower", daemon=True)
        self.hub = hub
        self.kind = kind
        self.swap = swap or (lambda state: put_in_force(hub, state))
        self.listeners: list[Listener] = []
        self.tickers: list[Callable[[], None]] = []  # run every pass (a worker drains removed queues)
        self.interval = follow_interval() if interval is None else interval
        self.watch = watch_interval() if watch is None else watch
        self.process = f"{kind}@{socket.gethostname()}:{os.getpid()}"
        self.stopping = threading.Event()
        self.error: str | None = None  # why the newest generation is refused here
        self.failure: str | None = None  # why the last pass failed (the store or the broker away, a swap not taken)
        self.refused: int | None = None  # a generation this process could not build (logged once)
        self._reported: tuple | None = None
        self._reported_at = 0.0
        self._watched: tuple | None = None
        self._watched_at = 0.0
        self._watch_refused: str | None = None

    def run(self) -> None:
        failing = False
        while not self.stopping.wait(self.interval):
            try:
                self.step()
                failing = False
            except Exception:  # noqa: BLE001 - the store away: the next pass tries again
                if not failing:
                    log.warning("routes follower: pass failed; trying every %.0fs", self.interval, exc_info=True)
                failing = True

    def stop(self) -> None:
        self.stopping.set()

    def step(self) -> None:
        """One pass: the folder (when watching), the store's newest generation, the tickers, the
        report. The report is made whatever failed, with the reason, so ``hub routes status``
        shows a process left behind by a failing pass and why."""
        failed: Exception | None = None
        try:
            if self.watch > 0:
                self.watch_folder()
            self.follow()
            for tick in self.tickers:
                tick()
            self.failure = None
        except Exception as exc:
            failed = exc
            self.failure = f"following the route generations failed: {type(exc).__name__}: {_first_line(exc)}"
            raise
        finally:
            try:
                self.report()
            except Exception:  # noqa: BLE001 - the store away too: the pass's own error is the one raised
                if failed is None:
                    raise
                log.debug("routes follower: report failed as well", exc_info=True)

    # -- the store -------------------------------------------------------------------------

    def follow(self) -> bool:
        """Take the newest generation if it is not the one in force here. True if it did."""
        newest = newest_id(self.hub.db)
        current = self.hub.generation.id if self.hub.generation is not None else None
        if newest is None or newest == current or newest == self.refused:
            return False
        generation = fetch(self.hub.db, newest)
        problems = self._problems(generation)
        routes = None
        if not problems:
            routes = load_snapshot(generation.snapshot)
            problems = [str(p) for p in routes.problems]
        if problems:
            self.refused, self.error = newest, f"generation {newest} cannot run here: {problems[0]}"
            log.error("route generation %d cannot be used by this process (it keeps generation %s):\n  %s",
                      newest, current, "\n  ".join(problems))
            return False
        old, new = in_force(self.hub), build(self.hub, generation, routes)
        self.swap(new)
        self.refused, self.error = None, None
        log.info("routes: generation %d in force here (was %s): %s", newest, current, generation.summary)
        for listener in self.listeners:
            try:
                listener(old, new)
            except Exception:  # noqa: BLE001 - one listener failing must not keep the others on the old set
                log.exception("routes follower: %s failed to take generation %d", listener, newest)
        return True

    @staticmethod
    def _problems(generation: Generation) -> list[str]:
        if generation.snapshot is None:
            return [f"generation {generation.id}'s texts are no longer kept (a process this far behind "
                    "must be restarted)"]
        return []

    def report(self, force: bool = False) -> None:
        """Say which generation runs here: on a change, and every HEARTBEAT seconds."""
        now = time.monotonic()
        state = (self.hub.generation.id if self.hub.generation else None, self.error or self.failure)
        if not force and state == self._reported and now - self._reported_at < HEARTBEAT:
            return
        report(self.hub.db, self.process, self.kind, *state)
        self._reported, self._reported_at = state, now

    # -- the folder (optional) -------------------------------------------------------------

    def watch_folder(self) -> None:
        """Reload an edit of the folder. The edit counts as seen only once the reload has
        answered — applied, unchanged, or refused as invalid (not tried again until the next
        edit); a reload that failed (the store or the broker away) is tried again next time."""
        now = time.monotonic()
        if now - self._watched_at < self.watch:
            return
        self._watched_at = now
        stamp = folder_stamp(self.hub.settings.routes_dir)
        if stamp == self._watched:
            return
        snapshot, _ = read_snapshot(self.hub.settings.routes_dir)
        running = self.hub.generation.fingerprint if self.hub.generation is not None else None
        if snapshot.fingerprint in (running, self._watch_refused):
            self._watched = stamp
            return  # touched, not changed; or the invalid edit already refused
        result = reload_routes(self.hub, Principal(_owner(self.hub.settings.routes_dir), "routes", "watch"))
        self._watched = stamp
        if result.outcome == "refused":
            self._watch_refused = snapshot.fingerprint
            log.error("route files changed but are invalid; generation %s stays in force:\n  %s",
                      result.generation.id if result.generation else None, "\n  ".join(result.problems))
        elif result.outcome == "applied":
            log.info("route files changed: generation %d recorded: %s", result.generation.id,
                     result.generation.summary)
            self.follow()


def _first_line(exc: Exception) -> str:
    """An error's first line, short: a driver's message, not the statement and its parameters."""
    text = str(exc).strip()
    return (text.splitlines()[0] if text else "")[:200]


def folder_stamp(directory: Path) -> tuple:
    """What changes when a route file is edited, added or removed."""
    out = []
    for path in route_files(Path(directory)):
        try:
            st = path.stat()
        except OSError:
            continue
        out.append((path.name, st.st_mtime_ns, st.st_size))
    return tuple(out)


def _owner(directory: Path) -> str:
    """Who edited the folder, as well as a file can say: the owner of the newest route file."""
    files = [p for p in route_files(Path(directory)) if p.exists()]
    try:
        newest = max(files, key=lambda p: p.stat().st_mtime_ns) if files else Path(directory)
        return pwd.getpwuid(newest.stat().st_uid).pw_name
    except (KeyError, OSError, ValueError):
        return "unknown"


def report(db, process: str, kind: str, generation: int | None, error: str | None) -> None:
    """Upsert this process's row (and forget processes gone for a day)."""
    now = utcnow()
    with db.session() as session:
        done = session.execute(update(RouteFollower).where(RouteFollower.process == process)
                               .values(generation=generation, error=error, seen_at=now)).rowcount
        if not done:
            session.add(RouteFollower(process=process, kind=kind, generation=generation, error=error,
                                      started_at=now, seen_at=now))
        session.execute(delete(RouteFollower).where(RouteFollower.seen_at < now - FORGET))


def start_following(hub, kind: str, *, swap: Callable[[RouteState], None] | None = None,
                    listeners: list[Listener] = (), tickers: list[Callable[[], None]] = ()) -> RoutesFollower:
    follower = RoutesFollower(hub, kind, swap=swap)
    follower.listeners.extend(listeners)
    follower.tickers.extend(tickers)
    follower.report(force=True)
    follower.start()
    return follower
