"""The broker topology, declared in one place.

    <ns>.ingress   topic   routing key <format>.<doctype>.<sender>
        └─ <ns>.route.<route>          one durable queue per route, bound by the route's match
    <ns>.egress    direct  routing key <endpoint>
        └─ <ns>.endpoint.<endpoint>    one durable queue per endpoint
    <ns>.dlx       direct  routing key = the DLQ's name
        ├─ <ns>.dlq.route.<route>
        └─ <ns>.dlq.endpoint.<endpoint>

On RabbitMQ, route and endpoint queues are quorum queues with a delivery limit and
dead-letter settings: a message that keeps killing workers is dead-lettered by the broker
after ``delivery_limit`` deliveries. DLQs are classic durable queues, so operators can
browse them (get + requeue) without a delivery counter ever dropping a message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property

from kombu import Exchange, Queue, binding

ROUTE = "route"
ENDPOINT = "endpoint"


def key_token(value: str | None) -> str:
    """One routing-key word: dots would split it, so they become underscores; empty is '_'."""
    value = (value or "").strip()
    return value.replace(".", "_").replace(" ", "_") or "_"


def ingress_key(fmt: str, doctype: str, sender: str) -> str:
    return ".".join(key_token(v) for v in (fmt, doctype, sender))


def topic_regex(pattern: str) -> re.Pattern[str]:
    """AMQP topic pattern → regex (our bindings use literal words, '*' and '#')."""
    words = [r"[^.]+" if w == "*" else r".*" if w == "#" else re.escape(w) for w in pattern.split(".")]
    return re.compile(r"^" + r"\.".join(words) + r"$")


@dataclass(frozen=True)
class RouteBinding:
    name: str
    keys: tuple[str, ...]  # topic patterns such as "csv.cycle_count.*"
    # When each key's binding took effect, for a key a reload (hub.reload) added to this route:
    # a message published before that was never copied here by that key. A key not in it was
    # bound before anything was recorded.
    since: Mapping[str, datetime] = field(default_factory=dict, compare=False, hash=False)

    @cached_property
    def patterns(self) -> tuple[tuple[str, re.Pattern[str]], ...]:
        return tuple((k, topic_regex(k)) for k in self.keys)

    def matches(self, routing_key: str) -> bool:
        """Would the broker copy a message with this routing key into this route's queue now?"""
        return any(p.match(routing_key) for _, p in self.patterns)

    def copied(self, routing_key: str, published_at: datetime | None) -> bool:
        """Was a message with this routing key, published to the ingress at ``published_at``,
        copied here — by a key that was bound then? (None: when is unknown, taken as yes.)"""
        if not self.since or published_at is None:
            return self.matches(routing_key)
        at = published_at if published_at.tzinfo else published_at.replace(tzinfo=UTC)
        return any(p.match(routing_key) and (key not in self.since or at >= self.since[key])
                   for key, p in self.patterns)


@dataclass
class Topology:
    namespace: str
    amqp: bool
    delivery_limit: int = 5
    routes: list[RouteBinding] = field(default_factory=list)
    endpoints: list[str] = field(default_factory=list)

    # -- exchanges -------------------------------------------------------------------------

    @property
    def ingress(self) -> Exchange:
        return Exchange(f"{self.namespace}.ingress", "topic", durable=True)

    @property
    def egress(self) -> Exchange:
        return Exchange(f"{self.namespace}.egress", "direct", durable=True)

    @property
    def dlx(self) -> Exchange:
        return Exchange(f"{self.namespace}.dlx", "direct", durable=True)

    def routes_for(self, routing_key: str, published_at: datetime | None = None) -> set[str]:
        """The routes a message with this ingress routing key is copied to (published at
        ``published_at``: not by a key a reload bound after that)."""
        return {b.name for b in self.routes if b.copied(routing_key, published_at)}

    # -- names -----------------------------------------------------------------------------

    def queue_name(self, kind: str, name: str) -> str:
        return f"{self.namespace}.{kind}.{name}"

    def dlq_name(self, kind: str, name: str) -> str:
        return f"{self.namespace}.dlq.{kind}.{name}"

    def parse_queue(self, queue: str) -> tuple[str, str] | None:
        """``<ns>.route.x`` → ("route", "x"); ``<ns>.dlq.endpoint.y`` → ("endpoint", "y")."""
        prefix = self.namespace + "."
        if not queue.startswith(prefix):
            return None
        rest = queue[len(prefix):]
        if rest.startswith("dlq."):
            rest = rest[4:]
        kind, _, name = rest.partition(".")
        return (kind, name) if kind in (ROUTE, ENDPOINT) and name else None

    # -- queues ----------------------------------------------------------------------------

    def _work_args(self, kind: str, name: str) -> dict:
        if not self.amqp:
            return {}
        return {
            "x-queue-type": "quorum",
            "x-delivery-limit": self.delivery_limit,
            "x-dead-letter-exchange": self.dlx.name,
            "x-dead-letter-routing-key": self.dlq_name(kind, name),
            # Keep a dead-lettered message until the DLQ has confirmed it (RabbitMQ ≥ 3.10).
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        }

    def route_queue(self, route: RouteBinding) -> Queue:
        return Queue(
            self.queue_name(ROUTE, route.name),
            bindings=[binding(self.ingress, routing_key=key) for key in route.keys],
            durable=True,
            queue_arguments=self._work_args(ROUTE, route.name),
        )

    def unbound_route_queue(self, name: str) -> Queue:
        """A route queue without bindings: what a worker still drains after a reload removed the
        route (declaring it again, on a reconnect, must not bind it again)."""
        return Queue(self.queue_name(ROUTE, name), durable=True, queue_arguments=self._work_args(ROUTE, name))

    def endpoint_queue(self, endpoint: str) -> Queue:
        return Queue(
            self.queue_name(ENDPOINT, endpoint),
            exchange=self.egress,
            routing_key=endpoint,
            durable=True,
            queue_arguments=self._work_args(ENDPOINT, endpoint),
        )

    def dlq(self, kind: str, name: str) -> Queue:
        dlq = self.dlq_name(kind, name)
        args = {"x-queue-type": "classic"} if self.amqp else {}
        return Queue(dlq, exchange=self.dlx, routing_key=dlq, durable=True, queue_arguments=args)

    def work_queues(self, routes: Iterable[str] | None = None, endpoints: Iterable[str] | None = None) -> list[Queue]:
        """Queues a worker consumes; all of them unless names are given."""
        wanted_r = set(routes) if routes is not None else None
        wanted_e = set(endpoints) if endpoints is not None else None
        queues = [self.route_queue(r) for r in self.routes if wanted_r is None or r.name in wanted_r]
        queues += [self.endpoint_queue(e) for e in self.endpoints if wanted_e is None or e in wanted_e]
        return queues

    def dead_letter_queues(self) -> list[Queue]:
        return [self.dlq(ROUTE, r.name) for r in self.routes] + [self.dlq(ENDPOINT, e) for e in self.endpoints]

    def declare(self, channel) -> None:
        """Declare every exchange, queue and binding (idempotent)."""
        for exchange in (self.ingress, self.egress, self.dlx):
            exchange.bind(channel).declare()
        for queue in self.dead_letter_queues() + self.work_queues():
            queue.bind(channel).declare()

    def delete(self, channel) -> None:
        """Remove every queue and exchange of this namespace (tests and benchmarks clean up)."""
        for queue in self.work_queues() + self.dead_letter_queues():
            queue.bind(channel).delete()
        for exchange in (self.ingress, self.egress, self.dlx):
            exchange.bind(channel).delete()
