"""The overview: is everything flowing, and what needs a person now.

Traffic per hour (messages in, documents delivered), per route and per partner over the last
hours; dead-letter depths by queue and reason; open exceptions by kind; acknowledgements
(``connectors.edi_out.overdue_acks``) and business answers (``hub.documents.overdue_answers``)
partners owe past their window; endpoint circuits that are open; database, broker and worker
health. It refreshes itself (htmx, every 15 s) so it can stay open on a wall screen.

Why grouped counts in SQL over a bounded window: the store holds millions of messages; the
page must cost the same whatever its size, so every query is a GROUP BY over an indexed time
range (``received_at``, ``finished_at``, ``delivered_at``) or over the small sets of parked
letters and open exceptions.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import func, literal_column, select
from starlette.responses import Response

from hub.console import charts, health
from hub.console.apimodels import READ, ops_router
from hub.console.auth import Viewer, api_viewer, page_viewer
from hub.console.web import render, state
from hub.store import DeadLetter, Delivery, Message, RouteRun, utcnow

router = APIRouter(include_in_schema=False)
api = ops_router("overview")
TOP = 10


def _hour(db, column):
    """The hour of a timestamp as 'YYYY-MM-DD HH:00' (UTC) in SQL, per backend."""
    if db.is_sqlite:
        return func.strftime("%Y-%m-%d %H:00", column)
    return func.to_char(func.date_trunc("hour", column.op("AT TIME ZONE")(literal_column("'UTC'"))),
                        "YYYY-MM-DD HH24:00")


def _grouped(session, key, where, limit: int | None = None) -> list[tuple[str, int]]:
    count = func.count().label("n")
    query = select(key, count).where(where).group_by(key).order_by(count.desc())
    if limit:
        query = query.limit(limit)
    return [(str(k) if k is not None else "-", int(n)) for k, n in session.execute(query)]


def traffic(hub, hours: int) -> dict[str, Any]:
    since = utcnow() - timedelta(hours=hours)
    db = hub.db
    with db.read() as session:
        hour_in = _hour(db, Message.received_at)
        hour_out = _hour(db, Delivery.delivered_at)
        into = dict(session.execute(select(hour_in, func.count()).where(Message.received_at >= since)
                                    .group_by(hour_in)).all())
        out = dict(session.execute(select(hour_out, func.count()).where(Delivery.delivered_at >= since)
                                   .group_by(hour_out)).all())
        by_partner = _grouped(session, Message.sender, Message.received_at >= since, TOP)
        by_route = _grouped(session, RouteRun.route, RouteRun.finished_at >= since)
        by_endpoint = _grouped(session, Delivery.endpoint, Delivery.delivered_at >= since)
    start = since.replace(minute=0, second=0, microsecond=0)
    buckets = []
    for n in range(hours + 1):
        label = (start + timedelta(hours=n)).strftime("%Y-%m-%d %H:00")
        buckets.append((label, int(into.get(label, 0)), int(out.get(label, 0))))
    return {"hours": hours, "since": since, "buckets": buckets, "by_partner": by_partner, "by_route": by_route,
            "by_endpoint": by_endpoint}


def attention(hub) -> dict[str, Any]:
    """What waits for a person: parked letters, open exceptions, overdue acks and answers, circuits."""
    from connectors.edi_out import overdue_acks
    from hub.business_exceptions import BusinessException
    from hub.delivery.circuit import DatabaseCircuits
    from hub.documents import overdue_answers

    with hub.db.read() as session:
        letters = session.execute(select(DeadLetter.queue, DeadLetter.reason, func.count())
                                  .where(DeadLetter.state == "parked")
                                  .group_by(DeadLetter.queue, DeadLetter.reason)
                                  .order_by(DeadLetter.queue, DeadLetter.reason)).all()
        held = session.execute(select(BusinessException.kind, BusinessException.severity, func.count())
                               .where(BusinessException.status == "open")
                               .group_by(BusinessException.kind, BusinessException.severity)
                               .order_by(func.count().desc())).all()
    now = time.time()
    circuits = []
    for endpoint, circuit in sorted(DatabaseCircuits(hub.db).all().items()):
        if circuit.state == "closed":
            continue
        try:
            described = circuit.describe(hub.routes.endpoint(endpoint).circuit, now)
        except KeyError:
            described = circuit.state
        circuits.append({"endpoint": endpoint, "state": circuit.state, "describe": described,
                         "last_error": circuit.last_error})
    return {"letters": [{"queue": q, "reason": r, "count": n} for q, r, n in letters],
            "held": [{"kind": k, "severity": s, "count": n} for k, s, n in held],
            "overdue_acks": overdue_acks(hub.db), "overdue_answers": overdue_answers(hub.db), "circuits": circuits}


def gather(hub, hours: int, in_process_worker: bool) -> dict[str, Any]:
    return {"traffic": traffic(hub, hours), **attention(hub), "health": health.check(hub, in_process_worker),
            "at": utcnow()}


def _hours(value: str | None) -> int:
    try:
        return min(168, max(1, int(value or 24)))
    except ValueError:
        return 24


@router.get("/")
async def overview_page(request: Request, viewer: Viewer = Depends(page_viewer)) -> Response:
    st = state(request)
    hours = _hours(request.query_params.get("hours"))
    data = await run_in_threadpool(gather, st.hub, hours, st.in_process_worker)
    t = data["traffic"]
    return render(request, "overview.html", data=data, hours=hours,
                  hourly=charts.hourly(t["buckets"]), partners_chart=charts.bars(t["by_partner"]),
                  routes_chart=charts.bars(t["by_route"]), endpoints_chart=charts.bars(t["by_endpoint"]),
                  letters_chart=charts.bars([(f"{r['queue']} · {r['reason']}", r["count"]) for r in data["letters"]]))


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


@api.get("/overview", summary="Traffic, dead-letter depths, held exceptions, overdue acks and answers, circuits, "
                              "health", operation_id="opsOverview", responses=READ)
async def overview_api(request: Request, hours: int = Query(24, ge=1, le=168, description="Window, hours"),
                       viewer: Viewer = Depends(api_viewer)) -> dict[str, Any]:
    st = state(request)
    return _jsonable(await run_in_threadpool(gather, st.hub, hours, st.in_process_worker))
