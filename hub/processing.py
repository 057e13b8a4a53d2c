"""What the route task does, independent of Celery's wiring (see hub.worker), for a batch of
messages of one route (hub.batches).

``run_routes``: load the stored messages (one query), run the route's steps on each — one
message's bad input or unexpected error is that message's outcome only — and commit every
outcome of the batch in one transaction: stages, deliveries, canonical documents, route-run
markers, dead letters and delayed retries, with the messages' derived statuses. Then the
deliveries the batch made are sent right here, endpoint by endpoint (hub.delivery.deliver
``send_claimed``): they were committed already claimed by this worker, so a document costs
no task message of its own unless it has to wait (a retry, an endpoint that is down) or its
endpoint asks for order (those go through ``hub.deliver.<endpoint>``: see hub.delivery.ordering).
Only after that are the batch's messages acked.

If the worker dies after the commit, the broker redelivers the route messages; their markers
say the work is done, and the run puts the deliveries that were never settled back on the
broker (a dead holder's claim is taken over by the delivery task). If the commit itself fails
because another worker committed one of these messages first, each message is committed alone
and that one reads "already processed".

Every write that changes what a message's status depends on runs in ``changing``: the message
rows are locked first and their statuses derived again before the commit (hub.store.status).
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError

from hub.batches import Done, Event
from hub.business_exceptions import Severity, severity_of
from hub.celery_app import task_message
from hub.deadletters import delivery_message, park
from hub.delivery import states
from hub.delivery.deliver import Claimed, batch_lease, send_claimed
from hub.delivery.holders import new_holder
from hub.delivery.sending import Payload
from hub.documents import ref_rows
from hub.exchange import TEST_HEADER, Exchange
from hub.ids import new_id, stable_id
from hub.outbox import entry_for, publish_rows
from hub.payloads import identity, to_json_bytes
from hub.registry import StepError
from hub.routes.engine import Rendered, RouteOutcome, render_outputs
from hub.store import Delivery, DocumentRef, Message, MessageDocument, RouteRun, Stage, among, insert_rows, utcnow
from hub.store.status import changing

log = logging.getLogger(__name__)


@dataclass
class TaskContext:
    failures: int = 0  # this message's earlier failures in this route (unexpected errors), not outages
    replay: str | None = None


@dataclass
class RouteWork:
    """One message for one route: its id, its earlier failures, an operator's replay id."""

    message_id: str
    failures: int = 0
    replay: str | None = None


@dataclass
class _Run:
    """One message's run of the route, before it is committed."""

    work: RouteWork
    msg: Message | None = None
    outcome: RouteOutcome | None = None
    rendered: list[Rendered] = field(default_factory=list)
    elapsed_ms: float = 0.0
    kind: str = "ran"  # ran, skipped, letter, failed, resume, missing
    error: StepError | str | None = None
    result: str = ""


def _stage(message_id: str, stage: str, at: datetime, *, route: str | None = None, endpoint: str | None = None,
           delivery_id: str | None = None, detail: dict | None = None, error: str | None = None) -> dict[str, Any]:
    return {"message_id": message_id, "stage": stage, "at": at, "route": route, "endpoint": endpoint,
            "delivery_id": delivery_id, "detail": detail, "error": error}


# -- routes ----------------------------------------------------------------------------------

def run_route(hub, route_name: str, message_id: str, ctx: TaskContext, *, inline: bool = False) -> str:
    """Run one message through a route (tools and tests). Without ``inline`` its deliveries are
    left pending with their task messages on the broker, as an ordered endpoint's are."""
    work = RouteWork(message_id, ctx.failures, ctx.replay)
    return run_routes(hub, route_name, [work], inline=inline)[0].result


