"""Safety net for work stuck out of sight: a message a route should have processed, or a
delivery never attempted, that its queue has moved past.

How a message gets stuck: a Celery prefork worker may hand a message to a pool process at the
moment that process dies; billiard only recovers jobs a dead process had *accepted*, so the
message stays reserved (unacked) by the worker until RabbitMQ's consumer timeout — 30 minutes
by default — returns it. The sweeper does not wait that long.

When is a message stuck rather than waiting in a backlog? Queues are first in, first out, so
a message is stuck when it went on its queue (published, replayed or swept) more than
``HUB_STUCK_AFTER`` seconds ago and either its queue has nothing ready, or the queue has *moved past it*: its route already processed a message that
arrived ``OVERTAKEN_BY`` seconds or more after it (for a delivery: its endpoint already took a
delivery put on the broker that much later). That holds under steady load too, when a queue is
never idle. A stuck message is sent again straight to its route's queue, a stuck delivery to its
endpoint's, and the message's trace records a ``swept`` stage. Both tasks are idempotent (the
route-run marker; a delivery is claimed once), so a late original does nothing.

Deliveries that were attempted have their own recovery: the claim's lease
(``hub.delivery.schedule``: ``lease_expired``).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, or_, select, update

from hub.broker.topology import ingress_key
from hub.celery_app import task_message
from hub.deadletters import delivery_message
from hub.delivery import states
from hub.ids import new_id
from hub.outbox import entry_for, publish_rows
from hub.store import DeadLetter, Delivery, Message, MessageStore, RouteRun, Stage, utcnow
from hub.store.status import DELIVERING, RECEIVED, ROUTING

log = logging.getLogger(__name__)

LOOK_BACK = timedelta(days=1)
OVERTAKEN_BY = timedelta(seconds=5)  # publish order may differ from commit order by a little
OPEN_STATUSES = (RECEIVED, ROUTING, DELIVERING)
# Stages that put a message on a route's queue (the ingress publish, a replay of the whole message
# have no route): the relay may publish long after the message was received.
REQUEUED = ("published", "replayed", "swept")

_last_sweep = 0.0


def _ready(hub, queue) -> int:
    with hub.connection() as conn:
        return queue.bind(conn.default_channel).queue_declare(passive=True).message_count


def sweep_stuck(hub, older_than: float | None = None, *, force: bool = False) -> int:
    """Re-send stuck messages to their routes and stuck deliveries to their endpoints. Returns
    how many were re-sent. Runs at most every ``stuck_after / 4`` seconds per process unless
    forced (its queries scan a day of messages)."""
    global _last_sweep
    older_than = hub.settings.stuck_after if older_than is None else older_than
    if not force and time.monotonic() - _last_sweep < max(hub.settings.relay_interval, older_than / 4):
        return 0
    _last_sweep = time.monotonic()
    return _sweep_routes(hub, older_than) + _sweep_deliveries(hub, older_than)


def _sweep_deliveries(hub, older_than: float) -> int:
    now = utcnow()
    resent = 0
    for endpoint in hub.topology.endpoints:
        idle = _ready(hub, hub.topology.endpoint_queue(endpoint)) == 0
        queued_at = func.coalesce(Delivery.pending_since, Delivery.created_at)  # when it last went on the broker
        later = select(func.max(queued_at)).where(
            Delivery.endpoint == endpoint, Delivery.status != states.PENDING, Delivery.created_at >= now - LOOK_BACK)
        with hub.db.read() as session:
            newest_taken = None if idle else session.scalar(later)
            if not idle and newest_taken is None:
                continue
            query = select(Delivery.id, Delivery.message_id, Delivery.route).where(
                Delivery.endpoint == endpoint, Delivery.status == states.PENDING,
                Delivery.created_at >= now - LOOK_BACK, queued_at <= now - timedelta(seconds=older_than))
            if not idle:
                query = query.where(queued_at <= newest_taken - OVERTAKEN_BY)
            stuck = session.execute(query).all()
        if stuck:
            resent += _resend(hub, [(delivery_message(hub, endpoint, d.id, {"hub_swept": "1"}), d.message_id, d.id,
                                     d.route, endpoint) for d in stuck], "idle" if idle else "overtaken")
            log.warning("endpoint %s: re-sent %d delivery(ies) never attempted after %ss (queue %s)", endpoint,
                        len(stuck), older_than, "idle" if idle else "moved past them")
    return resent


def _sweep_routes(hub, older_than: float) -> int:
    now = utcnow()
    resent = 0
    for binding in hub.topology.routes:
        queue = hub.topology.route_queue(binding)
        idle = _ready(hub, queue) == 0
        newest_taken = None if idle else _newest_processed(hub, binding.name, now)
        if not idle and newest_taken is None:
            continue  # a backlog, and nothing processed yet: its messages are waiting, not stuck
        cutoff = now - timedelta(seconds=older_than)
        if newest_taken is not None:
            cutoff = min(cutoff, newest_taken - OVERTAKEN_BY)
        with hub.db.read() as session:
            rows = session.execute(
                select(Message.id, Message.format, Message.doctype, Message.sender, Message.received_at)
                .where(Message.received_at >= now - LOOK_BACK, Message.received_at <= cutoff,
                       Message.status.in_(OPEN_STATUSES))
                .where(~exists().where(and_(RouteRun.message_id == Message.id, RouteRun.route == binding.name)))
                # Parked, or discarded by an operator: not for the sweeper to run again.
                .where(~exists().where(and_(DeadLetter.message_id == Message.id, DeadLetter.route == binding.name,
                                            DeadLetter.state.in_(("parked", "discarded")))))
                # In a retry chain: its next attempt is scheduled; the chain ends in a run or a letter.
                .where(~exists().where(and_(Stage.message_id == Message.id, Stage.route == binding.name,
                                            Stage.stage == "retrying",
                                            Stage.at >= now - _retry_window(hub, binding.name, older_than))))
                # Put on the queue lately (published by the relay, replayed, swept): it counts from then.
                .where(~exists().where(and_(Stage.message_id == Message.id, Stage.stage.in_(REQUEUED),
                                            or_(Stage.route == binding.name, Stage.route.is_(None)),
                                            Stage.at > cutoff)))).all()
        # A key a reload bound to the route copied only what was published once it was bound.
        published = _published_at(hub, [r.id for r in rows]) if binding.since and rows else {}
        stuck = [r.id for r in rows if binding.copied(ingress_key(r.format, r.doctype, r.sender), published.get(r.id))]
        if stuck:
            messages = [(task_message(hub.celery, f"hub.route.{binding.name}", [message_id], task_id=new_id(),
                                      exchange="", routing_key=queue.name,
                                      headers={"hub_message_id": message_id, "hub_swept": "1"}),
                         message_id, None, binding.name, None) for message_id in stuck]
            resent += _resend(hub, messages, "idle" if idle else "overtaken")
            log.warning("route %s: re-sent %d message(s) not processed after %ss (%s)", binding.name, len(stuck),
                        older_than, ", ".join(stuck[:5]) + (" …" if len(stuck) > 5 else ""))
    return resent


def _retry_window(hub, route: str, older_than: float) -> timedelta:
    """How far back a ``retrying`` stage may say the next attempt is still scheduled."""
    compiled = hub.compiled.get(route)
    longest = compiled.route.on_error.backoff.max if compiled is not None else 300.0
    return timedelta(seconds=longest * 1.5 + older_than)


def _published_at(hub, message_ids: list[str]) -> dict[str, datetime]:
    """When each message was last published to the ingress exchange."""
    with hub.db.read() as session:
        return dict(session.execute(select(Stage.message_id, func.max(Stage.at))
                                    .where(Stage.message_id.in_(message_ids), Stage.stage == "published")
                                    .group_by(Stage.message_id)).all())


def _newest_processed(hub, route: str, now: datetime) -> datetime | None:
    """When the newest message this route processed (in the last day) was received."""
    with hub.db.read() as session:
        return session.scalar(select(func.max(Message.received_at)).join(
            RouteRun, and_(RouteRun.message_id == Message.id, RouteRun.route == route))
            .where(Message.received_at >= now - LOOK_BACK))


def _resend(hub, messages: list, why: str) -> int:
    """Outbox rows and a ``swept`` stage per re-sent task, in one transaction; then publish."""
    with hub.db.session() as session:
        rows = []
        for message, message_id, delivery_id, route, endpoint in messages:
            rows.append(entry_for(message, purpose="egress" if delivery_id else "replay", message_id=message_id,
                                  delivery_id=delivery_id))
            MessageStore.stage(session, message_id, "swept", route=route, endpoint=endpoint, delivery_id=delivery_id,
                               detail={"queue": message.routing_key, "why": why})
            if delivery_id:  # it went on the broker again now: the next sweep counts from here
                session.execute(update(Delivery).where(Delivery.id == delivery_id, Delivery.status == states.PENDING)
                                .values(pending_since=utcnow()))
        session.add_all(rows)
    outcomes = publish_rows(hub, rows)
    return sum(o.value == "confirmed" for o in outcomes)
