"""What the flow tests share: a message row for documents to hang on, a document kept by an
earlier route (stored and on the trail), a step run over a body, the review queue's rows."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from hub.business_exceptions import BusinessException
from hub.documents import ref_rows, store_document
from hub.exchange import Exchange
from hub.registry import STEPS, RouteEnv
from hub.store import DocumentRef, Message

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
_ids = itertools.count(1)


def message(session, message_id: str, at: datetime = AT) -> None:
    session.add(Message(id=message_id, received_at=at, format="json", doctype="test", sender="test", channel="test",
                        headers={}, correlation_id=message_id, sha256="0" * 64, size=0, raw=b"", status="delivered"))
    session.flush()


def keep(db, document: dict[str, Any], *, status: str = "emitted", at: datetime = AT, route: str = "earlier") -> str:
    """``document`` as an earlier route left it: stored (store_document) and on the trail."""
    message_id = f"kept-{next(_ids)}"
    with db.session() as session:
        message(session, message_id, at)
        store_document(session, document, message_id=message_id, route=route)
        session.add_all(DocumentRef(**row) for row in ref_rows(message_id, route, document, status, at))
    return message_id


def run(kind: str, db, body: Any, *, clock: datetime | None = None, message_id: str | None = None,
        **config) -> list[Exchange]:
    """One step over one body, as a route would run it (the db service; a clock if given)."""
    services: dict[str, Any] = {"db": db}
    if clock is not None:
        services["clock"] = lambda: clock
    if message_id is None:
        message_id = f"run-{next(_ids)}"
        with db.session() as session:
            message(session, message_id)
    cls = STEPS[kind]
    ex = Exchange(message_id=message_id, body=body, format="json", doctype="test", sender="test")
    return cls(cls.Config(**config), RouteEnv(route_name="flow", services=services)).process(ex)


def records(db) -> list[BusinessException]:
    with db.read() as session:
        return list(session.scalars(select(BusinessException).order_by(BusinessException.created_at,
                                                                         BusinessException.id)))