def run_routes(hub, route_name: str, works: list[RouteWork], *, inline: bool = True) -> list[Done]:
    """Run a batch of messages through one route (see the module docstring)."""
    compiled = hub.compiled[route_name]
    loaded = _load(hub, route_name, works)
    runs = [_run_one(hub, compiled, route_name, work, *loaded[i]) for i, work in enumerate(works)]
    holder = new_holder()
    try:
        made = _commit(hub, route_name, [r for r in runs if r.kind not in ("missing", "resume")], holder, inline)
    except IntegrityError:
        log.info("route %s: a message of the batch was processed by another worker meanwhile; committing one by one",
                 route_name)
        made = []
        for r in runs:
            if r.kind in ("missing", "resume"):
                continue
            try:
                made += _commit(hub, route_name, [r], holder, inline)
            except IntegrityError:
                r.kind, r.result = "resume", "already processed"
    for r in runs:
        if r.kind == "resume":
            r.result = r.result or f"already processed; {_resume(hub, r.work.message_id, route_name)}"
    events = _send_inline(hub, made)
    return [Done(r.result, events.get(r.work.message_id, [])) for r in runs]


def _load(hub, route_name: str, works: list[RouteWork]) -> list[tuple[Message | None, bool]]:
    """The batch's messages, and whether this route has run each already (one query)."""
    with hub.db.read() as session:
        found = {m.id: (m, done is not None) for m, done in session.execute(
            select(Message, RouteRun.status)
            .outerjoin(RouteRun, and_(RouteRun.message_id == Message.id, RouteRun.route == route_name))
            .where(among(session, Message.id, [w.message_id for w in works])))}
    return [found.get(w.message_id, (None, False)) for w in works]


def _run_one(hub, compiled, route_name: str, work: RouteWork, msg: Message | None, has_run: bool) -> _Run:
    run = _Run(work, msg)
    if msg is None:
        log.error("route %s: message %s is not in the store", route_name, work.message_id)
        run.kind, run.result = "missing", "message not in the store"
        return run
    if work.replay is None and has_run:
        run.kind = "resume"
        return run
    ex = Exchange(message_id=msg.id, body=hub.store.raw(msg), format=msg.format, doctype=msg.doctype,
                  sender=msg.sender, receiver=msg.receiver, filename=msg.filename, headers=dict(msg.headers or {}),
                  received_at=msg.received_at)
    if not compiled.route.from_.headers_match(ex.headers):
        run.kind, run.result = "skipped", "headers do not match"
        return run
    started = time.perf_counter()
    try:
        run.outcome = compiled.run(ex)
        run.rendered = render_outputs(hub.routes, compiled, run.outcome)
    except StepError as exc:
        run.kind, run.error, run.result = "letter", exc, "dead-lettered"
    except (OperationalError, InterfaceError):
        raise  # the hub's database is away: never the message's fault (the task waits and runs again)
    except Exception as exc:  # noqa: BLE001 - unexpected: retried with the route's policy, then parked
        run.kind, run.error = "failed", f"{type(exc).__name__}: {exc}"
    run.elapsed_ms = round((time.perf_counter() - started) * 1000, 3)
    if run.kind == "ran":
        run.result = f"{len(run.outcome.outputs)} output(s)"
    return run


# -- commit ----------------------------------------------------------------------------------

@dataclass
class _Batch:
    """Every row a batch commits, gathered before the transaction."""

    markers: list[dict[str, Any]] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    refs: list[dict[str, Any]] = field(default_factory=list)
    documents: list[dict[str, Any]] = field(default_factory=list)
    stages: list[dict[str, Any]] = field(default_factory=list)


