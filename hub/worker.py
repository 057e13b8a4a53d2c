"""Celery wiring: one task per route (``hub.route.<name>``) and per endpoint
(``hub.deliver.<endpoint>``), so Flower shows work by name.

An ingress message is published once to the topic exchange and RabbitMQ copies it into every
matching route queue. All copies carry the task name ``hub.ingress``; that task's *strategy*
(Celery's per-task message handler in the consumer) looks at which queue a copy came from and
hands it to that route's task with a per-route task id, before any work is scheduled.

Late acks everywhere: a message is acked only after its work is committed. A worker process
that dies mid-task has its message rejected and redelivered (reject_on_worker_lost); on
RabbitMQ the quorum queue's delivery limit then dead-letters a message that kills every
worker that touches it.

Retries: Celery's own retry budget is switched off (``max_retries=None`` on every task: in
Celery 5.7 ``task.retry(max_retries=None)`` falls back to the task's default of 3, which once
stranded deliveries after four attempts). The hub counts failures itself: a route's unexpected
errors in the task's ``failures`` argument, a delivery's in its store row (hub.delivery), and
the database being away never counts at all.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterable

from celery import Celery, Task, bootsteps
from celery.exceptions import Reject, Retry
from sqlalchemy.exc import InterfaceError, OperationalError

from hub import processing
from hub.app import Hub
from hub.deadletters import reconcile
from hub.delivery import deliver as delivery
from hub.delivery.holders import new_holder
from hub.delivery.schedule import run_due
from hub.ids import stable_id
from hub.ingest import INGRESS_TASK
from hub.outbox import Relay
from hub.sweeper import sweep_stuck

log = logging.getLogger(__name__)

HUB: Hub | None = None  # the hub this worker process serves (inherited by prefork children)


def _hub() -> Hub:
    if HUB is None:
        raise RuntimeError("hub.worker used before build_worker_app()")
    return HUB


def ingress_strategy(task, app, consumer, **kwargs):
    """Dispatch ``hub.ingress`` copies to ``hub.route.<route>`` by the queue they came from."""
    topology = _hub().topology
    tags: dict[str, str] = {}

    def queue_of(message) -> str | None:
        info = message.delivery_info or {}
        if info.get("queue"):  # the embedded transport says it directly
            return info["queue"]
        tag = info.get("consumer_tag")
        if tag not in tags:
            active = getattr(consumer.task_consumer, "_active_tags", {})
            tags.clear()
            tags.update({t: q for q, t in active.items()})
        return tags.get(tag)

    def handler(message, body, ack, reject, callbacks, **kw):
        queue = queue_of(message)
        parsed = topology.parse_queue(queue) if queue else None
        if parsed is None or parsed[0] != "route" or f"hub.route.{parsed[1]}" not in consumer.strategies:
            log.error("ingress message from unknown queue %r: rejected", queue)
            return reject(requeue=False)
        route = parsed[1]
        headers = message.headers
        headers["task"] = f"hub.route.{route}"
        headers["id"] = stable_id(headers.get("id"), route)  # one task id per route copy (Flower keys on it)
        return consumer.strategies[headers["task"]](message, body, ack, reject, callbacks, **kw)

    return handler


class IngressTask(Task):
    """Entry point of ingress messages; never executed: its strategy re-addresses each copy."""

    name = INGRESS_TASK
    Strategy = "hub.worker:ingress_strategy"
    typing = False

    def run(self, *args, **kwargs):
        raise RuntimeError("hub.ingress messages are dispatched to hub.route.<route> tasks by ingress_strategy")


def _database_away(task: Task, queue: str, exc: Exception, **kwargs):
    """The database is unreachable (or a pooled connection went stale after a restart): wait and
    try again, without spending the message's failure budget."""
    countdown = min(30.0, 2.0 ** min(task.request.retries or 0, 5))
    log.warning("database unavailable (%s); retrying %s in %.0fs", type(exc).__name__, task.name, countdown)
    _retry(task, queue, countdown, kwargs)


