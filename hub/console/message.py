"""One message: what came in, what the hub made of it, what it sent, and what happened on the way.

The trace as a timeline (every stage with its time, +ms since receipt, route/endpoint, detail
and error; delivery attempts with the endpoint's answer; replays); the raw bytes, the canonical
documents and each delivery's payload side by side (``hub.console.payloads``: EDI a segment a
line with positions, JSON and XML indented); acknowledgements sent (997/999/TA1/CONTRL
deliveries) and received (the interchange log); its dead letters and business exceptions; the
versions an edit made. Operators act from here, each action asking for a reason: replay its
parked dead letters, re-run it through its routes, discard its letters, or edit the payload and
resubmit it as a new version (``hub.operations.edits``).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import or_, select
from starlette.responses import Response

from hub.console import actions
from hub.console.apicalls import call
from hub.console.apimodels import ACT, ONE, Done, Reasoned, ResubmitAction, ops_router
from hub.console.auth import ApiRefused, Viewer, api_viewer, needs, page_viewer
from hub.console.forms import act
from hub.console.payloads import show
from hub.console.web import render, state
from hub.operations import messages as ops
from hub.operations.trace import trace
from hub.store import DeadLetter, Delivery, Replay

router = APIRouter(include_in_schema=False)
api = ops_router("messages")
ACK_TYPES = ("997", "999", "TA1", "CONTRL")
MESSAGE_ID = Path(pattern=r"^[A-Za-z0-9-]{1,64}$", description="A message id")


def detail(hub, message_id: str) -> dict[str, Any]:
    """Everything the page and ``GET /api/v1/ops/messages/{id}`` show (KeyError when unknown)."""
    from edi.common.interchanges import InterchangeRecord
    from hub.review import ExceptionFilter, list_exceptions

    msg, lines, attempts, replays = trace(hub, message_id)
    (summary,) = ops.summarise(hub, [msg])
    with hub.db.read() as session:
        deliveries = list(session.scalars(select(Delivery).where(Delivery.message_id == message_id)
                                          .order_by(Delivery.endpoint, Delivery.seq)))
        letters = list(session.scalars(select(DeadLetter).where(DeadLetter.message_id == message_id)
                                       .order_by(DeadLetter.created_at)))
        interchanges = list(session.scalars(select(InterchangeRecord).where(or_(
            InterchangeRecord.message_id == message_id, InterchangeRecord.ack_message_id == message_id))
            .order_by(InterchangeRecord.at)))
        versions = list(session.scalars(select(Replay.target).where(Replay.message_id == message_id,
                                                                    Replay.target.like("edited:%"))))
    exceptions = list_exceptions(hub.db, ExceptionFilter(status=None, message_id=message_id, limit=500))
    return {"message": msg, "summary": summary, "trace": lines, "attempts": attempts, "replays": replays,
            "deliveries": deliveries, "letters": letters, "exceptions": exceptions, "interchanges": interchanges,
            "acks_sent": [d for d in deliveries if d.document_type in ACK_TYPES],
            "edited_from": (msg.headers or {}).get("hub_edited_from"),
            "versions": [v.split(":", 1)[1] for v in versions]}


def payloads(hub, message_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """The three panes: raw, canonical, sent."""
    msg = data["message"]
    raw = hub.store.raw(msg)
    canonical = ops.canonical(hub, message_id)
    return {
        "raw": show(raw, None, msg.format),
        "raw_text": _editable(raw),
        "canonical": [{**{k: v for k, v in doc.items() if k != "document"},
                       "shown": show(json.dumps(doc["document"]).encode(), "application/json")} for doc in canonical],
        "sent": [{"delivery": d, "shown": show(d.payload, d.content_type)} for d in data["deliveries"]],
    }


def _editable(raw: bytes) -> str | None:
    """The raw bytes as text for the edit box, when they are text (UTF-8)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


