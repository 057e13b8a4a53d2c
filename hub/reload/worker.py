"""A running Celery worker takes a new route generation between batches.

The follower thread (hub.reload.follow) builds the new set; the swap itself runs in the
consumer's own loop (``consumer.call_soon``), where Celery reads tasks, strategies and queues —
so no message is handed out half-way through it:

1. tasks of new routes and endpoints are registered, with their strategies (how the consumer
   turns a message into a batch);
2. the set is put in force in this process (the relay, the scheduler and the sweeper read it),
   and batches dispatched from now on carry the new generation (hub.reload.dispatch: a pool
   process runs each batch on the generation it was dispatched with, hub.reload.pool);
3. new queues are consumed (``add_task_queue``); a queue of a route whose ``from`` changed is
   kept with its new bindings, so a reconnect declares those, not the old ones;
4. queues of removed routes and endpoints are *drained*: consumed until nothing is ready in
   them (what they hold was routed there while they existed, and is finished on their last
   definition), then cancelled (``cancel_task_queue``). A removed route's queue was unbound by
   the reload (hub.reload.command), so it receives nothing new; it is declared without
   bindings from then on. Route queues go first: a removed route being drained still makes
   deliveries for the endpoints its last definition sends to, so a removed endpoint's queue is
   cancelled only once no draining route sends to it, the store holds no pending or sending
   delivery for it, nothing is ready in it — and all that has held for the relay's grace plus
   one batch linger (a delivery committed but not yet published is published by then).

A worker started with ``--route``/``--endpoint`` keeps to them: it starts consuming nothing new,
and drains only its own queues that the new set removed.

What a restart would otherwise forget is looked after by ``upkeep_tick`` (hub.reload.upkeep): at
the start and every ``UPKEEP`` seconds the worker drains the queues of recently removed routes
and endpoints that still hold messages (a worker restarted mid-drain, a message a dying worker
had taken coming back) and unbinds what the set in force no longer binds (an unbind the broker
refused during the reload).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

from celery import bootsteps
from sqlalchemy import select

from hub.delivery.states import PENDING, SENDING
from hub.reload import dispatch
from hub.reload.follow import Listener, RouteState, in_force, put_in_force, start_following
from hub.reload.generations import fetch, load_snapshot, recent
from hub.reload.command import declare
from hub.reload.upkeep import UPKEEP, Leftover, leftovers, ready_counts, stale_bindings, unbind
from hub.store.models import Delivery

log = logging.getLogger(__name__)

LOOP_WAIT = 120.0  # seconds the follower waits for the consumer loop to take a generation


def task_names(routes: Iterable[str], endpoints: Iterable[str]) -> set[str]:
    return {f"hub.route.{r}" for r in routes} | {f"hub.deliver.{e}" for e in endpoints}


class WorkerRoutes:
    """The worker's side of a swap (see the module docstring)."""

    def __init__(self, hub, consumer, routes: list[str] | None, endpoints: list[str] | None) -> None:
        self.hub = hub
        self.consumer = consumer
        self.routes = routes  # None: every route (no --route)
        self.endpoints = endpoints
        self.draining: dict[str, str] = {}  # queue → "route"/"endpoint", consumed until empty
        self.feeds: dict[str, tuple[str, ...]] = {}  # a draining route's queue → the endpoints it sends to
        self.quiet_since: dict[str, float] = {}  # a draining endpoint's queue → since when nothing can reach it
        self.grace = hub.settings.relay_grace + hub.settings.batch_linger
        self.upkept_at: float | None = None
        self.unbound_for: int | None = None  # the generation ``unbound`` was worked out for
        self.unbound: set[tuple[str, str]] = set()  # stale (route, key) pairs already unbound here

    def wanted(self, topology) -> dict:
        return {q.name: q for q in topology.work_queues(self.routes, self.endpoints)}

    # -- in the follower thread ------------------------------------------------------------

    def swap(self, state: RouteState) -> None:
        """Have the consumer loop take ``state``; wait until it has."""
        done, failed = threading.Event(), []

        def in_loop() -> None:
            try:
                self.apply(state)
            except BaseException as exc:  # noqa: BLE001 - reported to the follower, which logs it
                failed.append(exc)
            finally:
                done.set()

        self.consumer.call_soon(in_loop)
        if not done.wait(LOOP_WAIT):
            raise TimeoutError(f"the worker's consumer loop did not take route generation "
                               f"{state.generation.id} within {LOOP_WAIT:.0f}s")
        if failed:
            raise failed[0]

    def drain_tick(self) -> None:
        """Cancel each drained route queue once nothing is ready in it; each drained endpoint
        queue once nothing can reach it any more (``_endpoint_quiet``) for ``grace`` seconds."""
        now = time.monotonic()
        for queue, kind in list(self.draining.items()):
            if kind != "endpoint":
                if self._ready(queue) == 0:
                    self.consumer.call_soon(self._cancel, queue)
            elif not self._endpoint_quiet(queue):
                self.quiet_since.pop(queue, None)
            elif now - self.quiet_since.setdefault(queue, now) >= self.grace:
                self.consumer.call_soon(self._cancel, queue)

    def upkeep_tick(self, force: bool = False) -> None:
        """Every ``UPKEEP`` seconds: unbind stale bindings, and drain the left-over queues of
        removed routes and endpoints that hold messages (hub.reload.upkeep)."""
        now = time.monotonic()
        if not force and self.upkept_at is not None and now - self.upkept_at < UPKEEP:
            return
        current = self.hub.generation
        if current is None:
            return
        generations = recent(self.hub.db)
        if not generations or generations[-1].id != current.id:
            return  # not on the newest generation: what it no longer binds may be bound again by a newer one
        here = generations[-1]
        self._unbind_stale(generations, here)
        consumed = set(self.hub.celery.amqp.queues.consume_from or {})
        found = [(self.hub.topology.queue_name(lo.kind, lo.name), lo)
                 for lo in leftovers(generations, set(self.hub.compiled), set(self.hub.routes.endpoints))
                 if self._mine(lo)]
        found = [(queue, lo) for queue, lo in found if queue not in consumed and queue not in self.draining]
        ready = ready_counts(self.hub, [queue for queue, _ in found]) if found else {}
        for queue, leftover in found:
            if ready.get(queue, 0) > 0:
                self.consumer.call_soon(self._resume, leftover, _sends_to(self.hub.db, leftover))
        self.upkept_at = now

    def _unbind_stale(self, generations: list, here) -> None:
        """Unbind what ``here`` (the newest generation) no longer binds, once per generation in
        this process; then, should a reload have recorded a newer one meanwhile, declare its
        bindings again (it may bind again what was just unbound)."""
        if self.unbound_for != here.id:
            self.unbound_for, self.unbound = here.id, set()
        stale = stale_bindings(generations, here) - self.unbound
        if not stale:
            return
        unbound = unbind(self.hub, self.hub.topology, stale)
        self.unbound |= stale
        if unbound:
            log.info("routes: unbound %d binding(s) generation %d no longer has: %s", len(unbound), here.id,
                     ", ".join(f"{route} ({key})" for route, key in unbound))
        newest = fetch(self.hub.db, with_files=True)
        if newest is not None and newest.id != here.id and newest.snapshot is not None:
            declare(self.hub, load_snapshot(newest.snapshot))

    def _mine(self, leftover: Leftover) -> bool:
        chosen = self.routes if leftover.kind == "route" else self.endpoints
        return chosen is None or leftover.name in chosen

    def drain(self, queue: str, kind: str, sends_to: Iterable[str] = ()) -> None:
        """Consume ``queue`` until it is drained (a removed route's: ``sends_to`` its endpoints)."""
        self.draining[queue] = kind
        if kind == "route":
            self.feeds[queue] = tuple(sends_to)

    def _endpoint_quiet(self, queue: str) -> bool:
        """Nothing more can come to this removed endpoint's queue: no draining route sends to it,
        the store has no delivery for it on its way, and nothing is ready in it."""
        parsed = self.hub.topology.parse_queue(queue)
        endpoint = parsed[1] if parsed is not None else queue
        if any(endpoint in self.feeds.get(q, ()) for q, kind in list(self.draining.items()) if kind == "route"):
            return False
        try:
            if _deliveries_on_the_way(self.hub.db, endpoint):
                return False
        except Exception:  # noqa: BLE001 - the store away: not known to be quiet, asked again next pass
            log.debug("endpoint %s: deliveries not counted while draining", endpoint, exc_info=True)
            return False
        return self._ready(queue) == 0

    def _ready(self, queue: str) -> int:
        try:
            with self.hub.connection() as conn:
                return conn.default_channel.queue_declare(queue=queue, passive=True).message_count
        except Exception:  # noqa: BLE001 - a queue that is gone holds nothing
            log.debug("queue %s: not found while draining", queue, exc_info=True)
            return 0

    # -- in the consumer loop --------------------------------------------------------------

    def apply(self, state: RouteState) -> None:
        app, consumer = self.hub.celery, self.consumer
        here = self.hub.generation
        if here is not None and state.generation is not None and state.generation.id <= here.id:
            # A swap the follower stopped waiting for, run after a newer one: never go back.
            log.info("routes: generation %d not applied: generation %d is already in force here",
                     state.generation.id, here.id)
            return
        self._register(app, consumer, state)
        old = in_force(self.hub)
        put_in_force(self.hub, state)
        dispatch.advance(state.generation.id, task_names(state.compiled, state.routes.endpoints))
        queues = app.amqp.queues
        wanted = self.wanted(state.topology)
        for name, queue in wanted.items():
            queues.add(queue)  # the new bindings: what a reconnect declares
            self.draining.pop(name, None)
            self.quiet_since.pop(name, None)
            consumer.add_task_queue(name)
        for name in list(queues.consume_from or {}):
            parsed = state.topology.parse_queue(name)
            if name in wanted or parsed is None or name in self.draining:
                continue
            kind, entry = parsed
            sends_to: tuple[str, ...] = ()
            if kind == "route":
                queues.select_add(state.topology.unbound_route_queue(entry))
                last = old.routes.routes.get(entry)
                sends_to = tuple(last.route.to) if last is not None else ()
            self.drain(name, kind, sends_to)
            log.info("routes: %s %s removed in generation %d; its queue %s is drained, then no longer consumed",
                     kind, entry, state.generation.id, name)

    def _register(self, app, consumer, state: RouteState) -> None:
        from hub.worker import _register_endpoint, _register_route

        for route in state.compiled:
            if f"hub.route.{route}" not in app.tasks:
                _register_route(app, self.hub, route)
        for endpoint in state.routes.endpoints:
            if f"hub.deliver.{endpoint}" not in app.tasks:
                _register_endpoint(app, self.hub, endpoint)
        for name in task_names(state.compiled, state.routes.endpoints):
            if name not in consumer.strategies:
                consumer.strategies[name] = app.tasks[name].start_strategy(app, consumer)

    def _resume(self, leftover: Leftover, sends_to: tuple[str, ...]) -> None:
        """In the consumer loop: consume a left-over queue until it is drained, its batches run
        on the last generation that had its route or endpoint. A failure is logged (the next
        upkeep tries again); it must not stop the consumer loop."""
        try:
            self._start_draining(leftover, sends_to)
        except Exception:  # noqa: BLE001 - the broker away, a task that cannot be made: tried again later
            log.exception("routes: could not start draining %s %s", leftover.kind, leftover.name)

    def _start_draining(self, leftover: Leftover, sends_to: tuple[str, ...]) -> None:
        from hub.worker import _register_endpoint, _register_route

        app, consumer, topology = self.hub.celery, self.consumer, self.hub.topology
        queue_name = topology.queue_name(leftover.kind, leftover.name)
        if queue_name in self.draining or queue_name in (app.amqp.queues.consume_from or {}):
            return
        if leftover.task_name not in app.tasks:
            (_register_route if leftover.kind == "route" else _register_endpoint)(app, self.hub, leftover.name)
        consumer.strategies[leftover.task_name] = app.tasks[leftover.task_name].start_strategy(app, consumer)
        dispatch.remember(leftover.task_name, leftover.last_generation)
        queue = (topology.unbound_route_queue(leftover.name) if leftover.kind == "route"
                 else topology.endpoint_queue(leftover.name))
        app.amqp.queues.select_add(queue)
        consumer.add_task_queue(queue_name)
        self.drain(queue_name, leftover.kind, sends_to)
        log.info("routes: %s %s (removed after generation %d) still has messages in %s: drained on generation %d",
                 leftover.kind, leftover.name, leftover.last_generation, queue_name, leftover.last_generation)

    def _cancel(self, queue: str) -> None:
        if self.draining.pop(queue, None) is None:
            return  # wanted again meanwhile
        self.feeds.pop(queue, None)
        self.quiet_since.pop(queue, None)
        self.consumer.cancel_task_queue(queue)
        log.info("routes: queue %s drained; no longer consumed", queue)


