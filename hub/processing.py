"""What the worker tasks do, independent of Celery's wiring (see hub.worker).

``run_route``: load the stored message, run the route's steps, commit — in one transaction —
the stages, one delivery per output and endpoint, and the route-run marker; then publish the
deliveries' task messages with confirms. Only after that does Celery ack the route message.

Internal hops do not go through the outbox: if the task dies after its commit and before its
publishes are confirmed, the broker redelivers the route message, the marker says the work
is done, and the task republishes the deliveries that were committed but never started. The
inbound message is the durable trigger. The outbox serves ingest (no upstream redelivery
exists there) and dead letters.

``deliver``: send one delivery to its endpoint, record the attempt with the endpoint's
answer, and decide: delivered, retry with backoff, or dead letter.

The hot path uses SQLAlchemy Core statements: one read and one write transaction per task.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from connectors.outbound import DeliveryResult, Payload, sender_for
from hub.broker.publisher import Outcome
from hub.deadletters import dead_letter, delivery_message
from hub.documents import ref_rows
from hub.exchange import Exchange
from hub.ids import stable_id
from hub.payloads import identity
from hub.registry import StepError
from hub.routes.engine import Rendered, RouteOutcome, render_outputs
from hub.routes.model import ErrorPolicy
from hub.store import Delivery, DeliveryAttempt, DocumentRef, Message, RouteRun, Stage, utcnow

log = logging.getLogger(__name__)


class Retry(Exception):
    """Ask the task layer to retry after ``countdown`` seconds."""

    def __init__(self, countdown: float, reason: str) -> None:
        self.countdown = countdown
        self.reason = reason
        super().__init__(reason)


class PublishFailed(Exception):
    """The broker did not confirm a publish; the task must not be acked (it will be redelivered)."""


@dataclass
class TaskContext:
    retries: int = 0
    replay: str | None = None


def _stage(message_id: str, stage: str, at: datetime, *, route: str | None = None, endpoint: str | None = None,
           delivery_id: str | None = None, detail: dict | None = None, error: str | None = None) -> dict[str, Any]:
    return {"message_id": message_id, "stage": stage, "at": at, "route": route, "endpoint": endpoint,
            "delivery_id": delivery_id, "detail": detail, "error": error}


# -- routes ----------------------------------------------------------------------------------

def run_route(hub, route_name: str, message_id: str, ctx: TaskContext) -> str:
    compiled = hub.compiled[route_name]
    task_name = f"hub.route.{route_name}"
    with hub.db.read() as session:
        row = session.execute(
            select(Message, RouteRun.status)
            .outerjoin(RouteRun, and_(RouteRun.message_id == Message.id, RouteRun.route == route_name))
            .where(Message.id == message_id)).first()
    if row is None:
        raise LookupError(f"message {message_id} is not in the store")
    msg, run_status = row
    if run_status is not None and ctx.replay is None:
        return f"already processed; republished {_republish_pending(hub, message_id, route_name)} delivery(ies)"
    ex = Exchange(message_id=msg.id, body=hub.store.raw(msg), format=msg.format, doctype=msg.doctype,
                  sender=msg.sender, receiver=msg.receiver, filename=msg.filename, headers=dict(msg.headers or {}),
                  received_at=msg.received_at)
    if not compiled.route.from_.headers_match(ex.headers):
        _commit_skipped(hub, route_name, message_id)
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
    try:
        deliveries = _commit_outcome(hub, route_name, message_id, outcome, rendered, elapsed_ms, ctx)
    except IntegrityError:
        log.info("route %s: message %s was processed by another worker meanwhile", route_name, message_id)
        return "already processed"
    _publish_deliveries(hub, deliveries, ctx.replay)
    return f"{len(outcome.outputs)} output(s)"


def _commit_outcome(hub, route_name: str, message_id: str, outcome: RouteOutcome, rendered: list[Rendered],
                    elapsed_ms: float, ctx: TaskContext) -> list[tuple[str, str]]:
    """Stages, deliveries and the route-run marker in one transaction → [(endpoint, delivery id)]."""
    now = utcnow()
    stages = [_stage(message_id, "routed", now, route=route_name, detail={"replay": ctx.replay} if ctx.replay else None)]
    for held in outcome.held:
        doc_type, doc_key = identity(held.body)
        stages.append(_stage(message_id, "held", now, route=route_name, detail={
            "document_type": doc_type, "document_key": doc_key, "exceptions": held.exceptions[:20]}))
    if outcome.filtered:
        stages.append(_stage(message_id, "filtered", now, route=route_name, detail={"filtered": outcome.filtered}))
    stages.append(_stage(message_id, "transformed", now, route=route_name, detail={
        "outputs": len(outcome.outputs), "held": len(outcome.held), "filtered": outcome.filtered,
        "deliveries": len(rendered), "elapsed_ms": elapsed_ms, "warnings": outcome.warnings[:50],
        "exceptions": len(outcome.exceptions)}))
    deliveries = []
    for endpoint, seq, body, ctype, doc_type, doc_key in rendered:
        delivery_id = stable_id(message_id, route_name, endpoint, seq)
        deliveries.append({
            "id": delivery_id, "message_id": message_id, "route": route_name, "endpoint": endpoint, "seq": seq,
            "document_type": doc_type, "document_key": doc_key, "payload": body, "content_type": ctype, "headers": {},
            "idempotency_key": delivery_id, "status": "pending", "attempts": 0, "created_at": now})
    marker = {"message_id": message_id, "route": route_name, "status": "done", "outputs": len(rendered),
              "finished_at": now}
    refs = [row for status, exchanges in (("emitted", outcome.outputs), ("held", outcome.held))
            for out in exchanges for row in ref_rows(message_id, route_name, out.body, status, now)]
    if ctx.replay is None:
        statements = [insert(RouteRun).values([marker])]
        if deliveries:
            statements.append(insert(Delivery).values(deliveries))
        if refs:
            statements.append(insert(DocumentRef).values(refs))
        statements += [insert(Stage).values(stages),
                       update(Message).where(Message.id == message_id).values(status="transformed")]
        hub.db.write(statements)  # a concurrent run of the same message fails on the marker's key
    else:
        _commit_replay(hub, marker, deliveries, stages, refs)
    return [(d["endpoint"], d["id"]) for d in deliveries]


def _commit_replay(hub, marker: dict[str, Any], deliveries: list[dict[str, Any]], stages: list[dict[str, Any]],
                   refs: list[dict[str, Any]]) -> None:
    """A replay renders the same deliveries again: same ids, same idempotency keys. Its
    document index replaces the earlier run's (a held document may now be emitted)."""
    message_id, route_name = marker["message_id"], marker["route"]
    with hub.db.session() as session:
        session.execute(delete(DocumentRef).where(DocumentRef.message_id == message_id,
                                                  DocumentRef.route == route_name))
        if refs:
            session.execute(insert(DocumentRef), refs)
        run = session.get(RouteRun, (message_id, route_name))
        if run is None:
            session.execute(insert(RouteRun), [marker])
        else:
            run.status, run.outputs, run.finished_at = "done", marker["outputs"], marker["finished_at"]
        existing = set(session.scalars(select(Delivery.id).where(Delivery.id.in_([d["id"] for d in deliveries]))))
        for d in deliveries:
            if d["id"] in existing:
                session.execute(update(Delivery).where(Delivery.id == d["id"]).values(
                    payload=d["payload"], content_type=d["content_type"], status="pending"))
        fresh = [d for d in deliveries if d["id"] not in existing]
        if fresh:
            session.execute(insert(Delivery), fresh)
        session.execute(insert(Stage), stages)
        session.execute(update(Message).where(Message.id == message_id).values(status="transformed"))


