"""The store-driven scheduler: puts deliveries back on the broker when they are due.

Runs in every worker's relay loop (``hub.worker.RelayStep``, ``hub run`` included), every
``HUB_RELAY_INTERVAL`` seconds. Several can run at once: each release claims its rows with
``FOR UPDATE SKIP LOCKED`` (PostgreSQL) and an ``UPDATE … WHERE status = <the state it
releases>``, so a delivery is released once, and writes the task messages to the outbox in the
same transaction, so a broker outage delays them but never loses them.

What it releases, each recorded as a ``resent`` stage with its reason:
- ``retry_due``: a ``retrying`` delivery whose ``next_attempt_at`` has come;
- ``circuit_closed``: every ``waiting`` delivery of an endpoint whose circuit is closed
  (it answered a probe, or it never opened: a single outage answer below the threshold);
- ``probe``: the oldest ``waiting`` delivery of an open circuit whose next probe is due (or of
  a half-open one whose probe never reported back);
- ``lease_expired``: a ``sending`` delivery whose worker died mid-call. It counts as a lost
  worker, not as a failure of the document; after ``HUB_DELIVERY_LIMIT`` of them it is
  dead-lettered as ``worker_lost`` — a document that kills every worker must not be sent for
  ever, also on the embedded default, which has no broker-side delivery limit;
- ``unblocked``: a ``blocked`` delivery of an ordered endpoint with nothing earlier open.
And it parks what waited too long: a ``waiting`` delivery whose wait began longer ago than its
endpoint's ``max_outage`` is dead-lettered as ``endpoint_unavailable`` (each delivery by its
own wait, so documents arriving during a long outage get their full time; probing goes on).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import select, tuple_, update

from hub.deadletters import delivery_message, park
from hub.delivery import ordering, states
from hub.delivery.circuit import Circuit, DatabaseCircuits
from hub.outbox import entry_for, publish_rows
from hub.store import Delivery, MessageStore, utcnow
from hub.store.status import changing

log = logging.getLogger(__name__)

BATCH = 500
BLOCKED_MAX = 5000  # blocked deliveries re-checked per pass


def run_due(hub) -> Counter:
    """One pass over everything that may be due. Returns how many deliveries each rule moved."""
    done: Counter = Counter()
    done["retry_due"] = _release(hub, "retry_due", (Delivery.status == states.RETRYING,
                                                    Delivery.next_attempt_at <= utcnow()), from_state=states.RETRYING)
    _expired_leases(hub, done)
    _waiting(hub, done)
    _blocked(hub, done)
    moved = {k: v for k, v in done.items() if v}
    if moved:
        log.info("scheduler released deliveries: %s", ", ".join(f"{k} {v}" for k, v in sorted(moved.items())))
    return done


def _release(hub, reason: str, where: tuple, *, from_state: str, limit: int = BATCH,
             order: tuple = (Delivery.created_at,), ids: list[str] | None = None, once: bool = False) -> int:
    """Move matching deliveries back to pending and publish their task messages (outbox), in
    batches of ``limit`` until none is left (``once``: one batch only, e.g. a single probe)."""
    total = 0
    while True:
        with hub.db.session() as session:
            query = select(Delivery.id, Delivery.endpoint, Delivery.message_id, Delivery.route).where(*where)
            if ids is not None:
                query = query.where(Delivery.id.in_(ids))
            query = query.order_by(*order).limit(limit)
            if not hub.db.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            rows = session.execute(query).all()
            if not rows:
                return total
            session.execute(update(Delivery).where(Delivery.id.in_([r.id for r in rows]),
                                                   Delivery.status == from_state)
                            .values(status=states.PENDING, lease_until=None, lease_holder=None,
                                    next_attempt_at=None, pending_since=utcnow()))
            entries = _entries(hub, session, rows, reason)
        publish_rows(hub, entries)
        total += len(rows)
        if once or len(rows) < limit or ids is not None:
            return total


def _entries(hub, session, rows, reason: str) -> list:
    """The outbox rows putting these deliveries' task messages on the broker, and their stages."""
    entries = []
    for r in rows:
        message = delivery_message(hub, r.endpoint, r.id, {"hub_resent": reason})
        entries.append(entry_for(message, purpose="egress", message_id=r.message_id, delivery_id=r.id))
        MessageStore.stage(session, r.message_id, "resent", route=r.route, endpoint=r.endpoint, delivery_id=r.id,
                           detail={"reason": reason})
    session.add_all(entries)
    return entries


# -- a worker died holding a delivery --------------------------------------------------------------

def _expired_leases(hub, done: Counter) -> None:
    with hub.db.read() as session:
        expired = session.execute(select(Delivery.message_id).where(
            Delivery.status == states.SENDING, Delivery.lease_until < hub.db.clock()).limit(BATCH)).all()
    for (message_id,) in {tuple(r) for r in expired}:
        lost, again = _take_back(hub, message_id)
        done["worker_lost"] += lost
        done["lease_expired"] += again