def _retry(task: Task, queue: str, countdown: float, kwargs: dict):
    """Straight back to this queue through the default exchange (not through ingress: that would
    fan the message out to every matching route again). If the retry cannot be published, the
    message goes back to its queue rather than failing: a broker problem must not park it."""
    try:
        raise task.retry(countdown=countdown, queue=queue, exchange="", routing_key=queue, kwargs=kwargs)
    except Retry:
        raise
    except Exception as exc:  # noqa: BLE001 - publishing the retry failed
        raise Reject(f"retry not published: {exc}", requeue=True) from exc


def _register_route(app: Celery, hub: Hub, route: str) -> None:
    queue = hub.topology.queue_name("route", route)

    @app.task(name=f"hub.route.{route}", bind=True, typing=False, max_retries=None)
    def run_route(self, message_id: str, failures: int = 0) -> str:
        ctx = processing.TaskContext(failures=failures, replay=getattr(self.request, "hub_replay", None))
        try:
            return processing.run_route(_hub(), route, message_id, ctx)
        except processing.Retry as retry:
            _retry(self, queue, retry.countdown, {"failures": failures + 1})
        except processing.PublishFailed as exc:
            # Back to the queue, not to the DLQ: the redelivery republishes the committed work.
            raise Reject(str(exc), requeue=True) from exc
        except (OperationalError, InterfaceError) as exc:
            _database_away(self, queue, exc, failures=failures)


def _register_endpoint(app: Celery, hub: Hub, endpoint: str) -> None:
    queue = hub.topology.queue_name("endpoint", endpoint)

    @app.task(name=f"hub.deliver.{endpoint}", bind=True, typing=False, max_retries=None)
    def deliver(self, delivery_id: str, lease: str | None = None) -> str:
        # The lease holder travels with a database-away retry, so the retry may take back the
        # claim its first run made (hub.delivery.deliver.claim).
        holder = lease or new_holder()
        try:
            return delivery.deliver(_hub(), endpoint, delivery_id, holder)
        except (OperationalError, InterfaceError) as exc:
            _database_away(self, queue, exc, lease=holder)


class RelayStep(bootsteps.StartStopStep):
    """Runs the outbox relay and dead-letter reconciliation in the worker's main process,
    after the pool has forked its children."""

    requires = {"celery.worker.components:Pool"}

    def __init__(self, worker, **kwargs) -> None:
        super().__init__(worker, **kwargs)
        self.relay: Relay | None = None

    def start(self, worker) -> None:
        hub = _hub()
        self.relay = Relay(hub)
        if hub.settings.is_amqp:
            # First record what the broker parked by itself, so nothing resends it.
            self.relay.after_sweep.append(lambda: reconcile(hub))
        self.relay.after_sweep.append(lambda: run_due(hub))
        self.relay.after_sweep.append(lambda: sweep_stuck(hub))
        self.relay.start()

    def stop(self, worker) -> None:
        if self.relay is not None:
            self.relay.stop()


def build_worker_app(hub: Hub) -> Celery:
    global HUB
    HUB = hub
    app = hub.celery
    app.conf.task_queues = hub.topology.work_queues()
    app.register_task(IngressTask())
    for route in hub.compiled:
        _register_route(app, hub, route)
    for endpoint in hub.routes.endpoints:
        _register_endpoint(app, hub, endpoint)
    app.steps["worker"].add(RelayStep)
    return app


def start_worker(hub: Hub, *, routes: Iterable[str] | None = None, endpoints: Iterable[str] | None = None,
                 concurrency: int | None = None, pool: str = "prefork", extra_steps: Iterable[type] = (),
                 loglevel: str = "INFO", hostname: str | None = None) -> int:
    """Run a worker in this process until it is stopped. Returns its exit code."""
    app = build_worker_app(hub)
    for step in extra_steps:
        app.steps["worker"].add(step)
    queues = [q.name for q in hub.topology.work_queues(routes, endpoints)]
    embedded = hub.settings.is_embedded_broker
    worker = app.Worker(
        queues=queues, pool=pool, concurrency=concurrency or hub.settings.worker_concurrency, loglevel=loglevel,
        without_mingle=True, without_gossip=True, without_heartbeat=embedded, optimization="fair",
        # Unique per process: Celery's remote-control queue is exclusive to a node name, so two
        # workers on one host (or two hubs on one broker) must not share one.
        hostname=hostname or f"{hub.settings.namespace}-{os.getpid()}@{socket.gethostname()}",
    )
    worker.start()
    return worker.exitcode or 0