def _publish_deliveries(hub, deliveries: list[tuple[str, str]], replay: str | None) -> None:
    headers = {"hub_replay": replay} if replay else None
    outcomes = hub.publisher().publish_many([delivery_message(hub, e, d, headers) for e, d in deliveries])
    if any(o is not Outcome.CONFIRMED for o in outcomes):
        # Not acking lets the broker redeliver this route message; the route-run marker then
        # makes the redelivery republish these same deliveries.
        raise PublishFailed(f"{sum(o is not Outcome.CONFIRMED for o in outcomes)} delivery publish(es) not confirmed")


def _republish_pending(hub, message_id: str, route_name: str) -> int:
    with hub.db.session() as session:
        pending = list(session.execute(select(Delivery.endpoint, Delivery.id).where(
            Delivery.message_id == message_id, Delivery.route == route_name, Delivery.status == "pending")))
    _publish_deliveries(hub, [(e, d) for e, d in pending], None)
    return len(pending)


def _commit_skipped(hub, route_name: str, message_id: str) -> None:
    with hub.db.session() as session:
        session.execute(insert(Stage), [_stage(message_id, "filtered", utcnow(), route=route_name,
                                               detail={"reason": "route headers do not match"})])
        if session.get(RouteRun, (message_id, route_name)) is None:
            session.add(RouteRun(message_id=message_id, route=route_name, status="skipped", outputs=0,
                                 finished_at=utcnow()))


