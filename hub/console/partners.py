"""Partners: the registry as the store holds it, each partner's API keys and the interchanges
exchanged with it and their acknowledgement status.

Admins reload the registry from its file (``routes/partners.yaml``, the same validation as
``hub partners load``), create API keys — shown once, on the page that created them, never
again: only a hash is stored — and revoke them (at once: keys are not cached).

Why the registry is not edited in the browser: it is a reviewed file under version control,
with secrets only as environment-variable names; the console loads it, it does not fork it.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import and_, or_, select
from starlette.responses import Response

from hub.console import actions
from hub.console.apicalls import call
from hub.console.apimodels import ACT, ONE, READ, ApiKeyRequest, Done, Reasoned, Secret, ops_router
from hub.console.auth import ApiRefused, Viewer, api_viewer, needs, page_viewer
from hub.console.forms import act
from hub.console.web import render, state
from hub.partners import PartnerConfig, PartnerRegistry

router = APIRouter(include_in_schema=False)
api = ops_router("partners")
PARTNER_ID = Path(pattern=r"^[A-Za-z0-9._:-]{1,128}$")


def identities(partner: PartnerConfig) -> list[str]:
    ids = [partner.x12.isa_id] if partner.x12 else []
    ids += [partner.x12.gs_id] if partner.x12 and partner.x12.gs_id else []
    ids += [partner.edifact.unb_id] if partner.edifact else []
    return ids


def interchanges(db, partner: PartnerConfig, limit: int = 100) -> list[Any]:
    from edi.common.interchanges import INBOUND, OUTBOUND, InterchangeRecord

    ids = identities(partner)
    if not ids:
        return []
    query = (select(InterchangeRecord).where(or_(
        and_(InterchangeRecord.direction == INBOUND, InterchangeRecord.sender_id.in_(ids)),
        and_(InterchangeRecord.direction == OUTBOUND, InterchangeRecord.receiver_id.in_(ids))))
        .order_by(InterchangeRecord.at.desc()).limit(limit))
    with db.read() as session:
        return list(session.scalars(query))


def partner_detail(hub, partner_id: str) -> dict[str, Any]:
    from connectors.security import api_keys

    partner = PartnerRegistry(hub.db).by_id(partner_id)
    if partner is None:
        raise KeyError(f"no partner {partner_id!r} in the store")
    return {"partner": partner, "keys": api_keys(hub.db, partner_id), "interchanges": interchanges(hub.db, partner),
            "config": json.dumps(partner.model_dump(mode="json", exclude_none=True), indent=2, ensure_ascii=False)}


@router.get("/partners")
async def partners_page(request: Request, viewer: Viewer = Depends(page_viewer)) -> Response:
    hub = state(request).hub
    partners = await run_in_threadpool(PartnerRegistry(hub.db).all)
    return render(request, "partners.html", partners=partners, identities=identities,
                  file=hub.settings.routes_dir / "partners.yaml")


@router.get("/partners/{partner_id}")
async def partner_page(request: Request, partner_id: str, viewer: Viewer = Depends(page_viewer)) -> Response:
    try:
        data = await run_in_threadpool(partner_detail, state(request).hub, partner_id)
    except KeyError as exc:
        return render(request, "error.html", status=404, title="No such partner", error=str(exc.args[0]))
    return render(request, "partner.html", d=data, issued=None)


@router.post("/partners/reload")
async def reload_page(request: Request, viewer: Viewer = Depends(page_viewer)) -> Response:
    needs(viewer, "admin")
    hub = state(request).hub
    return await act(request, viewer, "/partners",
                     lambda form, ctx: f"loaded {actions.reload_partners(hub, ctx, form.get('reason'))} partner(s)")


@router.post("/partners/{partner_id}/keys")
async def create_key_page(request: Request, partner_id: str, viewer: Viewer = Depends(page_viewer)) -> Response:
    """The key is shown on the page this answers with, once; a reload does not show it again."""
    needs(viewer, "admin")
    hub = state(request).hub

    def work(form, ctx):
        issued = actions.create_api_key(hub, ctx, partner_id, form.get("label"))
        return render(request, "partner.html", d=partner_detail(hub, partner_id), issued=issued)

    return await act(request, viewer, f"/partners/{partner_id}", work)


@router.post("/partners/{partner_id}/keys/{key_id}/revoke")
async def revoke_key_page(request: Request, partner_id: str, key_id: str,
                          viewer: Viewer = Depends(page_viewer)) -> Response:
    needs(viewer, "admin")
    hub = state(request).hub

    def work(form, ctx) -> str:
        actions.revoke_api_key(hub, ctx, key_id, form.get("reason"))
        return f"revoked API key {key_id}"

    return await act(request, viewer, f"/partners/{partner_id}", work)


# -- the operations API ------------------------------------------------------------------------

@api.get("/partners", summary="The partner registry as the store holds it", operation_id="opsPartners",
         responses=READ)
async def partners_api(request: Request, viewer: Viewer = Depends(api_viewer)) -> list[dict[str, Any]]:
    partners = await run_in_threadpool(PartnerRegistry(state(request).hub.db).all)
    return [p.model_dump(mode="json", exclude_none=True) for p in partners]


@api.get("/partners/{partner_id}", summary="A partner with its API keys (never the keys themselves) and interchanges",
         operation_id="opsPartner", responses=ONE)
async def partner_api(request: Request, partner_id: str = PARTNER_ID,
                      viewer: Viewer = Depends(api_viewer)) -> dict[str, Any]:
    try:
        d = await run_in_threadpool(partner_detail, state(request).hub, partner_id)
    except KeyError as exc:
        raise ApiRefused(404, str(exc.args[0])) from None
    return {"partner": d["partner"].model_dump(mode="json", exclude_none=True),
            "api_keys": [{"key_id": k.key_id, "label": k.label, "created_at": k.created_at.isoformat(),
                          "created_by": k.created_by, "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
                          "last_used_at": k.last_used_at.isoformat() if k.last_used_at else None} for k in d["keys"]],
            "interchanges": [{"at": i.at.isoformat(), "standard": i.standard, "direction": i.direction,
                              "control_number": i.control_number, "message_id": i.message_id,
                              "ack_expected": i.ack_expected, "ack_status": i.ack_status,
                              "duplicate": i.duplicate} for i in d["interchanges"]]}


@api.post("/partners/reload", summary="Reload the registry from routes/partners.yaml (admin)",
          operation_id="opsReloadPartners", responses=ACT, response_model=Done)
async def reload_api(request: Request, body: Reasoned, viewer: Viewer = Depends(api_viewer)) -> Done:
    hub = state(request).hub
    n = await call(request, viewer, lambda ctx: actions.reload_partners(hub, ctx, body.reason))
    return Done(done=[str(hub.settings.routes_dir / "partners.yaml")], detail={"partners": n})


@api.post("/partners/{partner_id}/api-keys", summary="Create an API key for a partner (admin; shown once)",
          operation_id="opsCreateApiKey", responses=ACT, response_model=Secret, status_code=201)
async def create_key_api(request: Request, body: ApiKeyRequest, partner_id: str = PARTNER_ID,
                         viewer: Viewer = Depends(api_viewer)) -> Secret:
    hub = state(request).hub
    issued = await call(request, viewer, lambda ctx: actions.create_api_key(hub, ctx, partner_id, body.label))
    return Secret(id=issued.key_id, secret=issued.key, detail={"partner_id": partner_id})


@api.post("/api-keys/{key_id}/revoke", summary="Revoke a partner API key (admin)", operation_id="opsRevokeApiKey",
          responses=ACT, response_model=Done)
async def revoke_key_api(request: Request, body: Reasoned, key_id: str = Path(pattern=r"^[0-9a-f]{16}$"),
                         viewer: Viewer = Depends(api_viewer)) -> Done:
    hub = state(request).hub
    await call(request, viewer, lambda ctx: actions.revoke_api_key(hub, ctx, key_id, body.reason))
    return Done(done=[key_id])
