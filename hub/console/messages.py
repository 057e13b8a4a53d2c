"""The message search page and ``GET /api/v1/ops/messages``.

Filters: business key (a PO, ASN, invoice or receipt number, or a delivery's document key),
partner (the sender), status, route, file name (a glob: ``counts-*.csv``) and a time range;
results newest first, 50 a page, with the number matching (exact up to 10,000). The results
table is replaced in place as the form changes (htmx), and the URL follows, so a search can be
bookmarked or sent to a colleague.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from hub.console.apimodels import READ, ops_router
from hub.console.auth import ApiRefused, Viewer, api_viewer, page_viewer
from hub.console.search import BadCursor, search
from hub.console.web import render, state
from hub.operations.messages import MessageFilter
from hub.store.status import STATUSES

router = APIRouter(include_in_schema=False)
api = ops_router("messages")
FIELDS = ("key", "partner", "status", "route", "file", "since", "until")


def parse_time(text: str | None, name: str) -> datetime | None:
    """A time from a form or query: ISO 8601, a date, or the browser's datetime-local; UTC
    unless it says otherwise."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{name}: {text[:40]!r} is not a date or time (YYYY-MM-DD or YYYY-MM-DDTHH:MM)") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def message_filter(params: dict[str, str], limit: int) -> MessageFilter:
    f = MessageFilter(status=params.get("status") or None, route=params.get("route") or None,
                      partner=params.get("partner") or None, file=params.get("file") or None,
                      key=(params.get("key") or "").strip() or None, limit=limit,
                      since=parse_time(params.get("since"), "since"), until=parse_time(params.get("until"), "until"))
    f.check()
    return f


@router.get("/messages")
async def messages_page(request: Request, viewer: Viewer = Depends(page_viewer)) -> Response:
    st = state(request)
    params = {k: request.query_params.get(k, "") for k in FIELDS}
    page, error = None, None
    try:
        f = message_filter(params, st.settings.page_size)
        page = await run_in_threadpool(search, st.hub, f, before=request.query_params.get("before"),
                                       after=request.query_params.get("after"), count_cap=st.settings.count_cap)
    except (ValueError, BadCursor) as exc:
        error = str(exc)
    routes = sorted(st.hub.routes.routes)
    return render(request, "messages.html", params=params, page=page, error=error, statuses=STATUSES, routes=routes)


def _row(summary) -> dict[str, Any]:
    return summary.as_json()


@api.get("/messages", summary="Search messages (keyset paging, newest first)", operation_id="opsMessages",
         responses={**READ, 400: READ[422]})
async def messages_api(
    request: Request,
    key: str | None = Query(None, max_length=256, description="A business number: PO, ASN, invoice, receipt"),
    partner: str | None = Query(None, max_length=128, description="The sender (partner id)"),
    status: str | None = Query(None, pattern="^(" + "|".join(STATUSES) + ")$"),
    route: str | None = Query(None, max_length=128),
    file: str | None = Query(None, max_length=512, description="File name glob, e.g. counts-*.csv"),
    since: datetime | None = Query(None, description="Received at or after (ISO 8601, UTC unless it says)"),
    until: datetime | None = Query(None, description="Received before"),
    limit: int = Query(50, ge=1, le=500),
    before: str | None = Query(None, max_length=120, description="Cursor: the page after this one (older)"),
    after: str | None = Query(None, max_length=120, description="Cursor: the page before this one (newer)"),
    viewer: Viewer = Depends(api_viewer),
) -> dict[str, Any]:
    st = state(request)
    f = MessageFilter(status=status, route=route, partner=partner, file=file, key=key, limit=limit,
                      since=since.replace(tzinfo=since.tzinfo or UTC) if since else None,
                      until=until.replace(tzinfo=until.tzinfo or UTC) if until else None)
    try:
        page = await run_in_threadpool(search, st.hub, f, before=before, after=after, count_cap=st.settings.count_cap)
    except (ValueError, BadCursor) as exc:
        raise ApiRefused(400, str(exc)) from None
    return {"messages": [_row(r) for r in page.rows], "total": page.total, "more_than_total": page.capped,
            "older": page.older, "newer": page.newer}
