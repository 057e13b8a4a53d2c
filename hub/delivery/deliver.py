"""The delivery work: claim deliveries, ask their endpoint's circuit, call the connector, and
settle the outcomes — the attempts, the deliveries' new states, the stages and the messages'
derived statuses in one transaction per batch (see ``hub.delivery`` for the states).

Why a claim: a task message can exist twice (the sweeper re-sent it, the broker redelivered it
after a worker died). The claim — an ``UPDATE … WHERE status = 'pending' RETURNING`` with a
lease — lets exactly one copy call the endpoint; the other does nothing. A worker that dies
mid-call leaves the lease to expire (or, on the same host, is seen to be gone:
``hub.delivery.holders``), and the delivery is sent again. The settle is fenced by the claim: it
changes a row only while this worker still holds it, so a worker that outlived its lease never
overwrites what the next holder did.

Why batches: one endpoint's deliveries are claimed with one statement, sent one after the other
over the endpoint's kept-alive connection, and settled together; a route batch sends the
deliveries it just made the same way (``send_claimed``), without a task message each.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update

from hub.deadletters import park
from hub.delivery import ordering, states
from hub.delivery.circuit import Admission, Circuit, DatabaseCircuits
from hub.delivery.holders import holder_is_dead
from hub.delivery.sending import DeliveryResult, Payload, Sender, sender_for
from hub.outbox import publish_rows
from hub.routes.model import Endpoint, ErrorPolicy
from hub.store import Delivery, DeliveryAttempt, Stage, among, insert_rows, utcnow
from hub.store.status import changing

log = logging.getLogger(__name__)

BUSY_PAUSE = 1.0  # seconds before a delivery held back by a local limit is tried again
LEASE_MARGIN = 30.0
SLOW_LINK = 256 * 1024  # bytes per second a file or SFTP upload is allowed at the least


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


def batch_lease(ep: Endpoint) -> float:
    """A batch's claims last twice a single call's lease: a batch stops sending (and puts its
    remaining deliveries back) once one lease has passed, so no claim runs out while its
    delivery still waits its turn in this worker."""
    return 2 * lease_seconds(ep)


_senders: dict[str, Sender] = {}


def sender(hub, endpoint: str) -> Sender:
    if endpoint not in _senders:
        _senders[endpoint] = sender_for(endpoint, hub.routes.endpoint(endpoint), db=hub.db)
    return _senders[endpoint]


def error_policy(hub, ep: Endpoint, route_name: str) -> ErrorPolicy:
    if ep.on_error is not None:
        return ep.on_error
    compiled = hub.compiled.get(route_name)
    return compiled.route.on_error if compiled is not None else ErrorPolicy()


# -- the task --------------------------------------------------------------------------------------

def deliver(hub, endpoint: str, delivery_id: str, holder: str) -> str:
    """Deliver one delivery; returns what happened."""
    return deliver_many(hub, endpoint, [delivery_id], holder)[delivery_id]


def deliver_many(hub, endpoint: str, delivery_ids: list[str], holder: str) -> dict[str, str]:
    """Claim these deliveries of one endpoint, send them, settle them; delivery id → outcome."""
    ep = hub.routes.endpoint(endpoint)
    claimed, why_not = claim_many(hub, delivery_ids, ep, holder)
    return {**why_not, **send_claimed(hub, endpoint, claimed)}


# -- claim -----------------------------------------------------------------------------------------

_COLUMNS = (Delivery.id, Delivery.message_id, Delivery.route, Delivery.endpoint, Delivery.seq, Delivery.payload,
            Delivery.content_type, Delivery.idempotency_key, Delivery.document_type, Delivery.document_key,
            Delivery.headers, Delivery.attempts, Delivery.failures, Delivery.outages, Delivery.received_at)


def claim_many(hub, delivery_ids: list[str], ep: Endpoint, holder: str) -> tuple[list[Claimed], dict[str, str]]:
    """Take these deliveries for this worker → (claimed, {id: why another was not claimed})."""
    now = hub.db.clock()
    lease = timedelta(seconds=batch_lease(ep))

    def take(ids, *when):
        return (update(Delivery).where(Delivery.id.in_(ids), *when)
                .values(status=states.SENDING, lease_until=now + lease, lease_holder=holder)
                .returning(*_COLUMNS))

    mine = or_(Delivery.status == states.PENDING,
               and_(Delivery.status == states.SENDING, or_(Delivery.lease_until < now, Delivery.lease_holder == holder)))
    why_not: dict[str, str] = {}
    with hub.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        rows = list(conn.execute(take(delivery_ids, mine)))
        rest = set(delivery_ids) - {r.id for r in rows}
        if rest:
            current = {r.id: r for r in conn.execute(select(Delivery.id, Delivery.status, Delivery.lease_holder)
                                                     .where(Delivery.id.in_(rest)))}
            for delivery_id in sorted(rest):
                now_row = current.get(delivery_id)
                if now_row is None:
                    log.error("delivery %s is not in the store: task ignored", delivery_id)
                    why_not[delivery_id] = "unknown delivery"
                elif now_row.status == states.SENDING and holder_is_dead(now_row.lease_holder):
                    # The worker that claimed it was killed mid-call (this is the broker's redelivery).
                    rows += list(conn.execute(take([delivery_id], Delivery.status == states.SENDING,
                                                   Delivery.lease_holder == now_row.lease_holder)))
                else:
                    why_not[delivery_id] = f"not claimed: it is {now_row.status}"
    return [_claimed(row, holder) for row in rows], why_not


def _claimed(row, holder: str) -> Claimed:
    payload = Payload(delivery_id=row.id, message_id=row.message_id, route=row.route, endpoint=row.endpoint,
                      seq=row.seq, body=row.payload, content_type=row.content_type,
                      idempotency_key=row.idempotency_key, document_type=row.document_type,
                      document_key=row.document_key, headers={str(k): str(v) for k, v in (row.headers or {}).items()})
    return Claimed(payload, row.attempts or 0, row.failures or 0, row.outages or 0, row.received_at, holder)


# -- send ------------------------------------------------------------------------------------------

@dataclass
class Settlement:
    """What happened to one claimed delivery, to be written with the others of its batch."""

    claimed: Claimed
    values: dict[str, Any]
    stages: list[tuple[str, dict[str, Any], str | None]] = field(default_factory=list)
    attempt: dict[str, Any] | None = None
    letter: tuple[str, str] | None = None  # (reason, error) when it is dead-lettered
    requeue: bool = False  # not sent in this batch's time: back on the broker
    outcome: str = ""


def send_claimed(hub, endpoint: str, claims: list[Claimed]) -> dict[str, str]:
    """Send claimed deliveries of one endpoint (or, for an endpoint that accepts batches, up to
    ``batch.max_documents`` per call) and settle them together. While the endpoint's circuit is
    pristine, up to ``HUB_SEND_CONCURRENCY`` calls are in flight at once (not for an ordered
    endpoint); after any trouble, one at a time, the circuit consulted before each call."""
    if not claims:
        return {}
    ep = hub.routes.endpoint(endpoint)
    circuits = DatabaseCircuits(hub.db)
    # Read once, then again only after something the circuit had to record: a run of successes
    # on a pristine (closed, nothing counted) circuit costs no database round trip.
    circuit = circuits.get(endpoint)
    pristine, closed = circuit == Circuit(), circuit.state == "closed"
    fan_out = 1 if ep.ordered_by is not None else hub.settings.send_concurrency
    deadline = time.monotonic() + lease_seconds(ep)
    settlements: list[Settlement] = []
    queue = list(claims)
    while queue:
        if time.monotonic() > deadline:
            settlements += [Settlement(c, {"status": states.PENDING, "pending_since": utcnow()}, requeue=True,
                                       outcome="put back: the batch ran out of time") for c in queue]
            break
        if pristine and fan_out > 1:
            groups = []
            while queue and len(groups) < fan_out:
                groups.append(_next_group(ep, queue, closed))
            done = _calls_at_once(hub, circuits, ep, endpoint, groups)
        else:
            group = _next_group(ep, queue, closed)
            if ep.ordered_by is not None:
                group = [c for c in group if not _blocked(hub, c, settlements)]
                if not group:
                    continue
            admission = Admission(True) if closed else circuits.admit(endpoint, ep.circuit, lease_seconds(ep))
            if not admission.allowed:
                settlements += [_without_call(c, states.WAITING, "waiting", {"circuit": admission.reason},
                                              "waiting: circuit " + admission.reason) for c in group]
                continue
            done = _call(hub, circuits, ep, endpoint, group, admission.probe, pristine)
            if admission.probe:
                pristine = False  # look at the circuit again below
        settlements += done
        if not pristine or any(d.outcome in ("unavailable", "busy") for d in done):
            now_circuit = circuits.get(endpoint)
            pristine, closed = now_circuit == Circuit(), now_circuit.state == "closed"
    write(hub, settlements)
    return {s.claimed.id: s.outcome for s in settlements}


_threads: tuple[int, ThreadPoolExecutor | None] = (-1, None)


def _calls_at_once(hub, circuits: DatabaseCircuits, ep: Endpoint, endpoint: str,
                   groups: list[list[Claimed]]) -> list[Settlement]:
    """Calls to an endpoint whose circuit is pristine, in flight together: a worker's route
    batch otherwise waits out one round trip to the endpoint per document, one after the other
    (profiling under load showed those waits as the largest part of a batch's time). The
    senders are thread-safe (keep-alive connections are taken and given back per call)."""
    global _threads
    if len(groups) == 1:
        return _call(hub, circuits, ep, endpoint, groups[0], False, True)
    sender(hub, endpoint)  # made here, not by several threads at once
    if _threads[0] != os.getpid() or _threads[1] is None:  # never use a pool made before a fork
        _threads = (os.getpid(), ThreadPoolExecutor(max_workers=hub.settings.send_concurrency,
                                                    thread_name_prefix="hub-send"))
    futures = [_threads[1].submit(_call, hub, circuits, ep, endpoint, g, False, True) for g in groups]
    return [s for f in futures for s in f.result()]


def _next_group(ep: Endpoint, queue: list[Claimed], closed: bool) -> list[Claimed]:
    """Take the next call's deliveries off ``queue``: one, or for an endpoint that accepts
    batches up to ``max_documents`` while its circuit is closed (a probe is one document).
    A batch carries one set of headers: deliveries with other headers of their own wait for
    the next call."""
    size = ep.batch.max_documents if ep.batch is not None and closed else 1
    group = [queue.pop(0)]
    while queue and len(group) < size and queue[0].payload.headers == group[0].payload.headers:
        group.append(queue.pop(0))
    return group


def _blocked(hub, claimed: Claimed, settlements: list[Settlement]) -> bool:
    blocker = ordering.blocker(hub, claimed)
    if blocker is not None:
        settlements.append(_without_call(claimed, states.BLOCKED, "blocked", {"behind": blocker},
                                         f"blocked behind {blocker}"))
    return blocker is not None


def _call(hub, circuits: DatabaseCircuits, ep: Endpoint, endpoint: str, group: list[Claimed], probe: bool,
          pristine: bool) -> list[Settlement]:
    """One call to the endpoint carrying these deliveries → their settlements."""
    started = utcnow()
    conn = sender(hub, endpoint)
    try:
        if ep.batch is None:
            results = [conn.send(group[0].payload)]
        else:  # an endpoint that takes batches gets them in batch form, also a batch of one
            results = conn.send_batch([c.payload for c in group], ep.batch, ep.payload_format)
    except BaseException:
        circuits.record(endpoint, None, probe, ep.circuit)  # give a probe's turn back
        raise
    finished = utcnow()
    # The circuit hears the call once: True the endpoint is up (it took a document, or answered
    # about one), False it is down, None nothing reached it (a local limit).
    answered = None if results[0].outcome == "busy" else any(r.outcome != "unavailable" for r in results)
    if answered is not True or probe or not pristine:  # a pristine circuit's success changes nothing
        first = results[0]
        circuits.record(endpoint, answered, probe, ep.circuit, retry_after=first.retry_after, error=first.summary())
    out = []
    for claimed, result in zip(group, results, strict=True):
        if result.outcome == "unavailable" and claimed.outages + 1 >= ep.circuit.failures and \
                circuits.get(endpoint).state == "closed":
            # The endpoint answers other documents but never this one (a name too long for the
            # folder, a document that always times out): that is this document's failure.
            result.outcome = "retry"
            result.error = f"{result.error or result.summary()} (every time for this document, while the endpoint " \
                           f"takes others)"
        out.append(settlement(claimed, result, started, finished, error_policy(hub, ep, claimed.payload.route)))
    return out


# -- settle ----------------------------------------------------------------------------------------

def _without_call(claimed: Claimed, state: str, stage: str, detail: dict[str, Any], outcome: str) -> Settlement:
    """Blocked or waiting: back to the store, no attempt made, nothing spent."""
    values: dict[str, Any] = {"status": state}
    if state == states.WAITING:
        values["waiting_since"] = func.coalesce(Delivery.waiting_since, utcnow())
    return Settlement(claimed, values, [(stage, detail, None)], outcome=outcome)


def settlement(claimed: Claimed, result: DeliveryResult, started: datetime, finished: datetime,
               policy: ErrorPolicy) -> Settlement:
    """What a call's result does to its delivery (pure: written later, with its batch)."""
    attempts = claimed.attempts + (1 if result.called else 0)
    values: dict[str, Any] = {"attempts": attempts,
                              "last_error": None if result.outcome == "delivered" else result.summary()[:2000]}
    detail: dict[str, Any] = {"attempt": attempts, "status_code": result.status_code}
    if result.batch:
        detail["batch"] = result.batch  # this call carried that many documents
    s = Settlement(claimed, values, outcome=result.outcome)
    if result.called:
        s.attempt = {"delivery_id": claimed.id, "attempt": attempts, "started_at": started, "finished_at": finished,
                     "outcome": result.outcome, "status_code": result.status_code, "response": result.response,
                     "error": result.error}
    if result.outcome == "unavailable":
        values.update(status=states.WAITING, outages=claimed.outages + 1,
                      waiting_since=func.coalesce(Delivery.waiting_since, finished))
        s.stages.append(("waiting", {**detail, "outcome": result.outcome}, result.summary()))
    elif result.outcome == "busy":
        values.update(status=states.RETRYING, next_attempt_at=finished + timedelta(seconds=BUSY_PAUSE))
    elif result.outcome == "delivered":
        values.update(status=states.DELIVERED, delivered_at=finished, outages=0, waiting_since=None)
        s.stages.append(("delivered", {**detail, "duration_ms": round((finished - started).total_seconds() * 1000, 3)},
                         None))
    else:
        failures = claimed.failures + 1
        values.update(failures=failures, outages=0, waiting_since=None)
        s.stages.append(("failed", {**detail, "outcome": result.outcome}, result.summary()))
        if result.outcome == "reject" or failures > policy.retries:
            values["status"] = states.DEAD_LETTERED
            reason = "rejected_by_endpoint" if result.outcome == "reject" else "retries_exhausted"
            s.letter = (reason, result.summary() + ("" if result.outcome == "reject" else
                                                    f" (after {failures} failed attempts; retries: {policy.retries})"))
            s.outcome = "dead-lettered: " + reason
        else:
            countdown = policy.backoff.delay(failures - 1, random.random())
            values.update(status=states.RETRYING, next_attempt_at=finished + timedelta(seconds=countdown))
            s.stages.append(("retrying", {"retry": failures, "of": policy.retries, "in_seconds": round(countdown, 3)},
                             result.summary()))
    return s


def _requeue(hub, session, c: Claimed):
    from hub.deadletters import delivery_message
    from hub.outbox import entry_for

    entry = entry_for(delivery_message(hub, c.endpoint, c.id, {"hub_resent": "batch_time"}), purpose="egress",
                      message_id=c.message_id, delivery_id=c.id)
    session.add(entry)
    return entry


def write(hub, settlements: Iterable[Settlement]) -> None:
    """Write a batch of settlements in one transaction. Each delivery changes only while this
    worker still holds its claim; one another worker took over (its lease ran out) is left to
    that worker, and this attempt's answer is only logged."""
    settlements = list(settlements)
    if not settlements:
        return
    rows: list = []
    now = utcnow()
    with changing(hub, [s.claimed.message_id for s in settlements]) as session:
        held = _held_delivered(session, [s for s in settlements if s.values.get("status") == states.DELIVERED], now)
        attempts, stages = [], []
        for s in settlements:
            c = s.claimed
            if c.id not in held and not _fenced_update(session, c, s.values):
                log.warning("delivery %s: %s arrived after the claim was lost; left to the new holder", c.id,
                            s.outcome)
                s.outcome = "claim lost"
                continue
            p = c.payload
            if s.requeue:
                rows.append(_requeue(hub, session, c))
                continue
            if s.attempt:
                attempts.append(s.attempt)
            stages += [{"message_id": p.message_id, "stage": stage, "at": (s.attempt or {}).get("finished_at", now),
                        "route": p.route, "endpoint": p.endpoint, "delivery_id": p.delivery_id, "detail": detail,
                        "error": error[:2000] if error else None} for stage, detail, error in s.stages]
            if s.letter:
                _, parked = park(hub, session, task_name=f"hub.deliver.{p.endpoint}", task_args=[p.delivery_id],
                                 message_id=p.message_id, delivery_id=p.delivery_id, reason=s.letter[0],
                                 error=s.letter[1])
                rows += parked
        if attempts:
            insert_rows(session, DeliveryAttempt, attempts)
        if stages:
            insert_rows(session, Stage, stages)
    publish_rows(hub, rows)


def _fenced_update(session, c: Claimed, values: dict[str, Any]) -> bool:
    """Change one delivery while this worker holds its claim; False when it no longer does."""
    return session.execute(update(Delivery).where(
        Delivery.id == c.id, Delivery.status == states.SENDING, Delivery.lease_holder == c.holder)
        .values(lease_until=None, lease_holder=None, **values).returning(Delivery.id)).first() is not None


def _held_delivered(session, delivered: list[Settlement], now: datetime) -> set[str]:
    """The common case in one statement per holder: deliveries that were delivered, settled
    together (their attempt rows keep each call's own times) → the ids this worker still held."""
    by_holder: dict[str, list[str]] = {}
    for s in delivered:
        by_holder.setdefault(s.claimed.holder, []).append(s.claimed.id)
    held: set[str] = set()
    for holder, ids in by_holder.items():
        held |= set(session.scalars(update(Delivery).where(
            among(session, Delivery.id, ids), Delivery.status == states.SENDING, Delivery.lease_holder == holder)
            .values(status=states.DELIVERED, delivered_at=now, attempts=Delivery.attempts + 1, outages=0,
                    waiting_since=None, last_error=None, lease_until=None, lease_holder=None)
            .returning(Delivery.id)
            # The settle's session has loaded no delivery objects to bring up to date: skip the
            # ORM's search for them (a quarter of this statement's CPU).
            .execution_options(synchronize_session=False)))
    return held