def _take_back(hub, message_id: str) -> tuple[int, int]:
    """For one message, in one transaction: count a lost worker on each of its deliveries whose
    lease ran out (checked again under the lock: a worker may have just settled it), park those
    that reached the delivery limit, send the others again."""
    limit = hub.settings.delivery_limit
    rows = []
    with changing(hub, [message_id]) as session:
        taken = session.execute(update(Delivery).where(
            Delivery.message_id == message_id, Delivery.status == states.SENDING,
            Delivery.lease_until < hub.db.clock())
            .values(lost=Delivery.lost + 1, status=states.PENDING, lease_until=None, lease_holder=None,
                    pending_since=utcnow())
            .returning(Delivery.id, Delivery.endpoint, Delivery.message_id, Delivery.route, Delivery.lost,
                       Delivery.last_error)).all()
        lost = [t for t in taken if t.lost >= limit]
        for t in lost:
            session.execute(update(Delivery).where(Delivery.id == t.id).values(status=states.DEAD_LETTERED))
            last = f"; its last answer: {t.last_error}" if t.last_error else ""
            _, parked = park(hub, session, task_name=f"hub.deliver.{t.endpoint}", task_args=[t.id],
                             message_id=message_id, delivery_id=t.id, reason="worker_lost",
                             error=f"a worker process died {t.lost} times while sending it (HUB_DELIVERY_LIMIT "
                                   f"{limit}){last}")
            rows += parked
        rows += _entries(hub, session, [t for t in taken if t not in lost], "lease_expired")
    publish_rows(hub, rows)
    return len(lost), len(taken) - len(lost)


# -- endpoints that are down ------------------------------------------------------------------------

def _waiting(hub, done: Counter) -> None:
    with hub.db.read() as session:
        endpoints = set(session.scalars(select(Delivery.endpoint).where(Delivery.status == states.WAITING)
                                        .distinct()))
    if not endpoints:
        return
    circuits = DatabaseCircuits(hub.db).all()
    now = time.time()
    for endpoint in sorted(endpoints):
        try:
            policy = hub.routes.endpoint(endpoint).circuit
        except KeyError:
            continue  # an endpoint removed from the routes: its deliveries wait for an operator
        circuit = circuits.get(endpoint, Circuit())
        where = (Delivery.status == states.WAITING, Delivery.endpoint == endpoint)
        overdue = utcnow() - timedelta(seconds=policy.max_outage)
        done["endpoint_unavailable"] += _park_waiting(hub, endpoint, overdue, circuit.describe(policy, now),
                                                      policy.max_outage)
        if circuit.state == "closed":
            done["circuit_closed"] += _release(hub, "circuit_closed", where, from_state=states.WAITING)
        elif _probe_due(circuit, policy, now):
            # The probe is the waiting delivery with the fewest outage answers of its own: a
            # document that times out every time must not be the one that decides, over and
            # over, that the endpoint is still down.
            done["probe"] += _release(hub, "probe", where, from_state=states.WAITING, limit=1, once=True,
                                      order=(Delivery.outages, Delivery.created_at))


def _probe_due(circuit: Circuit, policy, now: float) -> bool:
    if circuit.state == "open":
        return now >= (circuit.next_probe_at(policy) or 0.0)
    # Half-open whose probe never reported back (its worker died, or the database went away
    # as it did): let another delivery be the probe.
    return circuit.probe_until is not None and now >= circuit.probe_until


def _park_waiting(hub, endpoint: str, overdue: datetime, circuit: str, max_outage: float) -> int:
    """Dead-letter the deliveries of this endpoint that have waited longer than max_outage."""
    error = (f"endpoint {endpoint} unavailable for longer than max_outage ({timedelta(seconds=max_outage)}): "
             f"circuit {circuit}")
    parked = 0
    while True:
        with hub.db.read() as session:
            batch = session.execute(select(Delivery.id, Delivery.message_id).where(
                Delivery.status == states.WAITING, Delivery.endpoint == endpoint,
                Delivery.waiting_since < overdue).limit(100)).all()
        if not batch:
            return parked
        for delivery_id, message_id in batch:
            parked += _park_one(hub, delivery_id, message_id, endpoint, reason="endpoint_unavailable", error=error)


def _park_one(hub, delivery_id: str, message_id: str, endpoint: str, *, reason: str, error: str) -> int:
    """Dead-letter one delivery if it is still waiting. Returns 1 if it was."""
    with changing(hub, [message_id]) as session:
        claimed = session.execute(update(Delivery).where(Delivery.id == delivery_id,
                                                         Delivery.status == states.WAITING)
                                  .values(status=states.DEAD_LETTERED, waiting_since=None)
                                  .returning(Delivery.id)).first()
        rows = []
        if claimed is not None:
            _, rows = park(hub, session, task_name=f"hub.deliver.{endpoint}", task_args=[delivery_id],
                           message_id=message_id, delivery_id=delivery_id, reason=reason, error=error)
    publish_rows(hub, rows)
    return int(claimed is not None)


# -- ordered endpoints ------------------------------------------------------------------------------

def _blocked(hub, done: Counter) -> None:
    """Release blocked deliveries with nothing earlier open, page by page in receipt order (a
    long chain on one key does not hide free deliveries of other keys further down)."""
    after: tuple | None = None
    seen = 0
    while seen < BLOCKED_MAX:
        query = select(Delivery.id, Delivery.message_id, Delivery.route, Delivery.endpoint, Delivery.seq,
                       Delivery.document_key, Delivery.received_at).where(Delivery.status == states.BLOCKED)
        if after is not None:
            query = query.where(tuple_(Delivery.received_at, Delivery.id) > tuple_(*after))
        with hub.db.read() as session:
            page = session.execute(query.order_by(Delivery.received_at, Delivery.id).limit(BATCH)).all()
        if not page:
            return
        free = [row.id for row in page if ordering.blocker(hub, row) is None]
        if free:
            done["unblocked"] += _release(hub, "unblocked", (Delivery.status == states.BLOCKED,),
                                          from_state=states.BLOCKED, ids=free)
        seen += len(page)
        if len(page) < BATCH:
            return
        after = (page[-1].received_at, page[-1].id)
