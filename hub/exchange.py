"""The unit of work that flows through a route's steps (Camel calls it an Exchange).

A step receives one exchange and returns zero (filtered), one, or many (split) exchanges.
``body`` starts as the raw bytes of the inbound message and is replaced by parsed rows,
canonical documents, rendered EDI ... as the steps run.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


# Set on an exchange whose documents come from a partner in testing (the test lane): its
# deliveries go to each endpoint's ``test_endpoint``, never to the production endpoint
# (hub.processing). Set by ``ack: auto`` for test interchanges of such a partner and by the API
# for its posts.
TEST_HEADER = "hub_test"


@dataclass
class SideOutput:
    endpoint: str
    body: bytes
    content_type: str
    document_type: str | None = None
    document_key: str | None = None


@dataclass
class Exchange:
    message_id: str
    body: Any
    format: str
    doctype: str
    sender: str
    headers: dict[str, Any] = field(default_factory=dict)
    receiver: str | None = None
    filename: str | None = None
    received_at: datetime | None = None
    # Where a split part came from, e.g. [3] for the fourth part, [3, 0] after a nested split.
    part: tuple[int, ...] = ()
    # Warnings collected by steps (recovered EDI defects, ...); recorded on the message's trace.
    warnings: list[str] = field(default_factory=list)
    # Business exceptions raised by steps (unknown item ...), recorded in the store.
    exceptions: list[dict[str, Any]] = field(default_factory=list)
    # Set by a step that holds the document for review: it is not delivered.
    held: bool = False
    # Extra documents for endpoints other than the route's `to` (e.g. a 997 going back to the
    # sender through the partner's endpoint). The engine turns each into a delivery.
    side_outputs: list[SideOutput] = field(default_factory=list)

    def derive(self, body: Any, *, part: int | None = None, **changes: Any) -> Exchange:
        """A copy with a new body (and optionally a split index appended)."""
        new = copy.copy(self)
        new.body = body
        new.headers = dict(self.headers)
        new.warnings = list(self.warnings)
        new.exceptions = list(self.exceptions)
        new.side_outputs = []  # side outputs stay with the exchange that produced them
        if part is not None:
            new.part = (*self.part, part)
        for key, value in changes.items():
            setattr(new, key, value)
        return new
