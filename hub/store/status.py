"""A message's status, derived from what happened to it — never set by hand.

Why: a status that each component overwrites tells whoever wrote last, not the truth. A fast
worker's ``delivered`` was overwritten by the ingest's later ``published``; a message read
``delivered`` while a delivery was still retrying, when every document was held for review,
and when its interchange was refused as a duplicate. Here the status is computed from the
message's route runs, documents, deliveries and dead letters, inside the transaction that
changed one of them, after locking the message row: two workers finishing the two deliveries
of one message at the same moment cannot both compute from a stale view.

The vocabulary (docs/operations.md):

- ``received``: stored, not yet on the broker (the relay will publish it);
- ``routing``: on the broker; a route that takes it has not finished;
- ``delivering``: routes ran; some deliveries are not settled yet (sending, retrying after a
  failure, waiting for an endpoint that is down, or queued behind an earlier document);
- ``delivered``: every document and every answer the routes made was delivered;
- ``partially_delivered``: some documents were delivered, others were held, refused,
  dead-lettered or discarded;
- ``held``: nothing delivered; documents wait in the review queue;
- ``dead_lettered``: nothing delivered; the message or its deliveries wait in a dead-letter
  queue for an operator;
- ``refused``: nothing delivered; its interchanges or documents were refused (duplicate,
  unknown partner, test/production mismatch, unsupported document ...); an acknowledgement
  sent back about it does not make it delivered;
- ``unrouted``: no route takes it;
- ``processed``: the routes ran and made nothing to deliver (everything filtered, or an
  acknowledgement that only updated the hub's records);
- ``discarded``: nothing delivered; an operator closed its dead letters without delivery.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import (ARRAY, Integer, String, any_, bindparam, case, cast, func, literal, null, select, union_all,
                        update)
from sqlalchemy.orm import Session

from hub.broker.topology import ingress_key
from hub.delivery import states
from hub.store import among
from hub.store.models import DeadLetter, Delivery, Message, RouteRun, Stage

RECEIVED, ROUTING, DELIVERING, DELIVERED = "received", "routing", "delivering", "delivered"
PARTIALLY_DELIVERED, HELD, DEAD_LETTERED, REFUSED = "partially_delivered", "held", "dead_lettered", "refused"
UNROUTED, PROCESSED, DISCARDED = "unrouted", "processed", "discarded"
STATUSES = (RECEIVED, ROUTING, DELIVERING, DELIVERED, PARTIALLY_DELIVERED, HELD, DEAD_LETTERED, REFUSED, UNROUTED,
            PROCESSED, DISCARDED)

SETTLED = (*states.SETTLED, "failed")  # "failed": a business reject recorded before revision 0005

# (routing key, published at) → names of the routes a message with that key, published then, is
# copied to (Topology.routes_for: not by a binding a reload added later)
RoutesFor = Callable[[str, datetime | None], set[str]]


@dataclass
class RunFacts:
    status: str
    documents: int = 0
    held: int = 0
    refused: int = 0


@dataclass
class Facts:
    """Everything the status depends on, read in one place."""

    status: str | None = None  # what the message says now
    published: bool = False
    unrouted: bool = False
    expected_routes: set[str] | None = None  # None: unknown (no topology at hand)
    runs: dict[str, RunFacts] = field(default_factory=dict)
    route_letters: dict[str, str] = field(default_factory=dict)  # route → parked/replayed/discarded
    deliveries: Counter = field(default_factory=Counter)  # (status, is_side_output) → count


def derive(f: Facts) -> str:
    letters_open = {r for r, s in f.route_letters.items() if s == "parked"}
    letters_closed = {r for r, s in f.route_letters.items() if s == "discarded"}
    if not f.runs and not f.route_letters:
        if f.unrouted:
            return UNROUTED
        if not f.published:
            return RECEIVED
        return ROUTING
    if f.expected_routes and f.expected_routes - set(f.runs) - letters_open - letters_closed:
        return ROUTING
    if any(n and status not in SETTLED for (status, _side), n in f.deliveries.items()):
        return DELIVERING
    delivered_docs = sum(n for (status, side), n in f.deliveries.items() if status == states.DELIVERED and not side)
    documents = sum(n for (_status, side), n in f.deliveries.items() if not side)
    parked = len(letters_open) + sum(n for (status, _side), n in f.deliveries.items() if status == "dead_lettered")
    discarded = len(letters_closed) + sum(n for (status, _s), n in f.deliveries.items() if status in ("discarded", "failed"))
    held = sum(r.held for r in f.runs.values())
    refused = sum(r.refused for r in f.runs.values())
    if not (parked or discarded or held or refused):
        return DELIVERED if documents else PROCESSED
    if delivered_docs:
        return PARTIALLY_DELIVERED
    for count, status in ((parked, DEAD_LETTERED), (held, HELD), (refused, REFUSED)):
        if count:
            return status
    return DISCARDED


# -- reading the facts, writing the status -------------------------------------------------------

def lock(session: Session, message_ids: Iterable[str]) -> None:
    """Take the message rows' locks (in id order, so two transactions never wait on each other
    in a circle) before changing anything the status depends on. ``FOR NO KEY UPDATE``: it
    serialises status refreshes, yet lets other transactions insert rows that reference the
    message (a stage, a delivery: their foreign key takes ``KEY SHARE``), so a transaction that
    locked a delivery first and then adds a stage never waits on one holding the message.
    SQLite serialises writers already (BEGIN IMMEDIATE), so this is a PostgreSQL matter."""
    ids = sorted(set(message_ids))
    if ids and session.bind.dialect.name != "sqlite":
        session.execute(select(Message.id).where(among(session, Message.id, ids)).order_by(Message.id)
                        .with_for_update(key_share=True))


def facts(session: Session, message_ids: list[str], routes_for: RoutesFor | None) -> dict[str, Facts]:
    """Everything the statuses of these messages depend on, in one round trip: the five reads
    (message, published/unrouted marks, route runs, route dead letters, delivery counts) go as
    one UNION ALL, each branch tagged with its kind. Every transaction that changes a message
    runs this, so it is on the hot path (docs/backbone.md, "Where a document's time goes")."""
    out: dict[str, Facts] = {}
    letters: list[tuple] = []
    dialect = session.get_bind().dialect.name
    if dialect not in _FACTS:
        _FACTS[dialect] = _facts_query(dialect)
    rows = session.execute(_FACTS[dialect], {"ids": list(message_ids)}).all()
    keys: dict[str, str] = {}
    published_at: dict[str, datetime] = {}
    for kind, message_id, a, b, c, d, n1, n2, n3, at in rows:
        if kind == "m":
            out[message_id] = Facts(status=d)
            keys[message_id] = ingress_key(a, b, c)
    for kind, message_id, a, b, _c, _d, n1, n2, n3, at in rows:
        f = out.get(message_id)
        if f is None or kind == "m":
            continue
        if kind == "s":
            f.published = f.published or a == "published"
            f.unrouted = f.unrouted or a == "unrouted"
            if a == "published":  # ``at``: its latest publish to the ingress exchange
                published_at[message_id] = at
        elif kind == "r":
            f.runs[a] = RunFacts(b, n1 or 0, n2 or 0, n3 or 0)
        elif kind == "l":
            letters.append((at, message_id, a, b))
        else:
            f.deliveries[(a, bool(n1))] += n2
    for _at, message_id, route, state in sorted(letters, key=lambda row: row[0]):
        out[message_id].route_letters[route or ""] = state  # the newest letter of a route wins
    if routes_for is not None:
        # The routes the broker copied it to: not one a reload bound after it was published.
        # Not yet marked published (it is being published now): every route bound now.
        for message_id, f in out.items():
            f.expected_routes = routes_for(keys[message_id], published_at.get(message_id))
    return out


_FACTS: dict[str, object] = {}  # dialect name → the facts query, built once


def _facts_query(dialect: str):
    """Named columns, not entities: migration 0005 runs this on databases of its own revision.
    Built once per dialect with the ids as one parameter (``ids``): building the five-branch
    query for every transaction was 8 % of a route batch's CPU. On PostgreSQL the ids go as an
    array (``= ANY``), so the text is the same for any number of messages and psycopg neither
    parses it again nor is it sent unprepared (hub.store.among)."""
    if dialect == "postgresql":
        ids = any_(bindparam("ids", type_=ARRAY(String)))

        def of_ids(column):
            return column == ids
    else:
        def of_ids(column):
            return column.in_(bindparam("ids", expanding=True))

    def text_(value=None):
        return cast(null(), String) if value is None else value

    def int_(value=None):
        return cast(null(), Integer) if value is None else value

    def branch(kind: str, message_id, a=None, b=None, c=None, d=None, n1=None, n2=None, n3=None, at=None):
        return select(literal(kind, String).label("kind"), message_id.label("message_id"), text_(a).label("a"),
                      text_(b).label("b"), text_(c).label("c"), text_(d).label("d"), int_(n1).label("n1"),
                      int_(n2).label("n2"), int_(n3).label("n3"),
                      (cast(null(), DeadLetter.created_at.type) if at is None else at).label("at"))

    side = case((Delivery.seq >= states.SIDE_SEQ, 1), else_=0)
    return union_all(
        branch("m", Message.id, Message.format, Message.doctype, Message.sender, Message.status,
               at=Message.received_at).where(of_ids(Message.id)),
        branch("s", Stage.message_id, Stage.stage, at=func.max(Stage.at))
        .where(of_ids(Stage.message_id), Stage.stage.in_(("published", "unrouted")))
        .group_by(Stage.message_id, Stage.stage),
        branch("r", RouteRun.message_id, RouteRun.route, RouteRun.status, n1=RouteRun.documents, n2=RouteRun.held,
               n3=RouteRun.refused).where(of_ids(RouteRun.message_id)),
        branch("l", DeadLetter.message_id, DeadLetter.route, DeadLetter.state, at=DeadLetter.created_at)
        .where(of_ids(DeadLetter.message_id), DeadLetter.delivery_id.is_(None)),
        branch("d", Delivery.message_id, Delivery.status, n1=side, n2=func.count())
        .where(of_ids(Delivery.message_id)).group_by(Delivery.message_id, Delivery.status, side),
    )


def refresh(session: Session, message_ids: Iterable[str], routes_for: RoutesFor | None) -> dict[str, str]:
    """Recompute and store the status of these messages (their rows locked by ``lock`` earlier
    in the same transaction). Returns message id → status."""
    ids = sorted(set(message_ids))
    if not ids:
        return {}
    known = facts(session, ids, routes_for)
    derived = {message_id: derive(f) for message_id, f in known.items()}
    changed: dict[str, list[str]] = {}
    for message_id, status in derived.items():
        if known[message_id].status != status:
            changed.setdefault(status, []).append(message_id)
    for status, changed_ids in changed.items():  # one statement per new status, not per message
        session.execute(update(Message).where(among(session, Message.id, changed_ids)).values(status=status))
    return derived


def routes_for_hub(hub) -> RoutesFor | None:
    """The hub's ``Topology.routes_for``, or None when its routes cannot be loaded here."""
    try:
        return hub.topology.routes_for
    except Exception:  # noqa: BLE001 - a CLI process with broken route files still shows statuses
        return None


@contextmanager
def changing(hub, message_ids: Iterable[str]) -> Iterator[Session]:
    """A transaction that changes what these messages' statuses depend on: their rows are
    locked first, and their statuses recomputed just before the commit."""
    ids = sorted({i for i in message_ids if i})
    with hub.db.session() as session:
        lock(session, ids)
        yield session
        session.flush()
        refresh(session, ids, routes_for_hub(hub))
