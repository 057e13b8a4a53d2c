"""One business document across messages (``hub.documents.trail``): a PO number from the order
the hub sent (850/ORDERS) and the partner's functional acknowledgement of it (997/999/CONTRL,
from the interchange log), through the supplier's acknowledgement (855/ORDRSP), ship notice
(856/DESADV), the goods receipt, to the invoice (810/INVOIC) — each with its message, route,
sender and where it was delivered, or that it waits in the review queue.

Why the ladder at the top: "where is this order?" is answered at a glance by which steps exist;
the table below says exactly where each document went.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select
from starlette.responses import Response

from hub.console.apimodels import READ, ops_router
from hub.console.auth import Viewer, api_viewer, page_viewer
from hub.console.web import render, state
from hub.documents import TrailEntry, trail

router = APIRouter(include_in_schema=False)
api = ops_router("document trail")
STEPS = (("purchase_order", "PO (850 / ORDERS)"), ("functional_ack", "997 / CONTRL"),
         ("purchase_order_ack", "PO ack (855 / ORDRSP)"), ("ship_notice", "Ship notice (856 / DESADV)"),
         ("goods_receipt", "Receipt"), ("invoice", "Invoice (810 / INVOIC)"))


def functional_acks(db, entries: list[TrailEntry]) -> list[dict[str, Any]]:
    """The acks partners returned for the interchanges that carried the trail's orders."""
    from edi.common.interchanges import OUTBOUND, InterchangeRecord

    sent = {e.message_id for e in entries if e.document_type == "purchase_order"}
    if not sent:
        return []
    with db.read() as session:
        rows = session.scalars(select(InterchangeRecord).where(InterchangeRecord.message_id.in_(sent),
                                                               InterchangeRecord.direction == OUTBOUND))
        return [{"message_id": r.message_id, "standard": r.standard, "control_number": r.control_number,
                 "ack_expected": r.ack_expected, "ack_status": r.ack_status, "ack_received_at": r.ack_received_at,
                 "ack_message_id": r.ack_message_id} for r in rows]


def ladder(entries: list[TrailEntry], acks: list[dict[str, Any]]) -> list[dict[str, str]]:
    seen: dict[str, str] = {}
    for e in entries:
        if e.document_type:
            seen[e.document_type] = "held" if e.status == "held" and seen.get(e.document_type) != "seen" else "seen"
    if any(a["ack_status"] for a in acks):
        seen["functional_ack"] = "seen"
    return [{"step": step, "label": label, "state": seen.get(step, "")} for step, label in STEPS]


def load(db, number: str) -> dict[str, Any]:
    entries = trail(db, number)
    acks = functional_acks(db, entries)
    return {"number": number, "entries": entries, "acks": acks, "ladder": ladder(entries, acks)}


@router.get("/trail")
async def trail_page(request: Request, viewer: Viewer = Depends(page_viewer)) -> Response:
    number = request.query_params.get("number", "").strip()[:256]
    data = await run_in_threadpool(load, state(request).hub.db, number) if number else None
    return render(request, "trail.html", number=number, data=data)


@api.get("/documents/{number}/trail", summary="Every document carrying a PO, ASN, invoice or receipt number",
         operation_id="opsTrail", responses=READ)
async def trail_api(request: Request, number: str = Path(min_length=1, max_length=256),
                    viewer: Viewer = Depends(api_viewer)) -> dict[str, Any]:
    data = await run_in_threadpool(load, state(request).hub.db, number)
    return {"number": number, "ladder": data["ladder"],
            "documents": [{**asdict(e), "at": e.at.isoformat()} for e in data["entries"]],
            "functional_acks": [{**a, "ack_received_at": a["ack_received_at"].isoformat()
                                 if a["ack_received_at"] else None} for a in data["acks"]]}
