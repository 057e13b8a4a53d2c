"""Finding messages and reading them: what came in, what the hub made of it, what it sent.

Why: "where is PO 4500012345?", "what did Nordmed send us this morning?", "what exactly went to
the ERP?" are the questions operations ask all day. ``find`` answers the first two with filters
that map to indexed columns (status and time, the business-key index of documents); ``raw``,
``canonical`` and ``sent`` answer the third from the store, byte for byte.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, exists, or_, select, union_all

from hub.delivery import states
from hub.delivery.circuit import DatabaseCircuits
from hub.store import DeadLetter, Delivery, DocumentRef, Message, MessageDocument, RouteRun
from hub.store.status import STATUSES


@dataclass
class MessageFilter:
    status: str | None = None
    route: str | None = None
    partner: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    file: str | None = None  # a glob: *.csv, counts-2026-11-*
    key: str | None = None  # a business number: PO, ASN, invoice, receipt
    limit: int = 50

    def check(self) -> None:
        if self.status is not None and self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r}; use one of: {', '.join(STATUSES)}")
        if self.limit < 1:
            raise ValueError("limit must be at least 1")


@dataclass
class MessageSummary:
    message_id: str
    status: str
    received_at: datetime
    format: str
    doctype: str
    partner: str
    channel: str
    filename: str | None
    routes: list[str] = field(default_factory=list)
    documents: dict[str, int] = field(default_factory=dict)  # emitted / held / refused
    deliveries: dict[str, int] = field(default_factory=dict)  # total and per state
    waiting_on: dict[str, str] = field(default_factory=dict)  # endpoint → its circuit, for waiting deliveries

    @property
    def progress(self) -> str:
        """``delivering 3/5``: documents delivered of all, while not all are settled."""
        total, done = self.deliveries.get("total", 0), self.deliveries.get(states.DELIVERED, 0)
        return f"{self.status} {done}/{total}" if self.status == "delivering" and total else self.status

    def as_json(self) -> dict[str, Any]:
        return {"message_id": self.message_id, "status": self.status, "received_at": self.received_at.isoformat(),
                "route": self.routes[0] if len(self.routes) == 1 else (self.routes or None), "routes": self.routes,
                "partner": self.partner, "format": self.format, "doctype": self.doctype, "channel": self.channel,
                "filename": self.filename, "documents": self.documents, "deliveries": self.deliveries,
                "waiting_on": self.waiting_on}


def _glob_like(pattern: str) -> str:
    """A shell glob as a LIKE pattern (``\\`` escapes LIKE's own wildcards)."""
    out = []
    for ch in pattern:
        out.append({"*": "%", "?": "_", "%": "\\%", "_": "\\_", "\\": "\\\\"}.get(ch, ch))
    return "".join(out)


def find(hub, query: MessageFilter) -> list[MessageSummary]:
    """Messages matching every given filter, newest first, at most ``limit``."""
    with hub.db.read() as session:
        rows = list(session.scalars(statement(query).limit(query.limit)))
    return summarise(hub, rows)


def statement(query: MessageFilter) -> Select:
    """The select of every message matching the filters, newest first, without a limit (the
    console pages it by keyset: hub.console.search)."""
    query.check()
    q = select(Message).order_by(Message.received_at.desc(), Message.id.desc())
    if query.status:
        q = q.where(Message.status == query.status)
    if query.since:
        q = q.where(Message.received_at >= query.since)
    if query.until:
        q = q.where(Message.received_at < query.until)
    if query.partner:
        q = q.where(Message.sender == query.partner)
    if query.file:
        q = q.where(Message.filename.like(_glob_like(query.file), escape="\\"))
    if query.route:
        q = q.where(or_(*route_criteria(query.route)))
    if query.key:
        # One set of ids from the two indexed lookups: a key names a handful of messages, so the
        # database finds them first and sorts them, instead of testing every message in turn.
        q = q.where(Message.id.in_(union_all(select(DocumentRef.message_id).where(DocumentRef.ref_value == query.key),
                                             select(Delivery.message_id).where(Delivery.document_key == query.key))))
    return q


def route_criteria(route: str) -> list:
    """A message belongs to a route when the route processed it or parked it. Kept apart so a
    search over a large store can run each as its own query (``hub.console.search``): the
    database plans an OR of the two poorly, scanning every message for a rare route."""
    return [exists().where(and_(RouteRun.message_id == Message.id, RouteRun.route == route)),
            exists().where(and_(DeadLetter.message_id == Message.id, DeadLetter.route == route))]


def summarise(hub, rows: list[Message]) -> list[MessageSummary]:
    ids = [m.id for m in rows]
    if not ids:
        return []
    runs: dict[str, list[RouteRun]] = defaultdict(list)
    counts: dict[str, Counter] = defaultdict(Counter)
    waiting: dict[str, set[str]] = defaultdict(set)
    with hub.db.read() as session:
        for run in session.scalars(select(RouteRun).where(RouteRun.message_id.in_(ids))):
            runs[run.message_id].append(run)
        for message_id, endpoint, status in session.execute(
                select(Delivery.message_id, Delivery.endpoint, Delivery.status).where(Delivery.message_id.in_(ids))):
            counts[message_id][status] += 1
            counts[message_id]["total"] += 1
            if status == states.WAITING:
                waiting[message_id].add(endpoint)
    circuits = _circuits(hub, set().union(*waiting.values())) if waiting else {}
    out = []
    for m in rows:
        done = runs.get(m.id, [])
        out.append(MessageSummary(
            m.id, m.status, m.received_at, m.format, m.doctype, m.sender, m.channel, m.filename,
            routes=sorted(r.route for r in done),
            documents={"emitted": sum(r.documents or 0 for r in done), "held": sum(r.held or 0 for r in done),
                       "refused": sum(r.refused or 0 for r in done)},
            deliveries=dict(counts.get(m.id, Counter(total=0))),
            waiting_on={e: circuits.get(e, "closed") for e in sorted(waiting.get(m.id, ()))}))
    return out


def _circuits(hub, endpoints: set[str]) -> dict[str, str]:
    """endpoint → a line about its circuit (open since …, next probe in …)."""
    now = time.time()
    out = {}
    for endpoint, circuit in DatabaseCircuits(hub.db).all().items():
        if endpoint in endpoints:
            try:
                policy = hub.routes.endpoint(endpoint).circuit
            except KeyError:
                continue
            out[endpoint] = "circuit " + circuit.describe(policy, now)
    return out


# -- reading one message -------------------------------------------------------------------------

def get(hub, message_id: str) -> Message:
    with hub.db.read() as session:
        msg = session.get(Message, message_id)
    if msg is None:
        raise KeyError(f"no message with id {message_id}")
    return msg


def raw(hub, message_id: str) -> bytes:
    """The stored bytes, exactly as received."""
    return hub.store.raw(get(hub, message_id))


def canonical(hub, message_id: str) -> list[dict[str, Any]]:
    """The documents the routes made of it (emitted and held), as JSON."""
    get(hub, message_id)
    with hub.db.read() as session:
        rows = list(session.scalars(select(MessageDocument).where(MessageDocument.message_id == message_id)
                                    .order_by(MessageDocument.route, MessageDocument.status, MessageDocument.seq)))
    out = []
    for row in rows:
        try:
            body: Any = json.loads(row.body)
        except ValueError:
            body = row.body.decode("utf-8", errors="replace")
        out.append({"route": row.route, "seq": row.seq, "status": row.status, "document_type": row.document_type,
                    "document_key": row.document_key, "document": body})
    return out


def sent(hub, message_id: str, endpoint: str) -> list[Delivery]:
    """What the hub sent (or will send) to one endpoint for this message, one row per document."""
    get(hub, message_id)
    with hub.db.read() as session:
        rows = list(session.scalars(select(Delivery).where(Delivery.message_id == message_id,
                                                           Delivery.endpoint == endpoint).order_by(Delivery.seq)))
        if not rows:
            endpoints = sorted(set(session.scalars(select(Delivery.endpoint).where(Delivery.message_id == message_id))))
            raise KeyError(f"message {message_id} has no delivery to {endpoint!r}"
                           + (f" (it has: {', '.join(endpoints)})" if endpoints else " (it has none)"))
    return rows

