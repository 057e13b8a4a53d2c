"""The delivery task's work: claim one delivery, ask its endpoint's circuit, call the
connector, and settle the outcome — the attempt, the delivery's new state, the stage and the
message's derived status in one transaction (see ``hub.delivery`` for the states).

Why a claim: a task message can exist twice (the sweeper re-sent it, the broker redelivered it
after a worker died). The claim — one ``UPDATE … WHERE status = 'pending' RETURNING`` with a
lease — lets exactly one copy call the endpoint; the other acks and does nothing. A worker that
dies mid-call leaves the lease to expire (or, on the same host, is seen to be gone:
``hub.delivery.holders``), and the delivery is sent again. The settle is fenced by the claim:
it changes the row only while this worker still holds it, so a worker that outlived its lease
never overwrites what the next holder did.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update

from hub.deadletters import park
from hub.delivery import ordering, states
from hub.delivery.circuit import DatabaseCircuits
from hub.delivery.holders import holder_is_dead
from hub.delivery.sending import DeliveryResult, Payload, Sender, sender_for
from hub.outbox import publish_rows
from hub.routes.model import Endpoint, ErrorPolicy
from hub.store import Delivery, DeliveryAttempt, Stage, utcnow
from hub.store.status import changing

log = logging.getLogger(__name__)

BUSY_PAUSE = 1.0  # seconds before a delivery held back by a local limit is tried again
LEASE_MARGIN = 30.0


@dataclass
class Claimed:
    """A delivery this worker holds (status sending) until it settles it."""

    payload: Payload
    attempts: int  # calls made before this one
    failures: int  # this document's failures before this attempt
    outages: int  # outage answers in a row for this document before this attempt
    received_at: datetime | None
    holder: str

    # The fields ordering.blocker reads.
    id = property(lambda self: self.payload.delivery_id)
    message_id = property(lambda self: self.payload.message_id)
    endpoint = property(lambda self: self.payload.endpoint)
    seq = property(lambda self: self.payload.seq)
    document_key = property(lambda self: self.payload.document_key)


SLOW_LINK = 256 * 1024  # bytes per second a file or SFTP upload is allowed at the least


def lease_seconds(ep: Endpoint, size: int = 0) -> float:
    """How long a claim lasts: longer than any call can take (an OAuth2 refresh makes two; an
    upload takes time by its size)."""
    if ep.http is not None:
        call = ep.http.timeout + (ep.http.connect_timeout or ep.http.timeout)
        return 2 * call + ep.http.max_wait + LEASE_MARGIN
    upload = size / SLOW_LINK
    if ep.sftp is not None:
        return 2 * ep.sftp.connect_timeout + 60.0 + upload + LEASE_MARGIN
    return 60.0 + upload + LEASE_MARGIN


# -- the task --------------------------------------------------------------------------------------

_senders: dict[str, Sender] = {}


def sender(hub, endpoint: str) -> Sender:
    if endpoint not in _senders:
        _senders[endpoint] = sender_for(endpoint, hub.routes.endpoint(endpoint), db=hub.db)
    return _senders[endpoint]


def circuits(hub) -> DatabaseCircuits:
    return DatabaseCircuits(hub.db)


def deliver(hub, endpoint: str, delivery_id: str, holder: str) -> str:
    """Deliver one delivery; returns what happened, for the task's result line."""
    ep = hub.routes.endpoint(endpoint)
    claimed = claim(hub, delivery_id, ep, holder)
    if isinstance(claimed, str):
        return claimed
    if ep.ordered_by is not None:
        blocker = ordering.blocker(hub, claimed)
        if blocker is not None:
            settle_without_call(hub, claimed, states.BLOCKED, stage="blocked", detail={"behind": blocker})
            return f"blocked behind {blocker}"
    admission = circuits(hub).admit(endpoint, ep.circuit, lease_seconds(ep))
    if not admission.allowed:
        settle_without_call(hub, claimed, states.WAITING, stage="waiting", detail={"circuit": admission.reason})
        return "waiting: circuit " + admission.reason
    started = utcnow()
    try:
        result = sender(hub, endpoint).send(claimed.payload)
    except BaseException:
        circuits(hub).record(endpoint, None, admission.probe, ep.circuit)  # give a probe's turn back
        raise
    finished = utcnow()
    circuit = circuits(hub)
    circuit.record(endpoint, _endpoint_answered(result), admission.probe, ep.circuit,
                   retry_after=result.retry_after, error=result.summary())
    if result.outcome == "unavailable" and circuit.get(endpoint).state == "closed" and \
            claimed.outages + 1 >= ep.circuit.failures:
        # The endpoint answers other documents but never this one (a name too long for the
        # folder, a document that always times out): that is this document's failure.
        result.outcome = "retry"
        result.error = f"{result.error or result.summary()} (every time for this document, while the endpoint " \
                       f"takes others)"
    return settle(hub, claimed, result, started, finished, error_policy(hub, ep, claimed.payload.route))