def _sends_to(db, leftover: Leftover) -> tuple[str, ...]:
    """The endpoints a left-over route's last definition sends to (none known: its texts gone)."""
    if leftover.kind != "route":
        return ()
    generation = fetch(db, leftover.last_generation)
    if generation is None or generation.snapshot is None:
        return ()
    last = load_snapshot(generation.snapshot).routes.get(leftover.name)
    return tuple(last.route.to) if last is not None else ()


def _deliveries_on_the_way(db, endpoint: str) -> bool:
    """The store holds a delivery to ``endpoint`` that is pending (its task message on its way to
    the endpoint's queue) or being sent."""
    with db.read() as session:
        return session.scalar(select(Delivery.id).where(Delivery.endpoint == endpoint,
                                                        Delivery.status.in_((PENDING, SENDING))).limit(1)) is not None


def follow_in_worker(hub, *, routes: list[str] | None = None, endpoints: list[str] | None = None,
                     kind: str = "worker", listeners: Iterable[Listener] = ()) -> None:
    """Make the worker about to be started from ``hub.celery`` follow the route generations
    (``hub.reload.follow.adopt_at_start`` has put one in force). Adds a consumer step."""

    class FollowRoutes(bootsteps.StartStopStep):
        """Starts the follower once the consumer's task consumer exists; a consumer restarted
        after a lost connection keeps it (its queue selection holds the swaps)."""

        requires = ("celery.worker.consumer.tasks:Tasks",)

        def __init__(self, c, **kwargs) -> None:
            super().__init__(c, **kwargs)
            self.follower = None

        def start(self, c) -> None:
            if self.follower is not None:
                return
            side = WorkerRoutes(hub, c, routes, endpoints)
            state = in_force(hub)
            if state.generation is not None:
                dispatch.advance(state.generation.id, task_names(state.compiled, state.routes.endpoints))
            self.follower = start_following(hub, kind, swap=side.swap, tickers=[side.drain_tick, side.upkeep_tick],
                                            listeners=list(listeners))

        def shutdown(self, c) -> None:
            if self.follower is not None:
                self.follower.stop()

    hub.celery.steps["consumer"].add(FollowRoutes)
