"""What the worker tasks do, independent of Celery's wiring (see hub.worker).

``run_route``: load the stored message, run the route's steps, commit — in one transaction —
the stages, one delivery per output and endpoint, and the route-run marker; then publish the
deliveries' task messages with confirms. Only after that does Celery ack the route message.

Internal hops do not go through the outbox: if the task dies after its commit and before its
publishes are confirmed, the broker redelivers the route message, the marker says the work
is done, and the task republishes the deliveries that were committed but never started. The
inbound message is the durable trigger. The outbox serves ingest (no upstream redelivery
exists there) and dead letters.

Delivering is ``hub.delivery``'s job (claim, circuit, settle, scheduler).

Every write that changes what a message's status depends on runs in ``changing``: the
message row is locked first and its status derived again before the commit (hub.store.status).
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError

from hub.broker.publisher import Outcome
from hub.celery_app import task_message
from hub.business_exceptions import Severity, severity_of
from hub.deadletters import dead_letter, delivery_message
from hub.documents import ref_rows
from hub.exchange import Exchange
from hub.ids import new_id, stable_id
from hub.outbox import entry_for
from hub.payloads import identity, to_json_bytes
from hub.registry import StepError
from hub.routes.engine import Rendered, RouteOutcome, render_outputs
from hub.routes.model import ErrorPolicy
from hub.store import Delivery, DocumentRef, Message, MessageDocument, RouteRun, Stage, utcnow
from hub.store.status import changing

log = logging.getLogger(__name__)


class PublishFailed(Exception):
    """The broker did not confirm a publish; the task must not be acked (it will be redelivered)."""


@dataclass
class TaskContext:
    failures: int = 0  # this message's earlier failures in this route (unexpected errors), not outages
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
    except (OperationalError, InterfaceError):
        raise  # the hub's database is away: never the message's fault (the task waits and retries)
    except Exception as exc:  # noqa: BLE001 - unexpected: retry with the route's policy, then park
        return _retry_or_park(hub, compiled.route.on_error, ctx, task_name, [message_id], message_id,
                              f"{type(exc).__name__}: {exc}")
    elapsed_ms = round((time.perf_counter() - started) * 1000, 3)
    try:
        deliveries = _commit_outcome(hub, route_name, msg, outcome, rendered, elapsed_ms, ctx)
    except IntegrityError:
        log.info("route %s: message %s was processed by another worker meanwhile", route_name, message_id)
        return "already processed"
    _publish_deliveries(hub, deliveries, ctx.replay)
    return f"{len(outcome.outputs)} output(s)"


def _commit_outcome(hub, route_name: str, msg: Message, outcome: RouteOutcome, rendered: list[Rendered],
                    elapsed_ms: float, ctx: TaskContext) -> list[tuple[str, str]]:
    """Stages, deliveries, canonical documents and the route-run marker in one transaction,
    with the message's derived status → [(endpoint, delivery id)]. A concurrent first run of
    the same message fails on the marker's key (IntegrityError) and writes nothing."""
    message_id, now = msg.id, utcnow()
    refused = refusals(outcome)
    stages = [_stage(message_id, "routed", now, route=route_name, detail={"replay": ctx.replay} if ctx.replay else None)]
    for held in outcome.held:
        doc_type, doc_key = identity(held.body)
        stages.append(_stage(message_id, "held", now, route=route_name, detail={
            "document_type": doc_type, "document_key": doc_key, "exceptions": held.exceptions[:20]}))
    if refused:
        stages.append(_stage(message_id, "refused", now, route=route_name, detail={"refused": refused[:20]}))
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
            "idempotency_key": delivery_id, "status": "pending", "attempts": 0, "failures": 0, "created_at": now,
            "received_at": msg.received_at})
    marker = {"message_id": message_id, "route": route_name, "status": "done", "outputs": len(rendered),
              "documents": len(outcome.outputs), "held": len(outcome.held), "refused": len(refused),
              "finished_at": now}
    refs = [row for status, exchanges in (("emitted", outcome.outputs), ("held", outcome.held))
            for out in exchanges for row in ref_rows(message_id, route_name, out.body, status, now)]
    documents = _document_rows(message_id, route_name, outcome, now)
    with changing(hub, [message_id]) as session:
        if ctx.replay is not None:
            _forget_earlier_run(session, marker, deliveries)
        session.execute(insert(RouteRun), [marker])
        fresh = [d for d in deliveries if d["id"] not in _existing(session, deliveries)]
        for rows, table in ((fresh, Delivery), (refs, DocumentRef), (documents, MessageDocument), (stages, Stage)):
            if rows:
                session.execute(insert(table), rows)
    return [(d["endpoint"], d["id"]) for d in deliveries]