def _commit(hub, route_name: str, runs: list[_Run], holder: str, inline: bool) -> list[dict[str, Any]]:
    """Every outcome of the batch in one transaction → the deliveries made."""
    if not runs:
        return []
    now, batch, rows = utcnow(), _Batch(), []
    for r in runs:
        if r.kind == "ran":
            _gather(hub, route_name, r, batch, now, holder, inline)
        elif r.kind == "skipped":
            batch.stages.append(_stage(r.msg.id, "filtered", now, route=route_name,
                                       detail={"reason": "route headers do not match"}))
            batch.markers.append({"message_id": r.msg.id, "route": route_name, "status": "skipped", "outputs": 0,
                                  "documents": 0, "held": 0, "refused": 0, "finished_at": now})
    # A message whose deliveries this worker sends right after the commit gets its status when
    # they are settled (that transaction locks it and derives it from everything): deriving it
    # here too would cost a second pass for nothing. The others get it now.
    settled_later = {d["message_id"] for d in batch.deliveries if d["status"] == states.SENDING}
    with changing(hub, [r.msg.id for r in runs if r.msg.id not in settled_later]) as session:
        for r in runs:
            if r.kind == "ran" and r.work.replay is not None:
                _forget_earlier_run(session, route_name, r.msg.id, [d for d in batch.deliveries
                                                                     if d["message_id"] == r.msg.id])
        # Only a replay can meet deliveries that exist already (a first run's marker is new).
        replayed = {r.msg.id for r in runs if r.work.replay is not None}
        existing = _existing(session, [d for d in batch.deliveries if d["message_id"] in replayed])
        fresh = [d for d in batch.deliveries if d["id"] not in existing]
        for table, values in ((RouteRun, batch.markers), (Delivery, fresh), (DocumentRef, batch.refs),
                              (MessageDocument, batch.documents), (Stage, batch.stages)):
            if values:
                insert_rows(session, table, values)
        for r in runs:
            if r.kind == "letter":
                _, parked = park(hub, session, task_name=f"hub.route.{route_name}", task_args=[r.msg.id],
                                 message_id=r.msg.id, reason=r.error.code, error=str(r.error))
                rows += parked
            elif r.kind == "failed":
                rows += _retry_or_park(hub, session, route_name, r)
        rows += _task_messages(hub, session, [d for d in batch.deliveries if d["status"] == states.PENDING])
    publish_rows(hub, rows)
    return [d for d in fresh if d["status"] == states.SENDING]


def _gather(hub, route_name: str, r: _Run, batch: _Batch, now: datetime, holder: str, inline: bool) -> None:
    """The rows of one message's run: stages, deliveries, marker, document index, documents."""
    message_id, outcome, rendered = r.msg.id, r.outcome, r.rendered
    refused = refusals(outcome)
    batch.stages.append(_stage(message_id, "routed", now, route=route_name,
                               detail={"replay": r.work.replay} if r.work.replay else None))
    for held in outcome.held:
        doc_type, doc_key = identity(held.body)
        batch.stages.append(_stage(message_id, "held", now, route=route_name, detail={
            "document_type": doc_type, "document_key": doc_key, "exceptions": held.exceptions[:20]}))
    if refused:
        batch.stages.append(_stage(message_id, "refused", now, route=route_name, detail={"refused": refused[:20]}))
    if outcome.filtered:
        batch.stages.append(_stage(message_id, "filtered", now, route=route_name,
                                   detail={"filtered": outcome.filtered}))
    batch.stages.append(_stage(message_id, "transformed", now, route=route_name, detail={
        "outputs": len(outcome.outputs), "held": len(outcome.held), "filtered": outcome.filtered,
        "deliveries": len(rendered), "elapsed_ms": r.elapsed_ms, "warnings": outcome.warnings[:50],
        "exceptions": len(outcome.exceptions)}))
    withheld: list[str] = []
    for endpoint, seq, body, ctype, doc_type, doc_key in rendered:
        if seq < states.SIDE_SEQ and _is_test(r.msg, outcome.outputs[seq]):
            # The test lane: a partner in testing reaches test endpoints only, never production.
            test_endpoint = hub.routes.endpoint(endpoint).test_endpoint
            if test_endpoint is None:
                withheld.append(endpoint)
                continue
            endpoint = test_endpoint
        delivery_id = stable_id(message_id, route_name, endpoint, seq)
        ep = hub.routes.endpoint(endpoint)
        # Sent right here by this worker unless the endpoint asks for order or this is a replay
        # (a replay re-sends deliveries that exist already: they go through their endpoint's task).
        claim = inline and ep.ordered_by is None and r.work.replay is None
        batch.deliveries.append({
            "id": delivery_id, "message_id": message_id, "route": route_name, "endpoint": endpoint, "seq": seq,
            "document_type": doc_type, "document_key": doc_key, "payload": body, "content_type": ctype, "headers": {},
            "idempotency_key": delivery_id, "attempts": 0, "failures": 0, "created_at": now,
            "received_at": r.msg.received_at,
            **({"status": states.SENDING, "lease_holder": holder,
                "lease_until": now + timedelta(seconds=batch_lease(ep))} if claim else {"status": states.PENDING})})
    if withheld:
        batch.stages.append(_stage(message_id, "filtered", now, route=route_name, detail={
            "reason": "documents of a partner in testing are not sent to an endpoint without a test_endpoint",
            "endpoints": sorted(set(withheld))}))
    made = sum(1 for d in batch.deliveries if d["message_id"] == message_id)
    batch.markers.append({"message_id": message_id, "route": route_name, "status": "done", "outputs": made,
                          "documents": len(outcome.outputs), "held": len(outcome.held), "refused": len(refused),
                          "finished_at": now})
    batch.refs += [row for status, exchanges in (("emitted", outcome.outputs), ("held", outcome.held))
                   for out in exchanges for row in ref_rows(message_id, route_name, out.body, status, now)]
    as_json = {seq: body for _e, seq, body, ctype, _t, _k in rendered if ctype == "application/json"}
    batch.documents += _document_rows(message_id, route_name, outcome, now, as_json)


