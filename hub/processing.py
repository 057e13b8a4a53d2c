"""What the worker tasks do, independent of Celery's wiring (see hub.worker).

``run_route``: load the stored message, run the route's steps, and commit — in one
transaction — the stages, one delivery per output and endpoint, the outbox rows that
announce them, and the route-run marker that makes a redelivered message a no-op.

``deliver``: send one delivery to its endpoint, record the attempt with the endpoint's
answer, and decide: delivered, retry with backoff, or dead letter.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError

from connectors.outbound import Payload, sender_for
from hub.deadletters import dead_letter, delivery_message
from hub.exchange import Exchange
from hub.ids import stable_id
from hub.outbox import entry_for, publish_rows
from hub.payloads import identity
from hub.registry import StepError
from hub.routes.engine import RouteOutcome, render_outputs
from hub.store import Delivery, DeliveryAttempt, Message, MessageStore, RouteRun, utcnow

log = logging.getLogger(__name__)


class Retry(Exception):
    """Ask the task layer to retry after ``countdown`` seconds."""

    def __init__(self, countdown: float, reason: str) -> None:
        self.countdown = countdown
        self.reason = reason
        super().__init__(reason)


@dataclass
class TaskContext:
    retries: int = 0
    replay: str | None = None


# -- routes ----------------------------------------------------------------------------------

def run_route(hub, route_name: str, message_id: str, ctx: TaskContext) -> str:
    compiled = hub.compiled[route_name]
    task_name = f"hub.route.{route_name}"
    with hub.db.session() as session:
        if ctx.replay is None and session.get(RouteRun, (message_id, route_name)) is not None:
            return "already processed"
        msg = session.get(Message, message_id)
        if msg is None:
            raise LookupError(f"message {message_id} is not in the store")
        raw = hub.store.raw(msg)
        ex = Exchange(message_id=msg.id, body=raw, format=msg.format, doctype=msg.doctype, sender=msg.sender,
                      receiver=msg.receiver, filename=msg.filename, headers=dict(msg.headers or {}),
                      received_at=msg.received_at)
    if not compiled.route.from_.headers_match(ex.headers):
        _finish_skipped(hub, route_name, message_id)
        return "headers do not match"
    started = time.perf_counter()
    try:
        outcome = compiled.run(ex)
        rendered = render_outputs(hub.routes, compiled, outcome)
    except StepError as exc:
        dead_letter(hub, task_name=task_name, task_args=[message_id], message_id=message_id,
                    reason=exc.code, error=str(exc))
        return "dead-lettered"
    except Exception as exc:  # noqa: BLE001 - unexpected: maybe transient (database away); retry, then park
        return _retry_or_park(hub, compiled.route.on_error, ctx, task_name, [message_id], message_id, None,
                              f"{type(exc).__name__}: {exc}")
    elapsed_ms = round((time.perf_counter() - started) * 1000, 3)
    _commit_outcome(hub, route_name, message_id, outcome, rendered, elapsed_ms, ctx)
    return f"{len(outcome.outputs)} output(s)"


def _commit_outcome(hub, route_name: str, message_id: str, outcome: RouteOutcome, rendered, elapsed_ms: float,
                    ctx: TaskContext) -> None:
    rows = []
    headers = {"hub_replay": ctx.replay} if ctx.replay else None
    try:
        with hub.db.session() as session:
            MessageStore.stage(session, message_id, "routed", route=route_name,
                               detail={"replay": ctx.replay} if ctx.replay else None)
            for held in outcome.held:
                doc_type, doc_key = identity(held.body)
                MessageStore.stage(session, message_id, "held", route=route_name, status=False,
                                   detail={"document_type": doc_type, "document_key": doc_key,
                                           "exceptions": held.exceptions[:20]})
            if outcome.filtered:
                MessageStore.stage(session, message_id, "filtered", route=route_name, status=False,
                                   detail={"filtered": outcome.filtered})
            MessageStore.stage(session, message_id, "transformed", route=route_name, detail={
                "outputs": len(outcome.outputs), "held": len(outcome.held), "filtered": outcome.filtered,
                "deliveries": len(rendered), "elapsed_ms": elapsed_ms, "warnings": outcome.warnings[:50],
                "exceptions": len(outcome.exceptions)})
            for endpoint, seq, body, ctype, doc_type, doc_key in rendered:
                delivery_id = stable_id(message_id, route_name, endpoint, seq)
                delivery = session.get(Delivery, delivery_id)
                if delivery is None:
                    session.add(Delivery(id=delivery_id, message_id=message_id, route=route_name, endpoint=endpoint,
                                         seq=seq, document_type=doc_type, document_key=doc_key, payload=body,
                                         content_type=ctype, idempotency_key=delivery_id, status="pending",
                                         created_at=utcnow()))
                else:  # a replay: same delivery, same idempotency key, possibly a re-rendered payload
                    delivery.payload, delivery.content_type, delivery.status = body, ctype, "pending"
                rows.append(entry_for(delivery_message(hub, endpoint, delivery_id, headers), purpose="egress",
                                      message_id=message_id, delivery_id=delivery_id))
            run = session.get(RouteRun, (message_id, route_name))
            if run is None:
                session.add(RouteRun(message_id=message_id, route=route_name, status="done",
                                     outputs=len(rendered), finished_at=utcnow()))
            else:
                run.status, run.outputs, run.finished_at = "done", len(rendered), utcnow()
            session.add_all(rows)
    except IntegrityError:
        # Another worker committed this route run first (a redelivery raced us): nothing to do.
        log.info("route %s already processed message %s", route_name, message_id)
        return
    publish_rows(hub, rows)


def _finish_skipped(hub, route_name: str, message_id: str) -> None:
    with hub.db.session() as session:
        MessageStore.stage(session, message_id, "filtered", route=route_name, status=False,
                           detail={"reason": "route headers do not match"})
        if session.get(RouteRun, (message_id, route_name)) is None:
            session.add(RouteRun(message_id=message_id, route=route_name, status="skipped", outputs=0,
                                 finished_at=utcnow()))


def _retry_or_park(hub, policy, ctx: TaskContext, task_name: str, args: list[Any], message_id: str,
                   delivery_id: str | None, error: str) -> str:
    if ctx.retries < policy.retries:
        countdown = policy.backoff.delay(ctx.retries, random.random())
        with hub.db.session() as session:
            MessageStore.stage(session, message_id, "retrying", status=False, delivery_id=delivery_id,
                               route=task_name.removeprefix("hub.route.") if delivery_id is None else None,
                               endpoint=task_name.removeprefix("hub.deliver.") if delivery_id else None,
                               detail={"retry": ctx.retries + 1, "of": policy.retries, "in_seconds": round(countdown, 3)},
                               error=error[:2000])
        raise Retry(countdown, error)
    dead_letter(hub, task_name=task_name, task_args=args, message_id=message_id, delivery_id=delivery_id,
                reason="retries_exhausted", error=f"after {ctx.retries} retries: {error}")
    return "dead-lettered"


# -- deliveries ------------------------------------------------------------------------------

_senders: dict[str, Any] = {}


def sender(hub, endpoint: str):
    if endpoint not in _senders:
        _senders[endpoint] = sender_for(endpoint, hub.routes.endpoint(endpoint), db=hub.db)
    return _senders[endpoint]


def deliver(hub, endpoint: str, delivery_id: str, ctx: TaskContext) -> str:
    task_name = f"hub.deliver.{endpoint}"
    with hub.db.session() as session:
        d = session.get(Delivery, delivery_id)
        if d is None:
            raise LookupError(f"delivery {delivery_id} is not in the store")
        if d.status == "delivered" and ctx.replay is None:
            return "already delivered"
        payload = Payload(delivery_id=d.id, message_id=d.message_id, route=d.route, endpoint=endpoint, seq=d.seq,
                          body=d.payload, content_type=d.content_type, idempotency_key=d.idempotency_key,
                          document_type=d.document_type, document_key=d.document_key,
                          headers={str(k): str(v) for k, v in (d.headers or {}).items()})
        attempt = d.attempts + 1
        route_name = d.route
    started = utcnow()
    result = sender(hub, endpoint).send(payload)
    finished = utcnow()
    with hub.db.session() as session:
        d = session.get(Delivery, delivery_id)
        d.attempts = attempt
        session.add(DeliveryAttempt(delivery_id=delivery_id, attempt=attempt, started_at=started, finished_at=finished,
                                    outcome=result.outcome, status_code=result.status_code, response=result.response,
                                    error=result.error))
        if result.outcome == "delivered":
            d.status, d.delivered_at = "delivered", finished
            MessageStore.stage(session, d.message_id, "delivered", endpoint=endpoint, delivery_id=delivery_id,
                               route=route_name, at=finished, detail={
                                   "attempt": attempt, "status_code": result.status_code,
                                   "duration_ms": round((finished - started).total_seconds() * 1000, 3)})
        else:
            d.status = "failed" if result.outcome == "reject" else "retrying"
            MessageStore.stage(session, d.message_id, "failed", endpoint=endpoint, delivery_id=delivery_id,
                               route=route_name, at=finished, status=False,
                               detail={"attempt": attempt, "status_code": result.status_code,
                                       "outcome": result.outcome}, error=result.summary()[:2000])
    if result.outcome == "delivered":
        return "delivered"
    if result.outcome == "reject":
        dead_letter(hub, task_name=task_name, task_args=[delivery_id], message_id=payload.message_id,
                    delivery_id=delivery_id, reason="rejected_by_endpoint", error=result.summary())
        return "dead-lettered"
    return _retry_or_park(hub, _policy(hub, endpoint, route_name), ctx, task_name, [delivery_id], payload.message_id,
                          delivery_id, result.summary())


def _policy(hub, endpoint: str, route_name: str):
    ep = hub.routes.endpoint(endpoint)
    if ep.on_error is not None:
        return ep.on_error
    compiled = hub.compiled.get(route_name)
    if compiled is not None:
        return compiled.route.on_error
    from hub.routes.model import ErrorPolicy

    return ErrorPolicy()
