"""Dead letters: parking a message with its reason, finding what the broker parked by itself,
and replaying.

The store is the ledger (``dead_letters`` and ``replays``); the broker's DLQs hold the task
messages themselves. A message the hub gives up on is recorded and published to its DLQ in
one outbox transaction. A message RabbitMQ dead-letters on its own (a worker process died on
it ``delivery_limit`` times) is found by ``reconcile`` and recorded with the broker's reason.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kombu.exceptions import OperationalError as KombuOperationalError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.broker.topology import ENDPOINT, ROUTE, ingress_key
from hub.celery_app import task_message
from hub.ids import new_id, stable_id
from hub.ingest import INGRESS_TASK
from hub.outbox import entry_for, publish_rows
from hub.store import DeadLetter, Delivery, MessageStore, OutboxEntry, Replay, utcnow
from hub.store.status import changing

log = logging.getLogger(__name__)

MAX_ERROR = 2000
NOTICE_SEQ = 15_000  # dead-letter notices are side outputs (hub.delivery.states.SIDE_SEQ), not documents
NOTICE_TYPE = "dead_letter_notice"


def task_queue(hub, task_name: str) -> tuple[str, str, str]:
    """hub.route.x → (route, x, <ns>.route.x); hub.deliver.y → (endpoint, y, <ns>.endpoint.y)."""
    if task_name.startswith("hub.route."):
        kind, name = ROUTE, task_name[len("hub.route."):]
    elif task_name.startswith("hub.deliver."):
        kind, name = ENDPOINT, task_name[len("hub.deliver."):]
    else:
        raise ValueError(f"not a hub task: {task_name}")
    return kind, name, hub.topology.queue_name(kind, name)


def dead_letter(hub, *, task_name: str, task_args: list[Any], message_id: str, reason: str, error: str,
                delivery_id: str | None = None) -> str:
    """Record a dead letter and publish the task message to its DLQ. Returns the dead letter's id."""
    with changing(hub, [message_id]) as session:
        dl_id, rows = park(hub, session, task_name=task_name, task_args=task_args, message_id=message_id,
                           reason=reason, error=error, delivery_id=delivery_id)
    publish_rows(hub, rows)
    return dl_id


def park(hub, session: Session, *, task_name: str, task_args: list[Any], message_id: str, reason: str, error: str,
         delivery_id: str | None = None) -> tuple[str, list[OutboxEntry]]:
    """In the caller's transaction (which refreshes the message's status): the dead letter, its
    stage, and the outbox rows publishing it to its DLQ and notifying the route's
    ``dead_letter.notify`` endpoints. Returns the dead letter's id and the rows to publish
    after the commit."""
    kind, name, _queue = task_queue(hub, task_name)
    dlq = hub.topology.dlq_name(kind, name)
    dl_id = new_id()
    error = (error or "")[:MAX_ERROR]
    msg = task_message(hub.celery, task_name, task_args, task_id=dl_id, exchange=hub.topology.dlx.name,
                       routing_key=dlq, headers={"hub_dead_letter_id": dl_id, "hub_message_id": message_id,
                                                 "hub_reason": reason, "hub_error": error[:500],
                                                 "hub_dead_lettered_at": utcnow().isoformat()})
    route = name if kind == ROUTE else None
    notify = True
    if delivery_id:
        delivery = session.get(Delivery, delivery_id)
        if delivery is not None:
            delivery.status = "dead_lettered"
            route = delivery.route
            # A notice that could not be delivered is not announced by another notice (which
            # could fail the same way, and so on for ever).
            notify = delivery.document_type != NOTICE_TYPE
    session.add(DeadLetter(id=dl_id, message_id=message_id, delivery_id=delivery_id, route=route,
                           endpoint=name if kind == ENDPOINT else None, queue=dlq, reason=reason, error=error,
                           task_name=task_name, task_args=task_args, created_at=utcnow()))
    MessageStore.stage(session, message_id, "dead_lettered", route=route,
                       endpoint=name if kind == ENDPOINT else None, delivery_id=delivery_id,
                       detail={"reason": reason, "queue": dlq, "dead_letter_id": dl_id}, error=error)
    rows = [entry_for(msg, purpose="dead_letter", message_id=message_id, delivery_id=delivery_id)]
    if notify:
        rows += _notify_rows(hub, session, route, message_id, dl_id, reason, error, dlq)
    session.add_all(rows)
    # The error text may quote document values (a cell, a field): it stays in the store, out of logs.
    log.warning("dead-lettered %s for message %s: %s (dead letter %s)", task_name, message_id, reason, dl_id)
    return dl_id, rows


