"""Dead letters: how many wait in each queue and why, the letters themselves, and replaying or
discarding them — chosen one by one, or every letter matching a filter.

Why a counted confirmation for bulk actions: "replay everything the ERP queue parked with
retries_exhausted since 9:00" is the normal way out of an outage, and the wrong filter replays
the wrong thousand documents. The confirmation names the number of letters the filter matches
now; the action is carried out only if the same number still matches when it runs (another
operator, or the hub itself, may have changed the set meanwhile), otherwise the operator is
asked again with the new number.

The list is the store's ledger (``dead_letters``); letters RabbitMQ parked on its own are added
to it by the workers' reconciliation (``hub.deadletters.reconcile``), which ``hub dlq list``
also runs.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import func, select
from starlette.responses import Response

from hub.console import actions
from hub.console.apicalls import call
from hub.console.apimodels import ACT, READ, BulkAction, Done, IdsAction, LetterFilterBody, ops_router
from hub.console.auth import ApiRefused, Viewer, api_viewer, needs, page_viewer
from hub.console.forms import act
from hub.console.messages import parse_time
from hub.console.web import render, state
from hub.operations.letters import REASONS, LetterFilter, as_json, find
from hub.store import DeadLetter

router = APIRouter(include_in_schema=False)
api = ops_router("dead letters")
FIELDS = ("queue", "reason_code", "since", "until", "state")
STATES = ("parked", "replayed", "discarded", "all")
LIST_LIMIT = 500


def letter_filter(params: dict[str, str], limit: int | None = LIST_LIMIT) -> LetterFilter:
    state_ = params.get("state") or "parked"
    if state_ not in STATES:
        raise ValueError(f"unknown state {state_!r}; use one of: {', '.join(STATES)}")
    return LetterFilter(state=None if state_ == "all" else state_, queue=params.get("queue") or None,
                        reason_code=params.get("reason_code") or None, since=parse_time(params.get("since"), "since"),
                        until=parse_time(params.get("until"), "until"), limit=limit)


def depths(hub) -> list[dict[str, Any]]:
    with hub.db.read() as session:
        rows = session.execute(select(DeadLetter.queue, DeadLetter.reason, func.count())
                               .where(DeadLetter.state == "parked").group_by(DeadLetter.queue, DeadLetter.reason)
                               .order_by(DeadLetter.queue, DeadLetter.reason)).all()
    return [{"queue": q, "reason": r, "count": n} for q, r, n in rows]


def count(hub, f: LetterFilter) -> int:
    f.limit = None
    return len(find(hub, f))


def _params(request: Request) -> dict[str, str]:
    return {k: request.query_params.get(k, "") for k in FIELDS}


@router.get("/dead-letters")
async def letters_page(request: Request, viewer: Viewer = Depends(page_viewer)) -> Response:
    hub = state(request).hub
    params = _params(request)
    rows, error = [], None
    try:
        rows = await run_in_threadpool(find, hub, letter_filter(params, LIST_LIMIT + 1))
    except ValueError as exc:
        error = str(exc)
    summary = await run_in_threadpool(depths, hub)
    return render(request, "letters.html", params=params, rows=rows[:LIST_LIMIT], more=len(rows) > LIST_LIMIT,
                  summary=summary, error=error, reasons=REASONS, states=STATES)


@router.post("/dead-letters/act")
async def letters_act(request: Request, viewer: Viewer = Depends(page_viewer)) -> Response:
    """Replay or discard the letters ticked in the list."""
    needs(viewer, "operator")
    hub = state(request).hub

    def work(form, ctx) -> str:
        ids, action = form.all("id"), form.get("action")
        if action == "replay":
            return f"replayed {len(actions.replay_letters(hub, ctx, ids, form.get('reason')))} dead letter(s)"
        if action == "discard":
            return f"discarded {len(actions.discard_letters(hub, ctx, ids, form.get('reason')))} dead letter(s)"
        raise ValueError("choose replay or discard")

    return await act(request, viewer, "/dead-letters", work)


@router.get("/dead-letters/confirm")
async def bulk_confirm(request: Request, viewer: Viewer = Depends(page_viewer)) -> Response:
    """The confirmation of a bulk action: names the number of letters the filter matches now."""
    needs(viewer, "operator")
    params = _params(request)
    params["state"] = "parked"
    action = request.query_params.get("action", "")
    if action not in ("replay", "discard"):
        return render(request, "error.html", status=400, title="Bulk action", error="choose replay or discard")
    try:
        matched = await run_in_threadpool(count, state(request).hub, letter_filter(params, None))
    except ValueError as exc:
        return render(request, "error.html", status=400, title="Bulk action", error=str(exc))
    return render(request, "letters_confirm.html", params=params, action=action, matched=matched,
                  changed=request.query_params.get("changed"))


@router.post("/dead-letters/bulk")
async def bulk_act(request: Request, viewer: Viewer = Depends(page_viewer)) -> Response:
    needs(viewer, "operator")
    hub = state(request).hub
    from urllib.parse import urlencode

    from hub.console.forms import back

    def work(form, ctx):
        params = {k: form.get(k) for k in FIELDS}
        action = form.get("action")
        try:
            expected = int(form.get("expected"))
        except ValueError:
            raise ValueError("the confirmed count is missing") from None
        try:
            done = actions.bulk_letters(hub, ctx, action, letter_filter(params, None), form.get("reason"), expected)
        except actions.CountChanged as exc:
            query = urlencode({**{k: v for k, v in params.items() if v}, "action": action, "changed": exc.expected})
            return back(request, viewer, f"/dead-letters/confirm?{query}", str(exc), "error")
        verb = "replayed" if action == "replay" else "discarded"
        return f"{verb} {len(done)} dead letter(s)" + (
            f" ({expected - len(done)} closed meanwhile by someone else)" if len(done) < expected else "")

    return await act(request, viewer, "/dead-letters", work)


# -- the operations API ------------------------------------------------------------------------

def _body_filter(body: LetterFilterBody) -> LetterFilter:
    return letter_filter({"queue": body.queue or "", "reason_code": body.reason_code or "", "since": body.since or "",
                          "until": body.until or "", "state": "parked"}, None)


@api.get("/dead-letters", summary="Dead letters by queue, reason, time and state (oldest first)",
         operation_id="opsDeadLetters", responses={**READ, 400: READ[422]})
async def letters_api(
    request: Request,
    queue: str | None = Query(None, max_length=255, description="A DLQ name, or a route or endpoint name"),
    reason_code: str | None = Query(None, max_length=64),
    since: str | None = Query(None, max_length=40, description="ISO 8601: parked at or after"),
    until: str | None = Query(None, max_length=40, description="ISO 8601: parked before"),
    letter_state: str = Query("parked", alias="state", pattern="^(parked|replayed|discarded|all)$"),
    limit: int = Query(500, ge=1, le=10_000),
    viewer: Viewer = Depends(api_viewer),
) -> dict[str, Any]:
    hub = state(request).hub
    try:
        f = letter_filter({"queue": queue or "", "reason_code": reason_code or "", "since": since or "",
                           "until": until or "", "state": letter_state}, None)
    except ValueError as exc:
        raise ApiRefused(400, str(exc)) from None
    rows = await run_in_threadpool(find, hub, f)
    return {"count": len(rows), "dead_letters": [as_json(dl) for dl in rows[:limit]]}


@api.get("/dead-letters/queues", summary="Parked letters per queue and reason", operation_id="opsDeadLetterQueues",
         responses=READ)
async def queues_api(request: Request, viewer: Viewer = Depends(api_viewer)) -> list[dict[str, Any]]:
    return await run_in_threadpool(depths, state(request).hub)


@api.post("/dead-letters/replay", summary="Replay dead letters by id", operation_id="opsReplayDeadLetters",
          responses=ACT, response_model=Done)
async def replay_api(request: Request, body: IdsAction, viewer: Viewer = Depends(api_viewer)) -> Done:
    hub = state(request).hub
    return Done(done=await call(request, viewer, lambda ctx: actions.replay_letters(hub, ctx, body.ids, body.reason)))


@api.post("/dead-letters/discard", summary="Discard dead letters by id", operation_id="opsDiscardDeadLetters",
          responses=ACT, response_model=Done)
async def discard_api(request: Request, body: IdsAction, viewer: Viewer = Depends(api_viewer)) -> Done:
    hub = state(request).hub
    return Done(done=await call(request, viewer, lambda ctx: actions.discard_letters(hub, ctx, body.ids, body.reason)))


async def _bulk(request: Request, viewer: Viewer, action: str, body: BulkAction) -> Done:
    hub = state(request).hub

    def work(ctx):
        return actions.bulk_letters(hub, ctx, action, _body_filter(body.filter), body.reason, body.expected_count)

    done = await call(request, viewer, work)
    return Done(done=done, detail={"confirmed": body.expected_count})


@api.post("/dead-letters/bulk-replay", summary="Replay every parked letter matching a filter (counted)",
          operation_id="opsBulkReplay", responses=ACT, response_model=Done)
async def bulk_replay_api(request: Request, body: BulkAction, viewer: Viewer = Depends(api_viewer)) -> Done:
    return await _bulk(request, viewer, "replay", body)


@api.post("/dead-letters/bulk-discard", summary="Discard every parked letter matching a filter (counted)",
          operation_id="opsBulkDiscard", responses=ACT, response_model=Done)
async def bulk_discard_api(request: Request, body: BulkAction, viewer: Viewer = Depends(api_viewer)) -> Done:
    return await _bulk(request, viewer, "discard", body)