def _retry_or_park(hub, policy: ErrorPolicy, ctx: TaskContext, task_name: str, args: list[Any], message_id: str,
                   delivery_id: str | None, error: str) -> str:
    if ctx.retries < policy.retries:
        countdown = policy.backoff.delay(ctx.retries, random.random())
        route = task_name.removeprefix("hub.route.") if delivery_id is None else None
        endpoint = task_name.removeprefix("hub.deliver.") if delivery_id else None
        hub.db.write([insert(Stage).values([_stage(
            message_id, "retrying", utcnow(), route=route, endpoint=endpoint, delivery_id=delivery_id,
            detail={"retry": ctx.retries + 1, "of": policy.retries, "in_seconds": round(countdown, 3)},
            error=error[:2000])])])
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
    with hub.db.read() as session:
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
    _record_attempt(hub, payload, route_name, attempt, started, finished, result)
    if result.outcome == "delivered":
        return "delivered"
    if result.outcome == "reject":
        dead_letter(hub, task_name=task_name, task_args=[delivery_id], message_id=payload.message_id,
                    delivery_id=delivery_id, reason="rejected_by_endpoint", error=result.summary())
        return "dead-lettered"
    return _retry_or_park(hub, _policy(hub, endpoint, route_name), ctx, task_name, [delivery_id], payload.message_id,
                          delivery_id, result.summary())


def _record_attempt(hub, payload: Payload, route_name: str, attempt: int, started: datetime, finished: datetime,
                    result: DeliveryResult) -> None:
    delivered = result.outcome == "delivered"
    values: dict[str, Any] = {"attempts": attempt, "status": "delivered" if delivered else (
        "failed" if result.outcome == "reject" else "retrying")}
    if delivered:
        values["delivered_at"] = finished
    detail = {"attempt": attempt, "status_code": result.status_code}
    if delivered:
        detail["duration_ms"] = round((finished - started).total_seconds() * 1000, 3)
    else:
        detail["outcome"] = result.outcome
    statements = [
        update(Delivery).where(Delivery.id == payload.delivery_id).values(**values),
        insert(DeliveryAttempt).values([{
            "delivery_id": payload.delivery_id, "attempt": attempt, "started_at": started, "finished_at": finished,
            "outcome": result.outcome, "status_code": result.status_code, "response": result.response,
            "error": result.error}]),
        insert(Stage).values([_stage(
            payload.message_id, "delivered" if delivered else "failed", finished, route=route_name,
            endpoint=payload.endpoint, delivery_id=payload.delivery_id, detail=detail,
            error=None if delivered else result.summary()[:2000])]),
    ]
    if delivered:
        statements.append(update(Message).where(Message.id == payload.message_id).values(status="delivered"))
    hub.db.write(statements)


def _policy(hub, endpoint: str, route_name: str) -> ErrorPolicy:
    ep = hub.routes.endpoint(endpoint)
    if ep.on_error is not None:
        return ep.on_error
    compiled = hub.compiled.get(route_name)
    return compiled.route.on_error if compiled is not None else ErrorPolicy()