@router.get("/messages/{message_id}")
async def message_page(request: Request, message_id: str, viewer: Viewer = Depends(page_viewer)) -> Response:
    hub = state(request).hub
    try:
        data = await run_in_threadpool(detail, hub, message_id)
        panes = await run_in_threadpool(payloads, hub, message_id, data)
    except KeyError:
        return render(request, "error.html", status=404, title="No such message",
                      error=f"no message with id {message_id}")
    parked = [dl.id for dl in data["letters"] if dl.state == "parked"]
    return render(request, "message.html", d=data, panes=panes, parked=parked)


@router.get("/messages/{message_id}/raw")
async def message_raw(request: Request, message_id: str, viewer: Viewer = Depends(page_viewer)) -> Response:
    """The stored bytes as a download: never rendered by the browser."""
    try:
        data = await run_in_threadpool(ops.raw, state(request).hub, message_id)
    except KeyError:
        return render(request, "error.html", status=404, title="No such message", error=f"no message {message_id}")
    return _download(data, f"{message_id}.raw")


@router.get("/messages/{message_id}/deliveries/{delivery_id}")
async def delivery_payload(request: Request, message_id: str, delivery_id: str,
                           viewer: Viewer = Depends(page_viewer)) -> Response:
    hub = state(request).hub

    def load() -> bytes | None:
        with hub.db.read() as session:
            d = session.get(Delivery, delivery_id)
            return d.payload if d is not None and d.message_id == message_id else None

    data = await run_in_threadpool(load)
    if data is None:
        return render(request, "error.html", status=404, title="No such delivery", error=f"no delivery {delivery_id}")
    return _download(data, f"{delivery_id}.payload")


def _download(data: bytes, name: str) -> Response:
    return Response(data, media_type="application/octet-stream", headers={
        "Content-Disposition": f'attachment; filename="{name}"', "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store", "Content-Security-Policy": "default-src 'none'; sandbox"})


# -- actions (pages) ---------------------------------------------------------------------------

def _parked_of(hub, message_id: str) -> list[str]:
    with hub.db.read() as session:
        return list(session.scalars(select(DeadLetter.id).where(DeadLetter.message_id == message_id,
                                                                DeadLetter.state == "parked")))


def _letters_or_refuse(hub, message_id: str) -> list[str]:
    ids = _parked_of(hub, message_id)
    if not ids:
        raise ValueError(f"message {message_id} has no parked dead letters (re-run it through its routes instead)")
    return ids


def _replay(hub, ctx, message_id: str, reason: str) -> str:
    done = actions.replay_letters(hub, ctx, _letters_or_refuse(hub, message_id), reason)
    return f"replayed {len(done)} dead letter(s) of this message"


def _discard(hub, ctx, message_id: str, reason: str) -> str:
    done = actions.discard_letters(hub, ctx, _letters_or_refuse(hub, message_id), reason)
    return f"discarded {len(done)} dead letter(s) of this message"


def _rerun(hub, ctx, message_id: str, reason: str) -> str:
    actions.rerun_messages(hub, ctx, [message_id], reason)
    return "re-ran the message through its routes"


PAGE_ACTIONS = {"replay": _replay, "discard": _discard, "rerun": _rerun}


@router.post("/messages/{message_id}/{action}")
async def message_action_page(request: Request, message_id: str, action: str,
                              viewer: Viewer = Depends(page_viewer)) -> Response:
    """Replay or discard the message's parked letters, or re-run it; each with a reason."""
    needs(viewer, "operator")
    hub = state(request).hub
    if action == "resubmit":
        return await resubmit_page(request, message_id, viewer)
    do = PAGE_ACTIONS.get(action)
    if do is None:
        return render(request, "error.html", status=404, title="No such action", error=f"no action {action!r}")
    return await act(request, viewer, f"/messages/{message_id}",
                     lambda form, ctx: do(hub, ctx, message_id, form.get("reason")))