def _endpoint_answered(result: DeliveryResult) -> bool | None:
    """For the circuit: True the endpoint is up (it took the document, or answered about this
    document), False it is down, None nothing reached it (a local limit)."""
    if result.outcome == "busy":
        return None
    return result.outcome != "unavailable"


def error_policy(hub, ep: Endpoint, route_name: str) -> ErrorPolicy:
    if ep.on_error is not None:
        return ep.on_error
    compiled = hub.compiled.get(route_name)
    return compiled.route.on_error if compiled is not None else ErrorPolicy()


# -- claim -----------------------------------------------------------------------------------------

_COLUMNS = (Delivery.id, Delivery.message_id, Delivery.route, Delivery.endpoint, Delivery.seq, Delivery.payload,
            Delivery.content_type, Delivery.idempotency_key, Delivery.document_type, Delivery.document_key,
            Delivery.headers, Delivery.attempts, Delivery.failures, Delivery.outages, Delivery.received_at)


def claim(hub, delivery_id: str, ep: Endpoint, holder: str) -> Claimed | str:
    """Take the delivery for this worker, or say why not (delivered, another worker has it …)."""
    now = hub.db.clock()
    lease = timedelta(seconds=lease_seconds(ep))

    def take(*when):
        return (update(Delivery).where(Delivery.id == delivery_id, *when)
                .values(status=states.SENDING, lease_until=now + lease, lease_holder=holder)
                .returning(*_COLUMNS))

    statement = take(or_(Delivery.status == states.PENDING,
                         and_(Delivery.status == states.SENDING,
                              or_(Delivery.lease_until < now, Delivery.lease_holder == holder))))
    with hub.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        row = conn.execute(statement).first()
        if row is None:
            current = conn.execute(select(Delivery.status, Delivery.lease_holder)
                                   .where(Delivery.id == delivery_id)).first()
            if current is not None and current.status == states.SENDING and holder_is_dead(current.lease_holder):
                # The worker that claimed it was killed mid-call (this is the broker's redelivery).
                row = conn.execute(take(Delivery.status == states.SENDING,
                                        Delivery.lease_holder == current.lease_holder)).first()
    if row is None:
        if current is None:
            log.error("delivery %s is not in the store: task ignored", delivery_id)
            return "unknown delivery"
        return f"not claimed: it is {current.status}"
    payload = Payload(delivery_id=row.id, message_id=row.message_id, route=row.route, endpoint=row.endpoint,
                      seq=row.seq, body=row.payload, content_type=row.content_type,
                      idempotency_key=row.idempotency_key, document_type=row.document_type,
                      document_key=row.document_key, headers={str(k): str(v) for k, v in (row.headers or {}).items()})
    if ep.http is None and len(payload.body) > SLOW_LINK * 60:  # a big upload: a lease to match its size
        with hub.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(update(Delivery).where(Delivery.id == delivery_id, Delivery.lease_holder == holder)
                         .values(lease_until=now + timedelta(seconds=lease_seconds(ep, len(payload.body)))))
    return Claimed(payload, row.attempts, row.failures or 0, row.outages or 0, row.received_at, holder)


# -- settle ----------------------------------------------------------------------------------------

def _stage(claimed: Claimed, stage: str, at: datetime, detail: dict[str, Any], error: str | None = None):
    p = claimed.payload
    return insert(Stage).values([{"message_id": p.message_id, "stage": stage, "at": at, "route": p.route,
                                  "endpoint": p.endpoint, "delivery_id": p.delivery_id, "detail": detail,
                                  "error": error[:2000] if error else None}])


class LostClaim(Exception):
    """This worker no longer holds the delivery (its lease ran out and another took it over)."""


