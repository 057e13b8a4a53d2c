"""The audit trail page and ``GET /api/v1/ops/audit``: every action with who, when, how (console,
api, cli), why, what it touched and how it ended, newest first, filtered by operator, action,
channel, an id it touched, or time; paged by id (keyset).

Why viewers may read it: the trail is how a shift hands over ("who replayed the ERP queue at
3 am, and why?"); it holds reasons and ids, never payloads or secrets.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from hub.console.apimodels import READ, ops_router
from hub.console.audit import AuditFilter, as_json, entries
from hub.console.auth import ApiRefused, Viewer, api_viewer, page_viewer
from hub.console.messages import parse_time
from hub.console.web import render, state

router = APIRouter(include_in_schema=False)
api = ops_router("audit")
FIELDS = ("operator", "action", "via", "target", "since")


def audit_filter(params: dict[str, str], before: str | None, limit: int) -> AuditFilter:
    try:
        before_id = int(before) if before else None
    except ValueError:
        raise ValueError(f"not a page cursor: {before[:20]!r}") from None
    return AuditFilter(operator=params.get("operator") or None, action=params.get("action") or None,
                       via=params.get("via") or None, target=params.get("target") or None,
                       since=parse_time(params.get("since"), "since"), before_id=before_id, limit=limit)


@router.get("/audit")
async def audit_page(request: Request, viewer: Viewer = Depends(page_viewer)) -> Response:
    st = state(request)
    params = {k: request.query_params.get(k, "") for k in FIELDS}
    rows, error = [], None
    try:
        f = audit_filter(params, request.query_params.get("before"), st.settings.page_size + 1)
        rows = await run_in_threadpool(entries, st.hub.db, f)
    except ValueError as exc:
        error = str(exc)
    more = len(rows) > st.settings.page_size
    rows = rows[:st.settings.page_size]
    return render(request, "audit.html", params=params, rows=rows, error=error,
                  older=str(rows[-1].id) if rows and more else None)


@api.get("/audit", summary="The audit trail, newest first", operation_id="opsAudit",
         responses={**READ, 400: READ[422]})
async def audit_api(
    request: Request,
    operator: str | None = Query(None, max_length=128),
    action: str | None = Query(None, max_length=64),
    via: str | None = Query(None, pattern="^(console|api|cli)$"),
    target: str | None = Query(None, max_length=128, description="An id the action touched"),
    since: str | None = Query(None, max_length=40),
    before: int | None = Query(None, ge=1, description="Cursor: entries older than this id"),
    limit: int = Query(100, ge=1, le=1000),
    viewer: Viewer = Depends(api_viewer),
) -> dict[str, Any]:
    params = {"operator": operator or "", "action": action or "", "via": via or "", "target": target or "",
              "since": since or ""}
    try:
        f = audit_filter(params, str(before) if before else None, limit)
    except ValueError as exc:
        raise ApiRefused(400, str(exc)) from None
    rows = await run_in_threadpool(entries, state(request).hub.db, f)
    return {"entries": [as_json(r) for r in rows], "older": rows[-1].id if len(rows) == limit else None}