async def resubmit_page(request: Request, message_id: str, viewer: Viewer) -> Response:
    """A corrected payload from the edit box, stored as a new version (the page then shows it)."""
    hub = state(request).hub
    from hub.console.forms import back

    def work(form, ctx):
        # Browsers send a textarea's line breaks as CRLF; the payload keeps the original's.
        payload = form.get("payload")
        if "\r\n" not in (_editable(ops.raw(hub, message_id)) or ""):
            payload = payload.replace("\r\n", "\n")
        edited = actions.resubmit(hub, ctx, message_id, payload.encode("utf-8"), form.get("reason"),
                                  allow_resend=form.flag("allow_resend"))
        return back(request, viewer, f"/messages/{edited.message_id}",
                    f"stored version {edited.version} of {message_id} as this message"
                    + (f"; superseded dead letter(s) discarded: {len(edited.superseded_letters)}"
                       if edited.superseded_letters else ""))

    return await act(request, viewer, f"/messages/{message_id}", work)


# -- the operations API ------------------------------------------------------------------------

def _trace_json(data: dict[str, Any]) -> dict[str, Any]:
    msg = data["message"]
    return {
        **data["summary"].as_json(), "size": msg.size, "sha256": msg.sha256, "headers": msg.headers or {},
        "edited_from": data["edited_from"], "versions": data["versions"],
        "trace": [{**asdict(line), "at": line.at.isoformat()} for line in data["trace"]],
        "attempts": [{"delivery_id": a.delivery_id, "attempt": a.attempt, "started_at": a.started_at.isoformat(),
                      "outcome": a.outcome, "status_code": a.status_code, "error": a.error} for a in data["attempts"]],
        "replays": [{"at": r.at.isoformat(), "by": r.by, "target": r.target, "reason": r.reason}
                    for r in data["replays"]],
        "deliveries": [{"id": d.id, "endpoint": d.endpoint, "seq": d.seq, "document_type": d.document_type,
                        "document_key": d.document_key, "status": d.status, "content_type": d.content_type,
                        "idempotency_key": d.idempotency_key} for d in data["deliveries"]],
        "dead_letters": [{"id": dl.id, "queue": dl.queue, "reason": dl.reason, "state": dl.state, "error": dl.error}
                         for dl in data["letters"]],
        "exceptions": [{"id": e.id, "kind": e.kind, "status": e.status, "document_key": e.document_key}
                       for e in data["exceptions"]],
        "acks_sent": [{"delivery_id": d.id, "kind": d.document_type, "control_number": d.document_key,
                       "status": d.status} for d in data["acks_sent"]],
        "interchanges": [{"standard": i.standard, "direction": i.direction, "control_number": i.control_number,
                          "ack_expected": i.ack_expected, "ack_status": i.ack_status,
                          "ack_received_at": i.ack_received_at.isoformat() if i.ack_received_at else None,
                          "ack_message_id": i.ack_message_id} for i in data["interchanges"]],
    }


async def _detail_or_404(request: Request, message_id: str) -> dict[str, Any]:
    try:
        return await run_in_threadpool(detail, state(request).hub, message_id)
    except KeyError:
        raise ApiRefused(404, f"no message {message_id}") from None


@api.get("/messages/{message_id}", summary="One message: status, trace, attempts, deliveries, letters, acks",
         operation_id="opsMessage", responses=ONE)
async def message_api(request: Request, message_id: str = MESSAGE_ID,
                      viewer: Viewer = Depends(api_viewer)) -> dict[str, Any]:
    return _trace_json(await _detail_or_404(request, message_id))


@api.get("/messages/{message_id}/raw", summary="The stored bytes, exactly as received", operation_id="opsMessageRaw",
         response_class=Response, responses={
             **{k: {**v, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}
                for k, v in ((s, {"description": r["description"]}) for s, r in ONE.items())},
             200: {"description": "The raw bytes", "content": {"application/octet-stream": {}}}})
async def message_raw_api(request: Request, message_id: str = MESSAGE_ID,
                          viewer: Viewer = Depends(api_viewer)) -> Response:
    try:
        data = await run_in_threadpool(ops.raw, state(request).hub, message_id)
    except KeyError:
        raise ApiRefused(404, f"no message {message_id}") from None
    return _download(data, f"{message_id}.raw")