def _fenced(session, claimed: Claimed, **values) -> None:
    """Change the delivery only while this worker still holds its claim."""
    changed = session.execute(update(Delivery).where(
        Delivery.id == claimed.payload.delivery_id, Delivery.status == states.SENDING,
        Delivery.lease_holder == claimed.holder).values(lease_until=None, lease_holder=None, **values)
        .returning(Delivery.id)).first()
    if changed is None:
        raise LostClaim(claimed.payload.delivery_id)


def settle_without_call(hub, claimed: Claimed, state: str, *, stage: str, detail: dict[str, Any]) -> None:
    """Blocked or waiting: back to the store, no attempt made, nothing spent."""
    now = utcnow()
    since = {"waiting_since": func.coalesce(Delivery.waiting_since, now)} if state == states.WAITING else {}
    try:
        with changing(hub, [claimed.payload.message_id]) as session:
            _fenced(session, claimed, status=state, **since)
            session.execute(_stage(claimed, stage, now, detail))
    except LostClaim:
        log.warning("delivery %s: claim lost before it could wait (another worker holds it)",
                    claimed.payload.delivery_id)


def settle(hub, claimed: Claimed, result: DeliveryResult, started: datetime, finished: datetime,
           policy: ErrorPolicy) -> str:
    p = claimed.payload
    attempts = claimed.attempts + (1 if result.called else 0)
    values: dict[str, Any] = {"attempts": attempts,
                              "last_error": None if result.outcome == "delivered" else result.summary()[:2000]}
    detail: dict[str, Any] = {"attempt": attempts, "status_code": result.status_code}
    outcome, rows, stages = result.outcome, [], []
    if outcome == "unavailable":
        values.update(status=states.WAITING, outages=claimed.outages + 1,
                      waiting_since=func.coalesce(Delivery.waiting_since, finished))
        stages.append(("waiting", {**detail, "outcome": outcome}, result.summary()))
    elif outcome == "busy":
        values.update(status=states.RETRYING, next_attempt_at=finished + timedelta(seconds=BUSY_PAUSE))
    elif outcome == "delivered":
        values.update(status=states.DELIVERED, delivered_at=finished, outages=0, waiting_since=None)
        stages.append(("delivered", {**detail, "duration_ms": round((finished - started).total_seconds() * 1000, 3)},
                       None))
    else:
        failures = claimed.failures + 1
        values.update(failures=failures, outages=0, waiting_since=None)
        stages.append(("failed", {**detail, "outcome": outcome}, result.summary()))
        if outcome == "reject" or failures > policy.retries:
            values["status"] = states.DEAD_LETTERED
        else:
            countdown = policy.backoff.delay(failures - 1, random.random())
            values.update(status=states.RETRYING, next_attempt_at=finished + timedelta(seconds=countdown))
            stages.append(("retrying", {"retry": failures, "of": policy.retries, "in_seconds": round(countdown, 3)},
                           result.summary()))
    try:
        with changing(hub, [p.message_id]) as session:
            _fenced(session, claimed, **values)
            if result.called:
                session.execute(insert(DeliveryAttempt).values([{
                    "delivery_id": p.delivery_id, "attempt": attempts, "started_at": started, "finished_at": finished,
                    "outcome": result.outcome, "status_code": result.status_code, "response": result.response,
                    "error": result.error}]))
            for stage, stage_detail, error in stages:
                session.execute(_stage(claimed, stage, finished, stage_detail, error))
            if values.get("status") == states.DEAD_LETTERED:
                reason = "rejected_by_endpoint" if outcome == "reject" else "retries_exhausted"
                error = result.summary() + ("" if outcome == "reject" else
                                            f" (after {values['failures']} failed attempts; retries: {policy.retries})")
                _, rows = park(hub, session, task_name=f"hub.deliver.{p.endpoint}", task_args=[p.delivery_id],
                               message_id=p.message_id, delivery_id=p.delivery_id, reason=reason, error=error)
                outcome = "dead-lettered: " + reason
    except LostClaim:
        # Outlived its lease: another worker holds the delivery now and settles it; this
        # attempt's answer is only logged (the endpoint saw the same idempotency key twice).
        log.warning("delivery %s: answer %s arrived after the claim was lost; left to the new holder",
                    p.delivery_id, result.summary()[:200])
        return "claim lost"
    publish_rows(hub, rows)
    return outcome