def refusals(outcome: RouteOutcome) -> list[dict[str, Any]]:
    """Business exceptions that refused a part of the message (a duplicate interchange, an
    unknown partner, a document outside the agreement ...): BLOCK severity, on no held document."""
    on_held = [e for held in outcome.held for e in held.exceptions]
    return [e for e in outcome.exceptions
            if severity_of(str(e.get("kind"))) is Severity.BLOCK and e not in on_held]


def _document_rows(message_id: str, route_name: str, outcome: RouteOutcome, now: datetime) -> list[dict[str, Any]]:
    """The canonical documents as JSON (``hub messages show --canonical``)."""
    rows = []
    for status, exchanges in (("emitted", outcome.outputs), ("held", outcome.held)):
        for seq, ex in enumerate(exchanges):
            doc_type, doc_key = identity(ex.body)
            try:
                body = to_json_bytes(ex.body)
            except TypeError:
                body = repr(ex.body).encode("utf-8", errors="replace")  # a rendered or opaque body
            rows.append({"message_id": message_id, "route": route_name, "seq": seq, "status": status,
                         "document_type": doc_type, "document_key": doc_key, "body": body, "created_at": now})
    return rows


def _existing(session, deliveries: list[dict[str, Any]]) -> set[str]:
    if not deliveries:
        return set()
    return set(session.scalars(select(Delivery.id).where(Delivery.id.in_([d["id"] for d in deliveries]))))


def _forget_earlier_run(session, marker: dict[str, Any], deliveries: list[dict[str, Any]]) -> None:
    """A replay renders the same deliveries again (same ids) and sends them again with a fresh
    budget; the run's marker, document index and canonical documents replace the earlier run's
    (a held document may now be emitted). The idempotency key stays the same while the payload
    does; a payload the fixed route renders differently gets a new key — under the old one an
    endpoint would answer with its first result and never apply the correction. A delivery a
    worker is sending right now is left to finish."""
    message_id, route_name = marker["message_id"], marker["route"]
    for table in (DocumentRef, MessageDocument):
        session.execute(delete(table).where(table.message_id == message_id, table.route == route_name))
    session.execute(delete(RouteRun).where(RouteRun.message_id == message_id, RouteRun.route == route_name))
    earlier = {row.id: row for row in session.execute(select(Delivery.id, Delivery.payload, Delivery.idempotency_key)
                                                      .where(Delivery.id.in_([d["id"] for d in deliveries])))}
    for d in deliveries:
        if d["id"] not in earlier:
            continue
        before = earlier[d["id"]]
        key = before.idempotency_key if before.payload == d["payload"] else stable_id(
            d["id"], hashlib.sha256(d["payload"]).hexdigest())
        d["idempotency_key"] = key
        session.execute(update(Delivery).where(Delivery.id == d["id"], Delivery.status != "sending").values(
            payload=d["payload"], content_type=d["content_type"], idempotency_key=key, status="pending", failures=0,
            outages=0, lost=0, next_attempt_at=None, waiting_since=None, pending_since=utcnow()))


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
    with changing(hub, [message_id]) as session:
        session.execute(insert(Stage), [_stage(message_id, "filtered", utcnow(), route=route_name,
                                               detail={"reason": "route headers do not match"})])
        if session.get(RouteRun, (message_id, route_name)) is None:
            session.add(RouteRun(message_id=message_id, route=route_name, status="skipped", outputs=0,
                                 finished_at=utcnow()))


def _retry_or_park(hub, policy: ErrorPolicy, ctx: TaskContext, task_name: str, args: list[Any], message_id: str,
                   error: str) -> str:
    """An unexpected error in a route's steps: retried as the route's policy says (``retries: 5``
    is six attempts), then dead-lettered with the last error. The retry waits in the store — a
    delayed outbox row the relay publishes when due, written with the ``retrying`` stage — so
    nothing sits in a worker's memory and a restart loses nothing."""
    if ctx.failures >= policy.retries:
        dead_letter(hub, task_name=task_name, task_args=args, message_id=message_id, reason="retries_exhausted",
                    error=f"{error} (after {ctx.failures + 1} failed attempts; retries: {policy.retries})")
        return "dead-lettered"
    countdown = policy.backoff.delay(ctx.failures, random.random())
    route = task_name.removeprefix("hub.route.")
    queue = hub.topology.queue_name("route", route)
    headers = {"hub_message_id": message_id, **({"hub_replay": ctx.replay} if ctx.replay else {})}
    again = task_message(hub.celery, task_name, args, task_id=new_id(), exchange="", routing_key=queue,
                         headers=headers, kwargs={"failures": ctx.failures + 1})
    now = utcnow()
    with hub.db.session() as session:
        session.add(entry_for(again, purpose="replay", message_id=message_id,
                              publish_after=now + timedelta(seconds=countdown)))
        session.execute(insert(Stage), [_stage(
            message_id, "retrying", now, route=route,
            detail={"retry": ctx.failures + 1, "of": policy.retries, "in_seconds": round(countdown, 3)},
            error=error[:2000])])
    return f"retrying in {countdown:.1f}s"