def _is_test(msg: Message, output: Exchange) -> bool:
    return bool(output.headers.get(TEST_HEADER) or (msg.headers or {}).get(TEST_HEADER))


def _task_messages(hub, session, deliveries: list[dict[str, Any]]) -> list:
    """Outbox rows putting pending deliveries' task messages on the broker (ordered endpoints,
    replays), written with the deliveries."""
    rows = [entry_for(delivery_message(hub, d["endpoint"], d["id"]), purpose="egress", message_id=d["message_id"],
                      delivery_id=d["id"]) for d in deliveries]
    session.add_all(rows)
    return rows


def _send_inline(hub, made: list[dict[str, Any]]) -> dict[str, list[Event]]:
    """Send the deliveries a batch committed claimed, endpoint by endpoint → message id →
    the Flower events of its deliveries."""
    by_endpoint: dict[str, list[Claimed]] = defaultdict(list)
    for d in made:
        payload = Payload(delivery_id=d["id"], message_id=d["message_id"], route=d["route"], endpoint=d["endpoint"],
                          seq=d["seq"], body=d["payload"], content_type=d["content_type"],
                          idempotency_key=d["idempotency_key"], document_type=d["document_type"],
                          document_key=d["document_key"])
        by_endpoint[d["endpoint"]].append(Claimed(payload, 0, 0, 0, d["received_at"], d["lease_holder"]))
    events: dict[str, list[Event]] = defaultdict(list)
    for endpoint, claims in by_endpoint.items():
        outcomes = send_claimed(hub, endpoint, claims)
        for c in claims:
            events[c.message_id].append(Event(f"hub.deliver.{endpoint}", c.id, [c.id], outcomes.get(c.id, "")))
    return events


def _resume(hub, message_id: str, route_name: str) -> str:
    """A route message redelivered after its work was committed: put its deliveries that were
    never settled back on the broker (the delivery task takes over a dead holder's claim)."""
    with hub.db.session() as session:
        open_ = session.execute(select(Delivery.endpoint, Delivery.id).where(
            Delivery.message_id == message_id, Delivery.route == route_name,
            Delivery.status.in_((states.PENDING, states.SENDING)))).all()
        rows = [entry_for(delivery_message(hub, endpoint, delivery_id), purpose="egress", message_id=message_id,
                          delivery_id=delivery_id) for endpoint, delivery_id in open_]
        session.add_all(rows)
    publish_rows(hub, rows)
    return f"{len(rows)} open delivery(ies) put back on the broker"


