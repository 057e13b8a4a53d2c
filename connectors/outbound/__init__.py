"""Outbound connectors: deliver one rendered payload to one endpoint and classify the answer.

Classification (the same for every kind):
- delivered: the endpoint took it (HTTP 2xx, file renamed into place);
- retry: it may work later (HTTP 408, 429, 5xx, connection errors, timeouts, I/O errors);
- reject: it never will (any other HTTP 4xx: a business reject) → dead letter, no retries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

Outcome = Literal["delivered", "retry", "reject"]

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
    def send(self, payload: Payload) -> DeliveryResult: ...


def sender_for(name: str, endpoint, db=None) -> Sender:
    """The sender for an endpoint. With the hub's database, HTTP limits and circuit breakers
    are shared by every process (``connectors.outbound.guards``); without, per process."""
    if endpoint.http is not None:
        from connectors.outbound.guards import DatabaseGuards, LocalGuards
        from connectors.outbound.http import HttpSender

        return HttpSender(name, endpoint.http, DatabaseGuards(db) if db is not None else LocalGuards())
    if endpoint.file is not None:
        from connectors.outbound.file import FileSender

        return FileSender(name, endpoint.file)
    if endpoint.sftp is not None:
        from connectors.outbound.sftp import SftpSender

        return SftpSender(name, endpoint.sftp)
    raise ValueError(f"endpoint {name!r} has no supported kind")