def _notify_rows(hub, session, route: str | None, message_id: str, dl_id: str, reason: str, error: str, dlq: str):
    """Deliveries of a dead-letter notice to the route's `dead_letter.notify` endpoints."""
    compiled = hub.compiled.get(route) if route else None
    if compiled is None:
        return []
    rows = []
    notice = json.dumps({"document_type": NOTICE_TYPE, "dead_letter_id": dl_id, "message_id": message_id,
                         "route": route, "queue": dlq, "reason": reason, "error": error}).encode()
    for i, endpoint in enumerate(compiled.route.on_error.dead_letter.notify):
        delivery_id = stable_id(message_id, route, "dead-letter-notice", dl_id, endpoint)
        session.add(Delivery(id=delivery_id, message_id=message_id, route=route, endpoint=endpoint, seq=NOTICE_SEQ + i,
                             document_type=NOTICE_TYPE, document_key=dl_id, payload=notice,
                             content_type="application/json", idempotency_key=delivery_id, created_at=utcnow()))
        rows.append(entry_for(delivery_message(hub, endpoint, delivery_id), purpose="egress", message_id=message_id,
                              delivery_id=delivery_id))
    return rows


def delivery_message(hub, endpoint: str, delivery_id: str, headers: dict[str, Any] | None = None):
    return task_message(hub.celery, f"hub.deliver.{endpoint}", [delivery_id], task_id=delivery_id,
                        exchange=hub.topology.egress.name, routing_key=endpoint, headers=headers)


# -- browsing the broker's DLQs ------------------------------------------------------------

@dataclass
class Parked:
    """A message sitting in a DLQ on the broker."""

    queue: str
    task_name: str
    task_args: list[Any]
    headers: dict[str, Any]
    dead_letter_id: str
    reason: str
    error: str
    dead_lettered_at: datetime | None


def _death(headers: dict[str, Any]) -> dict[str, Any]:
    deaths = headers.get("x-death") or []
    return deaths[0] if deaths else {}


def parked_from(queue: str, message, topology) -> Parked:
    headers = dict(message.headers or {})
    task_name = headers.get("task", "")
    args = json.loads(message.body)[0] if message.body else []
    if task_name == INGRESS_TASK:
        # An ingress copy keeps the generic task name on the broker (the worker re-addresses it
        # in memory); the queue it died in says which route it was for.
        origin = topology.parse_queue(str(_death(headers).get("queue", "")))
        if origin and origin[0] == ROUTE:
            task_name = f"hub.route.{origin[1]}"
    if headers.get("hub_dead_letter_id"):
        at = headers.get("hub_dead_lettered_at")
        return Parked(queue, task_name, args, headers, headers["hub_dead_letter_id"], headers.get("hub_reason", ""),
                      headers.get("hub_error", ""), datetime.fromisoformat(at) if at else None)
    # Dead-lettered by the broker itself (quorum queue delivery limit): name it stably.
    death = _death(headers)
    when = death.get("time")
    when = when if isinstance(when, datetime) else None
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # AMQP timestamps are UTC seconds
    dl_id = stable_id(queue, headers.get("id"), death.get("queue"), when.isoformat() if when else "")
    reason = str(death.get("reason", "broker"))
    error = (f"dead-lettered by the broker from {death.get('queue')} after {death.get('count', '?')} death(s): "
             f"{reason}" + (" (a worker process died on every delivery)" if reason == "delivery_limit" else ""))
    return Parked(queue, task_name, args, headers, dl_id, reason, error, when)


def browse(hub, queue: str, limit: int = 10_000) -> list[Parked]:
    """Look at a DLQ without removing anything: get without ack, then close the channel, which
    returns every message to the queue (DLQs are classic queues: no delivery counter)."""
    out = []
    with hub.connection() as conn:
        channel = conn.channel()
        try:
            for _ in range(limit):
                message = channel.basic_get(queue, no_ack=False)
                if message is None:
                    break
                out.append(parked_from(queue, message, hub.topology))
        finally:
            channel.close()
    return out


def reconcile(hub) -> int:
    """Record dead letters the broker made on its own. Returns how many were new."""
    new = 0
    for dlq in hub.topology.dead_letter_queues():
        with hub.connection() as conn:
            try:
                count = dlq.bind(conn.default_channel).queue_declare(passive=True).message_count
            except Exception:  # noqa: BLE001 - the queue may not exist yet on this broker
                continue
        with hub.db.session() as session:
            known = session.scalar(select(func.count()).select_from(DeadLetter)
                                   .where(DeadLetter.queue == dlq.name, DeadLetter.state == "parked")) or 0
        if count <= known:
            continue  # everything parked there is already in the ledger
        for parked in browse(hub, dlq.name):
            new += _record_broker_dead_letter(hub, parked)
    return new