def refusals(outcome: RouteOutcome) -> list[dict[str, Any]]:
    """Business exceptions that refused a part of the message (a duplicate interchange, an
    unknown partner, a document outside the agreement ...): BLOCK severity, on no held document."""
    on_held = [e for held in outcome.held for e in held.exceptions]
    return [e for e in outcome.exceptions
            if severity_of(str(e.get("kind"))) is Severity.BLOCK and e not in on_held]


def _document_rows(message_id: str, route_name: str, outcome: RouteOutcome, now: datetime,
                   as_json: dict[int, bytes]) -> list[dict[str, Any]]:
    """The canonical documents as JSON (``hub messages show --canonical``); an output already
    rendered as JSON for an endpoint (``as_json``, by output number) is not serialised twice."""
    rows = []
    for status, exchanges in (("emitted", outcome.outputs), ("held", outcome.held)):
        for seq, ex in enumerate(exchanges):
            doc_type, doc_key = identity(ex.body)
            try:
                body = as_json[seq] if status == "emitted" and seq in as_json else to_json_bytes(ex.body)
            except TypeError:
                body = repr(ex.body).encode("utf-8", errors="replace")  # a rendered or opaque body
            rows.append({"message_id": message_id, "route": route_name, "seq": seq, "status": status,
                         "document_type": doc_type, "document_key": doc_key, "body": body, "created_at": now})
    return rows


def _existing(session, deliveries: list[dict[str, Any]]) -> set[str]:
    if not deliveries:
        return set()
    return set(session.scalars(select(Delivery.id).where(Delivery.id.in_([d["id"] for d in deliveries]))))


def _forget_earlier_run(session, route_name: str, message_id: str, deliveries: list[dict[str, Any]]) -> None:
    """A replay renders the same deliveries again (same ids) and sends them again with a fresh
    budget; the run's marker, document index and canonical documents replace the earlier run's
    (a held document may now be emitted). The idempotency key stays the same while the payload
    does; a payload the fixed route renders differently gets a new key — under the old one an
    endpoint would answer with its first result and never apply the correction. A delivery a
    worker is sending right now is left to finish."""
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
        session.execute(update(Delivery).where(Delivery.id == d["id"], Delivery.status != states.SENDING).values(
            payload=d["payload"], content_type=d["content_type"], idempotency_key=key, status=states.PENDING,
            failures=0, outages=0, lost=0, next_attempt_at=None, waiting_since=None, pending_since=utcnow()))


def _retry_or_park(hub, session, route_name: str, r: _Run) -> list:
    """An unexpected error in a route's steps: retried as the route's policy says (``retries: 5``
    is six attempts), then dead-lettered with the last error. The retry waits in the store — a
    delayed outbox row the relay publishes when due, written with the ``retrying`` stage — so
    nothing sits in a worker's memory and a restart loses nothing."""
    policy = hub.compiled[route_name].route.on_error
    message_id, failures, task_name = r.msg.id, r.work.failures, f"hub.route.{route_name}"
    if failures >= policy.retries:
        r.result = "dead-lettered"
        return park(hub, session, task_name=task_name, task_args=[message_id], message_id=message_id,
                    reason="retries_exhausted",
                    error=f"{r.error} (after {failures + 1} failed attempts; retries: {policy.retries})")[1]
    countdown = policy.backoff.delay(failures, random.random())
    queue = hub.topology.queue_name("route", route_name)
    headers = {"hub_message_id": message_id, **({"hub_replay": r.work.replay} if r.work.replay else {})}
    again = task_message(hub.celery, task_name, [message_id], task_id=new_id(), exchange="", routing_key=queue,
                         headers=headers, kwargs={"failures": failures + 1})
    now = utcnow()
    session.add(entry_for(again, purpose="replay", message_id=message_id,
                          publish_after=now + timedelta(seconds=countdown)))
    session.execute(insert(Stage), [_stage(
        message_id, "retrying", now, route=route_name,
        detail={"retry": failures + 1, "of": policy.retries, "in_seconds": round(countdown, 3)},
        error=str(r.error)[:2000])])
    r.result = f"retrying in {countdown:.1f}s"
    return []  # a delayed row: the relay publishes it when it is due
