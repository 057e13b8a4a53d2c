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

Retries: the hub never uses Celery's ``task.retry`` (in Celery 5.7 ``task.retry(max_retries=None)``
falls back to the task's default of 3, which once stranded deliveries after four attempts; and a
countdown on quorum queues goes through Celery's native delayed delivery, which does not serve
the hub's direct exchanges). It counts failures itself: a route's unexpected errors in the
task's ``failures`` argument, with the next attempt waiting in the store as a delayed outbox row;
a delivery's in its store row (hub.delivery). The database being away never counts at all: the
task waits in place until it answers (``while_database_away``).
"""

from __future__ import annotations

import gc
import logging
import os
import socket
import time
from collections.abc import Iterable

from celery import Celery, Task, bootsteps
from celery.exceptions import Reject
from celery.worker.consumer import Consumer
from sqlalchemy.exc import InterfaceError, OperationalError

from hub import processing
from hub.app import Hub
from hub.batches import BatchTask, Done, Item
from hub.deadletters import reconcile
from hub.delivery import deliver as delivery
from hub.delivery.holders import new_holder
from hub.delivery.schedule import run_due
from hub.ids import stable_id
from hub.ingest import INGRESS_TASK
from hub.processing import RouteWork
from hub.reload.dispatch import batch_hub
from hub.outbox import Relay
from hub.sweeper import sweep_stuck

log = logging.getLogger(__name__)

HUB: Hub | None = None  # the hub this worker process serves (inherited by prefork children)


def _hub() -> Hub:
    """The hub this process serves; inside a pool job, the one of the job's route generation
    (hub.reload.dispatch)."""
    if HUB is None:
        raise RuntimeError("hub.worker used before build_worker_app()")
    return batch_hub.get() or HUB


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


DATABASE_WAIT = 600.0  # seconds a task waits in place for the database before going back to its queue


def while_database_away(work, what: str):
    """Run ``work()``; while the hub's database is unreachable (or a pooled connection went stale
    after a restart), wait with backoff (1, 2, 4 … 30 s) and run it again — in place, so no
    broker-side delay or retry message is involved and no failure is counted. After
    ``DATABASE_WAIT`` the message goes back to its queue (Reject with requeue) to be taken
    again: a long outage is still never the document's fault."""
    waited, attempt = 0.0, 0
    while True:
        try:
            return work()
        except (OperationalError, InterfaceError) as exc:
            if waited >= DATABASE_WAIT:
                raise Reject(f"database unavailable for {waited:.0f}s: {type(exc).__name__}", requeue=True) from exc
            pause = min(30.0, 2.0 ** attempt)
            log.warning("database unavailable (%s); %s again in %.0fs", type(exc).__name__, what, pause)
            time.sleep(pause)
            waited, attempt = waited + pause, attempt + 1


class RouteBatch(BatchTask):
    """``hub.route.<route>``: its messages processed in batches (hub.processing.run_routes)."""

    abstract = True
    route = ""

    def run_batch(self, items: list[Item]) -> list[Done]:
        works = [RouteWork(str(item.args[0]), int(item.kwargs.get("failures", 0)), item.replay) for item in items]
        return while_database_away(lambda: processing.run_routes(_hub(), self.route, works),
                                   f"route {self.route} for {len(works)} message(s)")


class DeliveryBatch(BatchTask):
    """``hub.deliver.<endpoint>``: deliveries that waited (a retry, an outage, an ordered key) or
    were put back, claimed and sent in batches (hub.delivery.deliver.deliver_many)."""

    abstract = True
    endpoint = ""

    def run_batch(self, items: list[Item]) -> list[Done]:
        # One holder for the batch and for every try of it: a try after the database came back
        # may take back the claims the first one made (hub.delivery.deliver.claim_many).
        holder = new_holder()
        ids = [str(item.args[0]) for item in items]
        outcomes = while_database_away(lambda: delivery.deliver_many(_hub(), self.endpoint, list(dict.fromkeys(ids)),
                                                                     holder),
                                       f"{len(ids)} delivery(ies) to {self.endpoint}")
        return [Done(outcomes.get(i, "")) for i in ids]


def _register_route(app: Celery, hub: Hub, route: str) -> None:
    task = type(f"Route_{route}", (RouteBatch,), {
        "name": f"hub.route.{route}", "route": route, "abstract": False,
        "batch_size": hub.settings.batch_size, "batch_linger": hub.settings.batch_linger})
    app.register_task(task())


def _register_endpoint(app: Celery, hub: Hub, endpoint: str) -> None:
    task = type(f"Deliver_{endpoint}", (DeliveryBatch,), {
        "name": f"hub.deliver.{endpoint}", "endpoint": endpoint, "abstract": False,
        "batch_size": hub.settings.batch_size, "batch_linger": hub.settings.batch_linger})
    app.register_task(task())


class HubConsumer(Consumer):
    """Celery's consumer without its native-delayed-delivery step. Celery 5.5+ adds that step
    whenever it sees quorum queues; the hub never uses broker-side delays (its waits and retries
    live in the store), the step warns about the hub's direct exchanges, and after a cluster node
    was lost it retried the dead node's URL for 17 s before any task ran."""

    class Blueprint(Consumer.Blueprint):
        default_steps = [step for step in Consumer.Blueprint.default_steps if "delayed_delivery" not in step]


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
    app.conf.worker_consumer = "hub.worker:HubConsumer"
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
    # Everything built so far (modules, the hub, routes, the Celery app) lives as long as the
    # process: moved out of the cyclic collector's sight, it is not scanned again on every
    # collection in the pool processes (profiling showed ≈0.1 ms per document spent there),
    # and their pages stay shared after the fork.
    gc.freeze()
    worker.start()
    return worker.exitcode or 0
