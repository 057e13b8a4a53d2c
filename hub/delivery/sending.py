"""What the delivery core asks of an outbound connector, and how it finds one.

Why here: the core decides retries, circuits and dead letters from a connector's answer, so
the answer's vocabulary belongs to the core; connectors implement it and register a factory
per endpoint kind (``http``, ``file``, ``sftp``) when their plugin is imported. The core never
imports a connector.

Outcomes, the same for every kind:
- ``delivered``: the endpoint took the document (HTTP 2xx, file renamed into place);
- ``retry``: the endpoint is up but failed *this* document (HTTP 500, 501, 505+, 408): it
  spends one of the document's retries;
- ``unavailable``: the endpoint is down (connection refused/reset, timeout, DNS, TLS, HTTP
  502/503/504/429, an unreachable folder or SFTP server): the endpoint's circuit counts it and
  the document waits without spending a retry;
- ``busy``: not sent because of a local limit (concurrency slot, rate limit): tried again
  shortly, nothing counted;
- ``reject``: it never will (any other 4xx: a business reject) → dead letter, no retries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Outcome = Literal["delivered", "retry", "unavailable", "busy", "reject"]

MAX_RESPONSE = 4000  # characters of an endpoint's answer kept in the store


@dataclass
class Payload:
    delivery_id: str
    message_id: str
    route: str
    endpoint: str
    seq: int
    body: bytes
    content_type: str
    idempotency_key: str
    document_type: str | None = None
    document_key: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class DeliveryResult:
    outcome: Outcome
    status_code: int | None = None
    response: str | None = None
    error: str | None = None
    retry_after: float | None = None  # seconds the endpoint asked us to wait (Retry-After)
    called: bool = True  # False when nothing reached the endpoint (a local limit, missing credentials)
    batch: int = 0  # documents in the call that carried this one (an endpoint with ``batch:``); 0 alone

    def summary(self) -> str:
        parts = [self.outcome]
        if self.status_code is not None:
            parts.append(f"HTTP {self.status_code}")
        if self.error:
            parts.append(self.error)
        elif self.response:
            parts.append(self.response[:300])
        return ": ".join(parts)


class Sender(Protocol):
    """``send`` delivers one document. A kind that can carry many documents in one call also has
    ``send_batch(payloads, policy, payload_format) -> list[DeliveryResult]`` (one result per
    payload, in order), used for endpoints that declare ``batch:``."""

    def send(self, payload: Payload) -> DeliveryResult: ...


# kind → factory(endpoint name, kind config, database or None) → Sender
SenderFactory = Callable[[str, Any, Any], Sender]
SENDER_FACTORIES: dict[str, SenderFactory] = {}


def sender_kind(kind: str) -> Callable[[SenderFactory], SenderFactory]:
    """Register the factory of an endpoint kind (used by ``connectors.outbound``)."""

    def register(factory: SenderFactory) -> SenderFactory:
        SENDER_FACTORIES[kind] = factory
        return factory

    return register


def sender_for(name: str, endpoint, db=None) -> Sender:
    """The sender of an endpoint. With the hub's database, shared limits (HTTP rate limits,
    concurrency caps) hold across every process; without, per process."""
    from hub.registry import load_plugins

    load_plugins()
    factory = SENDER_FACTORIES.get(endpoint.kind)
    if factory is None:
        raise ValueError(f"endpoint {name!r}: no connector is registered for kind {endpoint.kind!r}")
    return factory(name, getattr(endpoint, endpoint.kind), db)
