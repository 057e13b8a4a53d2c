"""The transactional outbox: publish what the database says must be published.

Work is committed first, together with an outbox row per broker message it implies. Right
after the commit the writer publishes those rows (fast path) and marks them. Whatever is
still unpublished after a crash or a broker outage is republished by the relay, which
sweeps rows older than ``relay_grace`` seconds. Consumers are idempotent, so the rare double
publish (fast path and relay racing) is harmless. A row may also be *delayed* (``publish_after``):
the relay publishes it when its time comes — that is how a route's retry waits, in the store
rather than in a worker's memory or a broker-side delay queue.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from hub.broker.publisher import OutMessage, Outcome
from hub.store import OutboxEntry, Stage, among, insert_rows, status, utcnow

log = logging.getLogger(__name__)


def entry_for(message: OutMessage, *, purpose: str, message_id: str, delivery_id: str | None = None,
              publish_after: datetime | None = None) -> OutboxEntry:
    return OutboxEntry(
        publish_after=publish_after,
        message_id=message_id,
        delivery_id=delivery_id,
        purpose=purpose,
        exchange=message.exchange,
        routing_key=message.routing_key,
        headers=message.headers,
        properties={**message.properties, "content_type": message.content_type,
                    "content_encoding": message.content_encoding},
        body=message.body,
        created_at=utcnow(),
    )


_NEW_ENTRY_COLUMNS = ("publish_after", "message_id", "delivery_id", "purpose", "exchange", "routing_key", "headers",
                      "properties", "body", "created_at")


def add_entries(session: Session, entries: Sequence[OutboxEntry]) -> None:
    """Write new outbox rows in one statement per batch (hub.store.insert_rows) and give each
    entry its id: what ``session.add_all`` and a flush do, without the ORM's per-row work. The
    entries stay outside the session; ``publish_rows`` and ``mark`` need only their values and ids."""
    if not entries:
        return
    ids = insert_rows(session, OutboxEntry, [{c: getattr(e, c) for c in _NEW_ENTRY_COLUMNS} for e in entries], ids=True)
    for entry, entry_id in zip(entries, ids, strict=True):
        entry.id = entry_id


def as_message(row: OutboxEntry) -> OutMessage:
    props = dict(row.properties)
    content_type = props.pop("content_type", "application/json")
    content_encoding = props.pop("content_encoding", "utf-8")
    return OutMessage(row.exchange, row.routing_key, row.body, dict(row.headers), props, content_type, content_encoding)


def mark(hub, session: Session, rows: Sequence[OutboxEntry], outcomes: Sequence[Outcome]) -> None:
    """Record publish results: published rows get a timestamp (and ingress rows a stage, which
    moves their messages' derived status to routing or unrouted); failed rows keep waiting for
    the relay, with the attempt counted. Outbox rows first, then the messages' locks: the relay
    holds its outbox rows before it gets here, so both orders agree and never deadlock."""
    now = utcnow()
    done = [r.id for r, o in zip(rows, outcomes, strict=True) if o in (Outcome.CONFIRMED, Outcome.RETURNED)]
    failed = [r.id for r, o in zip(rows, outcomes, strict=True) if o not in (Outcome.CONFIRMED, Outcome.RETURNED)]
    if done:
        session.execute(update(OutboxEntry).where(among(session, OutboxEntry.id, done)).values(published_at=now))
    if failed:
        session.execute(update(OutboxEntry).where(among(session, OutboxEntry.id, failed))
                        .values(attempts=OutboxEntry.attempts + 1, last_error="broker unavailable or publish not confirmed"))
    ingress = [r.message_id for r, o in zip(rows, outcomes, strict=True)
               if r.purpose == "ingress" and o in (Outcome.CONFIRMED, Outcome.RETURNED)]
    if not ingress:
        return
    status.lock(session, ingress)
    stages = [
        {"message_id": row.message_id, "stage": "published" if outcome is Outcome.CONFIRMED else "unrouted", "at": now,
         "detail": {"routing_key": row.routing_key},
         "error": None if outcome is Outcome.CONFIRMED else "no route matches this message"}
        for row, outcome in zip(rows, outcomes, strict=True)
        if row.purpose == "ingress" and outcome in (Outcome.CONFIRMED, Outcome.RETURNED)]
    insert_rows(session, Stage, stages)
    status.refresh(session, ingress, status.routes_for_hub(hub))


def publish_rows(hub, rows: Sequence[OutboxEntry]) -> list[Outcome]:
    """Publish committed outbox rows and record the results (the fast path)."""
    if not rows:
        return []
    outcomes = hub.publisher().publish_many([as_message(r) for r in rows])
    try:
        with hub.db.session() as session:
            mark(hub, session, rows, outcomes)
    except SQLAlchemyError as exc:
        # The work is committed and published; only the bookkeeping failed (the database went
        # away, a deadlock victim). The relay publishes the rows again later — consumers are
        # idempotent — so the caller, who may owe its sender an answer, is not told "failed".
        log.warning("publish results not recorded (%s); the relay will publish those rows again",
                    type(exc).__name__)
    return outcomes


def relay_once(hub, batch: int = 500) -> int:
    """Publish outbox rows left unpublished for longer than the grace period. Returns how many
    were published. Safe to run in several processes: rows are claimed with SKIP LOCKED on
    PostgreSQL (SQLite serialises writers)."""
    now = utcnow()
    cutoff = now - timedelta(seconds=hub.settings.relay_grace)
    due = or_(and_(OutboxEntry.publish_after.is_(None), OutboxEntry.created_at < cutoff),
              OutboxEntry.publish_after <= now)  # a delayed publish goes out when its time comes
    published = 0
    while True:
        with hub.db.session() as session:
            query = (select(OutboxEntry).where(OutboxEntry.published_at.is_(None), due)
                     .order_by(OutboxEntry.id).limit(batch))
            if not hub.db.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            rows = list(session.scalars(query))
            if not rows:
                return published
            outcomes = hub.publisher().publish_many([as_message(r) for r in rows])
            mark(hub, session, rows, outcomes)
        ok = sum(o in (Outcome.CONFIRMED, Outcome.RETURNED) for o in outcomes)
        published += ok
        if ok < len(rows):
            return published  # the broker is still away; try again next sweep


class Relay(threading.Thread):
    """Background relay loop (in ``hub run`` and in every worker)."""

    def __init__(self, hub, interval: float | None = None) -> None:
        super().__init__(name="outbox-relay", daemon=True)
        self.hub = hub
        self.interval = hub.settings.relay_interval if interval is None else interval
        self.stopping = threading.Event()
        self.after_sweep: list = []  # extra periodic jobs (dead-letter reconciliation)

    def run(self) -> None:
        while not self.stopping.wait(self.interval):
            try:
                n = relay_once(self.hub)
                if n:
                    log.info("outbox relay republished %d message(s)", n)
                for job in self.after_sweep:
                    job()
            except Exception:  # noqa: BLE001 - the relay must survive a database or broker outage
                log.exception("outbox relay sweep failed; retrying in %.1fs", self.interval)

    def stop(self) -> None:
        self.stopping.set()
