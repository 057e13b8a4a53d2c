"""Dead letters for operations: list them by queue, reason and time, and act on them — replay
or discard, one by one or in bulk by the same filter.

Why a filter for bulk actions: after an outage or a fixed mapping, the letters to act on are
"everything the ERP queue parked with reason X since 9:00", not a list of ids typed by hand.
Every action is recorded with who, when and why (``hub.deadletters``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select

from hub import deadletters
from hub.store import DeadLetter

# Every reason a letter can carry (docs/operations.md explains each).
REASONS = {
    "retries_exhausted": "the document failed at the endpoint (or in a step) as often as the policy allows",
    "rejected_by_endpoint": "the endpoint refused the document with a 4xx business answer",
    "endpoint_unavailable": "the endpoint was down for longer than its circuit's max_outage",
    "worker_lost": "a worker process died HUB_DELIVERY_LIMIT times while sending it (embedded default too)",
    "delivery_limit": "RabbitMQ dead-lettered it: a worker process died on every delivery (quorum queue limit)",
    "rejected": "RabbitMQ dead-lettered it after a worker rejected it (an unexpected task failure)",
    "render_error": "a route output could not be rendered in the endpoint's format",
}


@dataclass
class LetterFilter:
    state: str | None = "parked"  # parked, replayed, discarded; None = all
    queue: str | None = None  # a DLQ name, or a route / endpoint name
    reason_code: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    message_id: str | None = None
    limit: int | None = None


def find(hub, f: LetterFilter) -> list[DeadLetter]:
    q = select(DeadLetter).order_by(DeadLetter.created_at)
    if f.state:
        q = q.where(DeadLetter.state == f.state)
    if f.queue:
        q = q.where(or_(DeadLetter.queue == f.queue, DeadLetter.endpoint == f.queue,
                        (DeadLetter.route == f.queue) & DeadLetter.endpoint.is_(None)))
    if f.reason_code:
        q = q.where(DeadLetter.reason == f.reason_code)
    if f.since:
        q = q.where(DeadLetter.created_at >= f.since)
    if f.until:
        q = q.where(DeadLetter.created_at < f.until)
    if f.message_id:
        q = q.where(DeadLetter.message_id == f.message_id)
    if f.limit:
        q = q.limit(f.limit)
    with hub.db.read() as session:
        return list(session.scalars(q))


def as_json(dl: DeadLetter) -> dict[str, Any]:
    return {"id": dl.id, "queue": dl.queue, "route": dl.route, "endpoint": dl.endpoint, "reason": dl.reason,
            "error": dl.error, "message_id": dl.message_id, "delivery_id": dl.delivery_id,
            "parked_at": dl.created_at.isoformat(), "state": dl.state,
            "closed_at": dl.closed_at.isoformat() if dl.closed_at else None, "closed_by": dl.closed_by,
            "closed_reason": dl.closed_reason}


def in_batches(ids: list[str], size: int = 1000) -> Iterator[list[str]]:
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def act(hub, ids: list[str], action: str, *, by: str, why: str,
        progress: Callable[[int], None] | None = None) -> list[str]:
    """Replay or discard these dead letters, in batches (one pass over each DLQ and one
    transaction each), reporting progress after every batch. Letters another operator closed
    meanwhile are left out, not an error."""
    do = {"replay": deadletters.replay_dead_letters, "discard": deadletters.discard_dead_letters}[action]
    done = []
    for batch in in_batches(ids):
        done += do(hub, batch, by=by, why=why, strict=False)
        if progress:
            progress(len(batch))
    return done
