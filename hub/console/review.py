"""The review queue (``hub.review``): business exceptions by kind, partner, document and status,
and resolving them with a reason — optionally re-running their messages through their routes
once the cause is fixed (a crosswalk entry added, a price corrected).

Why re-run is a choice and not the default: some exceptions are resolved by deciding (a
duplicate invoice that is indeed a duplicate: nothing to process), others by fixing master data
and processing the held document again; the operator knows which.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from hub.business_exceptions import KINDS
from hub.console import actions
from hub.console.apicalls import call
from hub.console.apimodels import ACT, ONE, READ, Done, ResolveAction, ops_router
from hub.console.auth import ApiRefused, Viewer, api_viewer, needs, page_viewer
from hub.console.forms import act
from hub.console.messages import parse_time
from hub.console.web import render, state
from hub.review import ExceptionFilter, describe, get_exception, list_exceptions

router = APIRouter(include_in_schema=False)
api = ops_router("review queue")
FIELDS = ("status", "kind", "partner", "document", "message", "since")
STATUSES = ("open", "resolved", "all")


def exception_filter(params: dict[str, str], limit: int) -> ExceptionFilter:
    status = params.get("status") or "open"
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}; use open, resolved or all")
    f = ExceptionFilter(status=None if status == "all" else status, kind=params.get("kind") or None,
                        partner_id=params.get("partner") or None, document_key=params.get("document") or None,
                        message_id=params.get("message") or None, since=parse_time(params.get("since"), "since"),
                        limit=limit)
    f.check()
    return f


@router.get("/review")
async def review_page(request: Request, viewer: Viewer = Depends(page_viewer)) -> Response:
    db = state(request).hub.db
    params = {k: request.query_params.get(k, "") for k in FIELDS}
    rows, error = [], None
    try:
        rows = await run_in_threadpool(list_exceptions, db, exception_filter(params, 500))
    except ValueError as exc:
        error = str(exc)
    return render(request, "review.html", params=params, rows=rows, error=error, kinds=sorted(KINDS),
                  statuses=STATUSES)


@router.post("/review/resolve")
async def resolve_page(request: Request, viewer: Viewer = Depends(page_viewer)) -> Response:
    needs(viewer, "operator")
    hub = state(request).hub

    def work(form, ctx) -> str:
        ids = form.all("id")
        rerun = form.flag("rerun")
        rerun_ids = actions.resolve_exceptions(hub, ctx, ids, form.get("reason"), rerun=rerun)
        return f"resolved {len(ids)} exception(s)" + (f"; re-ran {len(rerun_ids)} message(s)" if rerun_ids else "")

    return await act(request, viewer, "/review", work)


# -- the operations API ------------------------------------------------------------------------

@api.get("/exceptions", summary="Business exceptions, newest first", operation_id="opsExceptions",
         responses={**READ, 400: READ[422]})
async def exceptions_api(
    request: Request,
    status: str = Query("open", pattern="^(open|resolved|all)$"),
    kind: str | None = Query(None, max_length=64),
    partner: str | None = Query(None, max_length=128),
    document: str | None = Query(None, max_length=256, description="A document key: PO, ASN, invoice number"),
    message: str | None = Query(None, max_length=64, description="A message id"),
    since: str | None = Query(None, max_length=40),
    limit: int = Query(100, ge=1, le=1000),
    viewer: Viewer = Depends(api_viewer),
) -> list[dict[str, Any]]:
    params = {"status": status, "kind": kind or "", "partner": partner or "", "document": document or "",
              "message": message or "", "since": since or ""}
    try:
        f = exception_filter(params, limit)
    except ValueError as exc:
        raise ApiRefused(400, str(exc)) from None
    rows = await run_in_threadpool(list_exceptions, state(request).hub.db, f)
    return [describe(r) for r in rows]


@api.get("/exceptions/{exception_id}", summary="One business exception", operation_id="opsException",
         responses=ONE)
async def exception_api(request: Request, exception_id: str = Path(pattern=r"^[A-Za-z0-9-]{1,64}$"),
                        viewer: Viewer = Depends(api_viewer)) -> dict[str, Any]:
    try:
        row = await run_in_threadpool(get_exception, state(request).hub.db, exception_id)
    except KeyError as exc:
        raise ApiRefused(404, str(exc.args[0])) from None
    return describe(row)


@api.post("/exceptions/resolve", summary="Resolve exceptions (optionally re-running their messages)",
          operation_id="opsResolveExceptions", responses=ACT, response_model=Done)
async def resolve_api(request: Request, body: ResolveAction, viewer: Viewer = Depends(api_viewer)) -> Done:
    hub = state(request).hub
    rerun = await call(request, viewer, lambda ctx: actions.resolve_exceptions(hub, ctx, body.ids, body.reason,
                                                                               rerun=body.rerun))
    return Done(done=body.ids, detail={"rerun_messages": rerun})
