"""Searching messages page by page: the filters of ``hub.operations.messages`` (status, route,
partner, time range, file name glob, business key), keyset paging, and a total.

Why keyset paging: ``OFFSET 50000`` makes the database read and throw away fifty thousand rows;
a cursor — the (received_at, id) of the last row shown — lets page 1,000 cost what page 1
costs, on the index the order uses. Why a capped total: an exact ``count(*)`` over millions of
matches reads them all; counting up to ``count_cap`` (10,000) and saying "more than 10,000"
beyond answers a broad search as fast as a narrow one, and nobody pages through ten thousand
messages by hand — they narrow the search.

A cursor is ``<received_at ISO 8601>~<message id>``; ``before`` pages to older messages,
``after`` to newer ones.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import Select, func, select, tuple_, union

from hub.operations.messages import MessageFilter, MessageSummary, route_criteria, statement, summarise
from hub.store import Message

SEPARATOR = "~"


class BadCursor(ValueError):
    pass


@dataclass
class Page:
    rows: list[MessageSummary]
    total: int
    capped: bool  # more than ``total`` match
    older: str | None  # cursor of the next page (older messages)
    newer: str | None  # cursor of the previous page (newer messages)


def cursor(msg: Message | MessageSummary) -> str:
    received = msg.received_at
    ident = msg.id if isinstance(msg, Message) else msg.message_id
    return f"{received.isoformat()}{SEPARATOR}{ident}"


def parse_cursor(text: str) -> tuple[datetime, str]:
    when, sep, ident = text.partition(SEPARATOR)
    try:
        at = datetime.fromisoformat(when)
    except ValueError:
        raise BadCursor(f"not a page cursor: {text[:80]!r}") from None
    if not sep or not ident or at.tzinfo is None or len(ident) > 64:
        raise BadCursor(f"not a page cursor: {text[:80]!r}")
    return at, ident


def branches(query: MessageFilter) -> list[Select]:
    """The search as one select, or (route filter) one per way a message belongs to the route:
    each alone is a plan the database gets right (walk the newest messages and probe, or fetch
    the route's few and sort); their OR is not."""
    if not query.route:
        return [statement(query)]
    base = statement(replace(query, route=None))
    return [base.where(criterion) for criterion in route_criteria(query.route)]


def search(hub, query: MessageFilter, *, before: str | None = None, after: str | None = None,
           count_cap: int = 10_000) -> Page:
    """One page of ``query.limit`` messages, newest first, and the (capped) number matching."""
    selects = branches(query)
    key = tuple_(Message.received_at, Message.id)
    pages = []
    for base in selects:
        page = base
        if before:
            page = page.where(key < tuple_(*parse_cursor(before)))
        elif after:
            # Newer rows, nearest first, then shown newest first like every page.
            page = page.where(key > tuple_(*parse_cursor(after))).order_by(None).order_by(
                Message.received_at.asc(), Message.id.asc())
        pages.append(page.limit(query.limit + 1))
    capped_ids = [s.with_only_columns(Message.id).order_by(None).limit(count_cap + 1).subquery() for s in selects]
    matching = union(*[select(sub.c.id) for sub in capped_ids]) if len(capped_ids) > 1 else select(capped_ids[0].c.id)
    with hub.db.read() as session:
        found = {m.id: m for page in pages for m in session.scalars(page)}
        matched = session.scalar(select(func.count()).select_from(matching.subquery())) or 0
    rows = sorted(found.values(), key=lambda m: (m.received_at, m.id), reverse=not after)
    more = len(rows) > query.limit
    rows = rows[:query.limit]
    if after:
        rows.reverse()
    summaries = summarise(hub, rows)
    older = cursor(rows[-1]) if rows and (more or after) else None
    newer = cursor(rows[0]) if rows and (before or (after and more)) else None
    return Page(summaries, min(matched, count_cap), matched > count_cap, older, newer)
