"""Safety net for work stuck out of sight: a message a route should have processed, or a
delivery never attempted, long after its queue ran dry.

How a message gets stuck: a Celery prefork worker may hand a message to a pool process at the
moment that process dies; billiard only recovers jobs a dead process had *accepted*, so the
message stays reserved (unacked) by the worker until RabbitMQ's consumer timeout — 30 minutes
by default — returns it. The sweeper does not wait that long: when a route's queue has nothing
ready, any message that route should have taken more than ``HUB_STUCK_AFTER`` seconds ago and
has neither processed nor parked is sent again, straight to that route's queue; when an
endpoint's queue has nothing ready, any delivery still pending without a single attempt that old
is sent again. Both tasks are idempotent (the route-run marker; a delivered delivery is skipped),
so the late original, when it comes back, does nothing.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta

from sqlalchemy import and_, exists, select

from hub.broker.topology import ingress_key
from hub.celery_app import task_message
from hub.ids import new_id
from hub.deadletters import delivery_message
from hub.store import DeadLetter, Delivery, Message, RouteRun, Stage, utcnow

log = logging.getLogger(__name__)

LOOK_BACK = timedelta(days=1)
SKIP_STATUSES = ("unrouted", "dead_lettered")


def _topic_regex(pattern: str) -> re.Pattern[str]:
    """AMQP topic pattern → regex (our bindings use literal words, '*' and '#')."""
    words = [r"[^.]+" if w == "*" else r".*" if w == "#" else re.escape(w) for w in pattern.split(".")]
    return re.compile(r"^" + r"\.".join(words) + r"$")


def _ready(hub, queue) -> int:
    with hub.connection() as conn:
        return queue.bind(conn.default_channel).queue_declare(passive=True).message_count


def sweep_stuck(hub, older_than: float | None = None) -> int:
    """Re-send stuck messages to their routes and stuck deliveries to their endpoints. Returns
    how many were re-sent."""
    older_than = hub.settings.stuck_after if older_than is None else older_than
    return _sweep_routes(hub, older_than) + _sweep_deliveries(hub, older_than)


def _sweep_deliveries(hub, older_than: float) -> int:
    now = utcnow()
    resent = 0
    for endpoint in hub.topology.endpoints:
        if _ready(hub, hub.topology.endpoint_queue(endpoint)) > 0:
            continue
        with hub.db.read() as session:
            stuck = list(session.scalars(select(Delivery.id).where(
                Delivery.endpoint == endpoint, Delivery.status == "pending", Delivery.attempts == 0,
                Delivery.created_at >= now - LOOK_BACK, Delivery.created_at <= now - timedelta(seconds=older_than))))
        if stuck:
            outcomes = hub.publisher().publish_many([delivery_message(hub, endpoint, d, {"hub_swept": "1"})
                                                     for d in stuck])
            resent += sum(o.value == "confirmed" for o in outcomes)
            log.warning("endpoint %s: re-sent %d delivery(ies) never attempted after %ss", endpoint, len(stuck),
                        older_than)
    return resent


def _sweep_routes(hub, older_than: float) -> int:
    now = utcnow()
    resent = 0
    for binding in hub.topology.routes:
        queue = hub.topology.route_queue(binding)
        if _ready(hub, queue) > 0:
            continue  # a backlog: its messages are waiting, not stuck
        patterns = [_topic_regex(k) for k in binding.keys]
        with hub.db.read() as session:
            rows = session.execute(
                select(Message.id, Message.format, Message.doctype, Message.sender)
                .where(Message.received_at >= now - LOOK_BACK,
                       Message.received_at <= now - timedelta(seconds=older_than),
                       Message.status.not_in(SKIP_STATUSES))
                .where(~exists().where(and_(RouteRun.message_id == Message.id, RouteRun.route == binding.name)))
                .where(~exists().where(and_(DeadLetter.message_id == Message.id, DeadLetter.route == binding.name,
                                            DeadLetter.state == "parked")))
                # In a retry chain: its next attempt is scheduled; the chain ends in a run or a letter.
                .where(~exists().where(and_(Stage.message_id == Message.id, Stage.route == binding.name,
                                            Stage.stage == "retrying")))).all()
        stuck = [r.id for r in rows if any(p.match(ingress_key(r.format, r.doctype, r.sender)) for p in patterns)]
        if stuck:
            outcomes = hub.publisher().publish_many([
                task_message(hub.celery, f"hub.route.{binding.name}", [message_id], task_id=new_id(), exchange="",
                             routing_key=queue.name, headers={"hub_message_id": message_id, "hub_swept": "1"})
                for message_id in stuck])
            resent += sum(o.value == "confirmed" for o in outcomes)
            log.warning("route %s: re-sent %d message(s) not processed after %ss (%s)", binding.name, len(stuck),
                        older_than, ", ".join(stuck[:5]) + (" …" if len(stuck) > 5 else ""))
    return resent