@api.get("/messages/{message_id}/canonical", summary="The canonical documents the routes made of it",
         operation_id="opsMessageCanonical", responses=ONE)
async def message_canonical_api(request: Request, message_id: str = MESSAGE_ID,
                                viewer: Viewer = Depends(api_viewer)) -> list[dict[str, Any]]:
    try:
        return await run_in_threadpool(ops.canonical, state(request).hub, message_id)
    except KeyError:
        raise ApiRefused(404, f"no message {message_id}") from None


@api.get("/messages/{message_id}/sent/{endpoint}", summary="Exactly what was sent to one endpoint",
         operation_id="opsMessageSent", responses=ONE)
async def message_sent_api(request: Request, message_id: str = MESSAGE_ID,
                           endpoint: str = Path(pattern=r"^[A-Za-z0-9._-]{1,128}$"),
                           viewer: Viewer = Depends(api_viewer)) -> list[dict[str, Any]]:
    try:
        rows = await run_in_threadpool(ops.sent, state(request).hub, message_id, endpoint)
    except KeyError as exc:
        raise ApiRefused(404, str(exc.args[0])) from None
    return [{"id": d.id, "seq": d.seq, "content_type": d.content_type, "status": d.status,
             "idempotency_key": d.idempotency_key, "payload": d.payload.decode("utf-8", errors="replace")}
            for d in rows]


@api.post("/messages/{message_id}/replay", summary="Replay the message's parked dead letters",
          operation_id="opsMessageReplay", responses=ACT, response_model=Done)
async def replay_api(request: Request, body: Reasoned, message_id: str = MESSAGE_ID,
                     viewer: Viewer = Depends(api_viewer)) -> Done:
    hub = state(request).hub
    done = await call(request, viewer, lambda ctx: actions.replay_letters(
        hub, ctx, _letters_or_refuse(hub, message_id) if _exists(hub, message_id) else [], body.reason))
    return Done(done=done)


@api.post("/messages/{message_id}/rerun", summary="Run the message through its routes again",
          operation_id="opsMessageRerun", responses=ACT, response_model=Done)
async def rerun_api(request: Request, body: Reasoned, message_id: str = MESSAGE_ID,
                    viewer: Viewer = Depends(api_viewer)) -> Done:
    hub = state(request).hub
    done = await call(request, viewer, lambda ctx: actions.rerun_messages(hub, ctx, [message_id], body.reason))
    return Done(done=done)


@api.post("/messages/{message_id}/discard", summary="Discard the message's parked dead letters",
          operation_id="opsMessageDiscard", responses=ACT, response_model=Done)
async def discard_api(request: Request, body: Reasoned, message_id: str = MESSAGE_ID,
                      viewer: Viewer = Depends(api_viewer)) -> Done:
    hub = state(request).hub
    done = await call(request, viewer, lambda ctx: actions.discard_letters(
        hub, ctx, _letters_or_refuse(hub, message_id) if _exists(hub, message_id) else [], body.reason))
    return Done(done=done)


@api.post("/messages/{message_id}/resubmit", summary="Store a corrected payload as a new version and route it",
          operation_id="opsMessageResubmit", responses=ACT, response_model=Done)
async def resubmit_api(request: Request, body: ResubmitAction, message_id: str = MESSAGE_ID,
                       viewer: Viewer = Depends(api_viewer)) -> Done:
    hub = state(request).hub
    edited = await call(request, viewer, lambda ctx: actions.resubmit(
        hub, ctx, message_id, body.payload.encode("utf-8"), body.reason, allow_resend=body.allow_resend))
    return Done(done=[edited.message_id], detail={"original_id": edited.original_id, "version": edited.version,
                                                  "superseded_letters": edited.superseded_letters})


def _exists(hub, message_id: str) -> bool:
    ops.get(hub, message_id)  # KeyError → 404
    return True
