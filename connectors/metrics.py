"""Prometheus metrics computed from the store at scrape time, so every process (API, workers,
pollers) reports the same numbers and nothing is lost when a process restarts.

- ``hub_messages_ingested_total{format, channel}``: messages stored;
- ``hub_deliveries_delivered_total{endpoint}``: deliveries an endpoint took;
- ``hub_delivery_attempts_failed_total{endpoint, outcome}``: calls answered retry, unavailable or reject;
- ``hub_dead_letters_total{reason}`` and ``hub_dead_letters_parked{queue}``;
- ``hub_outbox_pending`` and ``hub_outbox_oldest_pending_seconds``: how far publishing lags
  behind the database (the outbox sync lag; grows while the broker is away);
- ``hub_security_events_total{kind}``: refused inbound attempts;
- ``hub_messages{status}``: messages by their derived status (hub.store.status);
- ``hub_deliveries_unsettled{endpoint, state}``: deliveries sending, retrying, waiting for an
  endpoint that is down, or blocked behind an earlier document;
- ``hub_endpoint_circuit_open{endpoint}`` (1 open or half-open, 0 closed) and
  ``hub_endpoint_circuit_open_seconds{endpoint}``: how long an endpoint has been down.

Each scrape runs a handful of ``COUNT ... GROUP BY`` queries over indexed columns.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy import func, select

from connectors.security import SecurityEvent
from hub.db import Database
from hub.delivery import states
from hub.delivery.circuit import EndpointCircuit
from hub.store import DeadLetter, Delivery, DeliveryAttempt, Message, OutboxEntry, utcnow


class StoreCollector:
    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[Metric]:
        with self.db.session() as session:
            def grouped(*columns, where=None, join=None):
                query = select(*columns, func.count())
                if join is not None:
                    query = query.join(*join)
                if where is not None:
                    query = query.where(where)
                return session.execute(query.group_by(*columns)).all()

            yield _family(CounterMetricFamily, "hub_messages_ingested", "Messages stored by the hub",
                          ["format", "channel"], grouped(Message.format, Message.channel))
            yield _family(CounterMetricFamily, "hub_deliveries_delivered", "Deliveries an endpoint took", ["endpoint"],
                          grouped(Delivery.endpoint, where=Delivery.status == "delivered"))
            yield _family(CounterMetricFamily, "hub_delivery_attempts_failed", "Endpoint calls that did not deliver (retry, unavailable, reject)",
                          ["endpoint", "outcome"],
                          grouped(Delivery.endpoint, DeliveryAttempt.outcome, where=DeliveryAttempt.outcome != "delivered",
                                  join=(Delivery, Delivery.id == DeliveryAttempt.delivery_id)))
            yield _family(CounterMetricFamily, "hub_dead_letters", "Messages dead-lettered", ["reason"],
                          grouped(DeadLetter.reason))
            yield _family(GaugeMetricFamily, "hub_dead_letters_parked", "Dead letters waiting for a replay", ["queue"],
                          grouped(DeadLetter.queue, where=DeadLetter.state == "parked"))
            yield _family(CounterMetricFamily, "hub_security_events", "Refused inbound attempts", ["kind"],
                          grouped(SecurityEvent.kind))
            yield _family(GaugeMetricFamily, "hub_messages", "Messages by derived status", ["status"],
                          grouped(Message.status))
            yield _family(GaugeMetricFamily, "hub_deliveries_unsettled", "Deliveries not settled yet",
                          ["endpoint", "state"], grouped(Delivery.endpoint, Delivery.status,
                                                         where=Delivery.status.in_(states.UNSETTLED)))
            yield from _circuits(session)
            pending, oldest = session.execute(select(func.count(), func.min(OutboxEntry.created_at))
                                              .where(OutboxEntry.published_at.is_(None))).one()
            yield GaugeMetricFamily("hub_outbox_pending", "Committed broker messages not yet published",
                                    value=pending)
            lag = (utcnow() - _aware(oldest)).total_seconds() if oldest is not None else 0.0
            yield GaugeMetricFamily("hub_outbox_oldest_pending_seconds",
                                    "Age of the oldest unpublished outbox row (publishing lag)", value=max(0.0, lag))


def _circuits(session) -> Iterator[Metric]:
    now = time.time()
    open_ = GaugeMetricFamily("hub_endpoint_circuit_open", "1 while an endpoint's circuit is open", labels=["endpoint"])
    age = GaugeMetricFamily("hub_endpoint_circuit_open_seconds", "How long an endpoint has been down",
                            labels=["endpoint"])
    for row in session.scalars(select(EndpointCircuit)):
        down = row.state != "closed"
        open_.add_metric([row.endpoint], 1 if down else 0)
        age.add_metric([row.endpoint], max(0.0, now - row.down_since) if down and row.down_since else 0.0)
    yield open_
    yield age


def _family(cls, name: str, doc: str, labels: list[str], rows) -> Metric:
    family = cls(name, doc, labels=labels)
    for *values, count in rows:
        family.add_metric([str(v) for v in values], count)
    return family


def _aware(value):
    from datetime import UTC

    return value if value.tzinfo else value.replace(tzinfo=UTC)  # SQLite aggregates come back naive


def render_metrics(db: Database) -> tuple[bytes, str]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(db))
    return generate_latest(registry), CONTENT_TYPE_LATEST
