"""The store-driven scheduler: puts deliveries back on the broker when they are due.

Runs in every worker's relay loop (``hub.worker.RelayStep``, ``hub run`` included), every
``HUB_RELAY_INTERVAL`` seconds. Several can run at once: each release claims its rows with
one ``UPDATE … WHERE status = <the state it releases>`` (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL), so a delivery is released once, and writes the task messages to the outbox in
the same transaction, so a broker outage delays them but never loses them.

What it releases, each recorded as a ``resent`` stage with its reason:
- ``retry_due``: a ``retrying`` delivery whose ``next_attempt_at`` has come;
- ``circuit_closed``: every ``waiting`` delivery of an endpoint whose circuit is closed
  (it answered a probe, or it never opened: a single outage answer below the threshold);
- ``probe``: the oldest ``waiting`` delivery of an open circuit whose next probe is due;
- ``lease_expired``: a ``sending`` delivery whose worker died mid-call (it counts as one of
  the document's failures; after ``HUB_DELIVERY_LIMIT`` such deaths it is dead-lettered as
  ``worker_lost`` — a document that kills every worker must not be sent for ever, also on the
  embedded default, which has no broker-side delivery limit);
- ``unblocked``: a ``blocked`` delivery of an ordered endpoint with nothing earlier open.
And it parks what waited too long: every ``waiting`` delivery of an endpoint down for longer
than its ``max_outage`` is dead-lettered as ``endpoint_unavailable``.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from datetime import timedelta

from sqlalchemy import func, select, update

from hub.deadletters import delivery_message, park
from hub.delivery import ordering, states
from hub.delivery.circuit import DatabaseCircuits
from hub.outbox import entry_for, publish_rows
from hub.store import Delivery, MessageStore, utcnow
from hub.store.status import changing

log = logging.getLogger(__name__)

BATCH = 500


def run_due(hub) -> Counter:
    """One pass over everything that may be due. Returns how many deliveries each rule moved."""
    done: Counter = Counter()
    now = utcnow()
    done["retry_due"] = _release(hub, "retry_due", (Delivery.status == states.RETRYING,
                                                    Delivery.next_attempt_at <= now), from_state=states.RETRYING)
    _expired_leases(hub, done, now)
    _waiting(hub, done)
    _blocked(hub, done)
    moved = {k: v for k, v in done.items() if v}
    if moved:
        log.info("scheduler released deliveries: %s", ", ".join(f"{k} {v}" for k, v in sorted(moved.items())))
    return done


def _release(hub, reason: str, where: tuple, *, from_state: str, limit: int = BATCH, order=Delivery.created_at,
             ids: list[str] | None = None, once: bool = False) -> int:
    """Move matching deliveries back to pending and publish their task messages (outbox), in
    batches of ``limit`` until none is left (``once``: one batch only, e.g. a single probe)."""
    total = 0
    while True:
        with hub.db.session() as session:
            query = select(Delivery.id, Delivery.endpoint, Delivery.message_id, Delivery.route).where(*where)
            if ids is not None:
                query = query.where(Delivery.id.in_(ids))
            query = query.order_by(order).limit(limit)
            if not hub.db.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            rows = session.execute(query).all()
            if not rows:
                return total
            session.execute(update(Delivery).where(Delivery.id.in_([r.id for r in rows]),
                                                   Delivery.status == from_state)
                            .values(status=states.PENDING, lease_until=None, lease_holder=None,
                                    next_attempt_at=None))
            entries = []
            for r in rows:
                message = delivery_message(hub, r.endpoint, r.id, {"hub_resent": reason})
                entries.append(entry_for(message, purpose="egress", message_id=r.message_id, delivery_id=r.id))
                MessageStore.stage(session, r.message_id, "resent", route=r.route, endpoint=r.endpoint,
                                   delivery_id=r.id, detail={"reason": reason})
            session.add_all(entries)
        publish_rows(hub, entries)
        total += len(rows)
        if once or len(rows) < limit or ids is not None:
            return total


def _expired_leases(hub, done: Counter, now) -> None:
    with hub.db.read() as session:
        expired = session.execute(select(Delivery.id, Delivery.message_id, Delivery.endpoint, Delivery.failures)
                                  .where(Delivery.status == states.SENDING, Delivery.lease_until < now)
                                  .limit(BATCH)).all()
    limit = hub.settings.delivery_limit
    lost = [d for d in expired if (d.failures or 0) + 1 >= limit]
    for d in lost:
        done["worker_lost"] += _park_one(hub, d.id, d.message_id, d.endpoint, from_state=states.SENDING,
                                         reason="worker_lost", error=f"a worker process died {limit} times while "
                                         f"sending it (HUB_DELIVERY_LIMIT)")
    again = [d.id for d in expired if d not in lost]
    if again:
        with hub.db.session() as session:
            session.execute(update(Delivery).where(Delivery.id.in_(again), Delivery.status == states.SENDING,
                                                   Delivery.lease_until < now)
                            .values(failures=Delivery.failures + 1))
        done["lease_expired"] += _release(hub, "lease_expired", (Delivery.status == states.SENDING,
                                                                 Delivery.lease_until < now),
                                          from_state=states.SENDING, ids=again)


def _waiting(hub, done: Counter) -> None:
    with hub.db.read() as session:
        waiting = dict(session.execute(select(Delivery.endpoint, func.count()).where(
            Delivery.status == states.WAITING).group_by(Delivery.endpoint)).all())
    if not waiting:
        return
    circuits = DatabaseCircuits(hub.db).all()
    now = time.time()
    for endpoint in waiting:
        try:
            policy = hub.routes.endpoint(endpoint).circuit
        except KeyError:
            continue  # an endpoint removed from the routes: its deliveries wait for an operator
        circuit = circuits.get(endpoint)
        where = (Delivery.status == states.WAITING, Delivery.endpoint == endpoint)
        if circuit is None or circuit.state == "closed":
            done["circuit_closed"] += _release(hub, "circuit_closed", where, from_state=states.WAITING)
        elif circuit.down_since is not None and now - circuit.down_since > policy.max_outage:
            done["endpoint_unavailable"] += _park_waiting(hub, endpoint, circuit.describe(policy, now),
                                                          policy.max_outage)
        elif circuit.state == "open" and now >= (circuit.next_probe_at(policy) or 0.0):
            done["probe"] += _release(hub, "probe", where, from_state=states.WAITING, limit=1, once=True)


def _park_waiting(hub, endpoint: str, circuit: str, max_outage: float) -> int:
    """Dead-letter every delivery waiting for an endpoint down longer than its max_outage."""
    error = (f"endpoint {endpoint} unavailable for longer than max_outage ({timedelta(seconds=max_outage)}): "
             f"circuit {circuit}")
    parked = 0
    while True:
        with hub.db.read() as session:
            batch = session.execute(select(Delivery.id, Delivery.message_id).where(
                Delivery.status == states.WAITING, Delivery.endpoint == endpoint).limit(100)).all()
        if not batch:
            return parked
        for delivery_id, message_id in batch:
            parked += _park_one(hub, delivery_id, message_id, endpoint, from_state=states.WAITING,
                                reason="endpoint_unavailable", error=error)


def _park_one(hub, delivery_id: str, message_id: str, endpoint: str, *, from_state: str, reason: str,
              error: str) -> int:
    """Dead-letter one delivery if it is still in ``from_state``. Returns 1 if it was."""
    with changing(hub, [message_id]) as session:
        claimed = session.execute(update(Delivery).where(Delivery.id == delivery_id, Delivery.status == from_state)
                                  .values(status=states.DEAD_LETTERED, lease_until=None, lease_holder=None)
                                  .returning(Delivery.id)).first()
        rows = []
        if claimed is not None:
            _, rows = park(hub, session, task_name=f"hub.deliver.{endpoint}", task_args=[delivery_id],
                           message_id=message_id, delivery_id=delivery_id, reason=reason, error=error)
    publish_rows(hub, rows)
    return int(claimed is not None)


def _blocked(hub, done: Counter) -> None:
    with hub.db.read() as session:
        blocked = session.execute(select(
            Delivery.id, Delivery.message_id, Delivery.route, Delivery.endpoint, Delivery.seq, Delivery.document_key,
            Delivery.received_at).where(Delivery.status == states.BLOCKED)
            .order_by(Delivery.received_at, Delivery.message_id, Delivery.seq).limit(BATCH)).all()
    free = [row.id for row in blocked if ordering.blocker(hub, row) is None]
    if free:
        done["unblocked"] += _release(hub, "unblocked", (Delivery.status == states.BLOCKED,),
                                      from_state=states.BLOCKED, ids=free)