def _record_broker_dead_letter(hub, parked: Parked) -> int:
    kind, name, _ = task_queue(hub, parked.task_name)
    delivery_id = str(parked.task_args[0]) if kind == ENDPOINT else None
    message_id = str(parked.task_args[0]) if kind == ROUTE else None
    if delivery_id:
        with hub.db.read() as session:
            message_id = session.scalar(select(Delivery.message_id).where(Delivery.id == delivery_id))
    with changing(hub, [message_id] if message_id else []) as session:
        if session.get(DeadLetter, parked.dead_letter_id) is not None:
            return 0
        if delivery_id:
            delivery = session.get(Delivery, delivery_id)
            if delivery is not None and delivery.status != "delivered":  # a later copy may have delivered it
                delivery.status, delivery.lease_until, delivery.lease_holder = "dead_lettered", None, None
        session.add(DeadLetter(id=parked.dead_letter_id, message_id=message_id or "", delivery_id=delivery_id,
                               route=name if kind == ROUTE else None, endpoint=name if kind == ENDPOINT else None,
                               queue=parked.queue, reason=parked.reason, error=parked.error, task_name=parked.task_name,
                               task_args=parked.task_args, created_at=parked.dead_lettered_at or utcnow()))
        if message_id:
            MessageStore.stage(session, message_id, "dead_lettered", route=name if kind == ROUTE else None,
                               endpoint=name if kind == ENDPOINT else None, delivery_id=delivery_id,
                               detail={"reason": parked.reason, "queue": parked.queue,
                                       "dead_letter_id": parked.dead_letter_id}, error=parked.error)
    return 1


# -- replay ----------------------------------------------------------------------------------

def who() -> str:
    return os.environ.get("HUB_OPERATOR") or getpass.getuser()


def _republish_rows(hub, session, dl: DeadLetter, replay_id: str, by: str, why: str):
    kind, name, queue = task_queue(hub, dl.task_name)
    # Straight to the work queue through the default exchange: a replayed route message must
    # not fan out to the other routes bound to the ingress exchange.
    msg = task_message(hub.celery, dl.task_name, dl.task_args, task_id=new_id(), exchange="", routing_key=queue,
                       headers={"hub_replay": replay_id, "hub_message_id": dl.message_id})
    _close(dl, "replayed", by, why)
    if dl.delivery_id:
        delivery = session.get(Delivery, dl.delivery_id)
        if delivery is not None:
            # A fresh budget: the operator fixed the cause (or judged the outage over).
            delivery.status, delivery.failures, delivery.outages, delivery.lost = "pending", 0, 0, 0
            delivery.next_attempt_at = delivery.lease_until = delivery.lease_holder = delivery.waiting_since = None
            delivery.pending_since = utcnow()
    session.add(Replay(message_id=dl.message_id, dead_letter_id=dl.id, target=queue, by=by, reason=why, at=utcnow(),
                       from_dlq=True))
    if dl.message_id:
        MessageStore.stage(session, dl.message_id, "replayed", route=dl.route, endpoint=dl.endpoint,
                           delivery_id=dl.delivery_id, detail={"dead_letter_id": dl.id, "by": by, "why": why,
                                                               "queue": queue})
    return entry_for(msg, purpose="replay", message_id=dl.message_id or "", delivery_id=dl.delivery_id)


def _close(dl: DeadLetter, state: str, by: str, why: str) -> None:
    now = utcnow()
    dl.state, dl.closed_at, dl.closed_by, dl.closed_reason = state, now, by, why
    if state == "replayed":
        dl.replayed_at = now


def _take_from_dlq(hub, queue: str, wanted: set[str]) -> set[str]:
    """Remove the wanted dead letters from a DLQ (ack them); leave every other message."""
    taken = set()
    with hub.connection() as conn:
        channel = conn.channel()
        try:
            while True:
                message = channel.basic_get(queue, no_ack=False)
                if message is None:
                    break
                parked = parked_from(queue, message, hub.topology)
                if parked.dead_letter_id in wanted:
                    channel.basic_ack(message.delivery_tag)
                    taken.add(parked.dead_letter_id)
        finally:
            channel.close()  # everything not acked goes back
    return taken


def _parked_letters(hub, ids: list[str], strict: bool) -> list[DeadLetter]:
    """The dead letters with these ids that are still parked. ``strict``: all of them must be
    (else KeyError / ValueError naming the others); otherwise the others are left out (a bulk
    action racing another operator)."""
    with hub.db.read() as session:
        letters = [session.get(DeadLetter, i) for i in ids]
    missing = [i for i, dl in zip(ids, letters, strict=True) if dl is None]
    if missing:
        raise KeyError(f"no dead letter with id {', '.join(missing)} (see `hub dlq list`)")
    closed = [f"{dl.id} ({dl.state})" for dl in letters if dl.state != "parked"]
    if closed and strict:
        raise ValueError(f"not parked any more: {', '.join(closed)}")
    return [dl for dl in letters if dl.state == "parked"]


def _off_the_broker(hub, letters: list[DeadLetter]) -> None:
    """Take the letters' task messages off their DLQs. The store is the ledger: a closed letter
    stays closed even when the broker cannot be reached now (its copy on the DLQ is then
    recognised as closed by id and never replayed)."""
    by_queue: dict[str, set[str]] = {}
    for dl in letters:
        by_queue.setdefault(dl.queue, set()).add(dl.id)
    for queue, wanted in by_queue.items():
        try:
            _take_from_dlq(hub, queue, wanted)
        except (OSError, KombuOperationalError) as exc:
            log.warning("could not take %d letter(s) off %s now (%s); they are closed in the store",
                        len(wanted), queue, exc)


def replay_dead_letters(hub, ids: list[str], *, by: str, why: str, strict: bool = True) -> list[str]:
    """Replay dead letters by id: republish each to its work queue, take it off its DLQ, and
    record who, when and why. Returns the ids replayed."""
    letters = _parked_letters(hub, ids, strict)
    _off_the_broker(hub, letters)
    rows = []
    with changing(hub, [dl.message_id for dl in letters if dl.message_id]) as session:
        for letter in letters:
            dl = session.get(DeadLetter, letter.id)
            if dl.state == "parked":  # checked again inside the transaction
                rows.append(_republish_rows(hub, session, dl, new_id(), by, why))
        session.add_all(rows)
    publish_rows(hub, rows)
    return [dl.id for dl in letters]


def discard_dead_letters(hub, ids: list[str], *, by: str, why: str, strict: bool = True) -> list[str]:
    """Close dead letters without delivering them (a document nobody wants any more, bad input
    that was re-sent corrected): taken off their DLQs, recorded with who, when and why, and on
    the message's trace. The raw message stays in the store."""
    letters = _parked_letters(hub, ids, strict)
    _off_the_broker(hub, letters)
    with changing(hub, [dl.message_id for dl in letters if dl.message_id]) as session:
        for letter in letters:
            dl = session.get(DeadLetter, letter.id)
            if dl.state != "parked":
                continue
            _close(dl, "discarded", by, why)
            if dl.delivery_id:
                delivery = session.get(Delivery, dl.delivery_id)
                if delivery is not None:
                    delivery.status = "discarded"
            if dl.message_id:
                MessageStore.stage(session, dl.message_id, "discarded", route=dl.route, endpoint=dl.endpoint,
                                   delivery_id=dl.delivery_id, detail={"dead_letter_id": dl.id, "by": by, "why": why})
    log.info("discarded %d dead letter(s) by %s", len(letters), by)
    return [dl.id for dl in letters]


def replay_queue(hub, queue: str, *, since: datetime | None, by: str, why: str) -> list[str]:
    """Replay every message in a DLQ (dead-lettered at or after ``since``)."""
    reconcile(hub)
    parked = [p for p in browse(hub, queue) if since is None or (p.dead_lettered_at and p.dead_lettered_at >= since)]
    ids = [p.dead_letter_id for p in parked]
    with hub.db.session() as session:
        ids = [i for i in ids if (dl := session.get(DeadLetter, i)) is not None and dl.state == "parked"]
    return replay_dead_letters(hub, ids, by=by, why=why) if ids else []


def replay_messages(hub, message_ids: list[str], *, by: str, why: str) -> list[str]:
    """Run stored messages through their routes again from the start (current route config);
    endpoints receive the same idempotency keys as before."""
    from hub.ingest import ingress_message
    from hub.store import Message

    rows = []
    with changing(hub, message_ids) as session:
        for message_id in message_ids:
            msg = session.get(Message, message_id)
            if msg is None:
                raise KeyError(f"no message with id {message_id}")
            replay_id = new_id()
            key = ingress_key(msg.format, msg.doctype, msg.sender)
            out = ingress_message(hub, message_id, key, headers={"hub_replay": replay_id})
            session.add(Replay(message_id=message_id, target=f"{hub.topology.ingress.name}:{key}", by=by, reason=why,
                               at=utcnow(), from_dlq=False))
            MessageStore.stage(session, message_id, "replayed", detail={"by": by, "why": why, "routing_key": key})
            rows.append(entry_for(out, purpose="ingress", message_id=message_id))
        session.add_all(rows)
    publish_rows(hub, rows)
    return message_ids

