"""Operators, managed in the browser by admins: add (a one-time password is shown once), change a
role, disable or enable, unlock after too many wrong passwords, reset a password; and every
operator's API tokens for the operations API (anyone may make and revoke their own; an admin
anyone's).

Why one-time passwords and no e-mail flow: the hub sends no mail, and a password handed over
by the admin in person (or read out on the phone) and good for one login is the usual practice
on hospital systems; the operator changes it with ``hub operators passwd`` or the admin resets it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from hub.console import actions
from hub.console.apicalls import call
from hub.console.apimodels import ACT, READ, ApiKeyRequest, Done, OperatorChange, OperatorRequest, Secret, ops_router
from hub.console.auth import Viewer, api_needs, api_viewer, needs, page_viewer
from hub.console.forms import act
from hub.console.models import ROLES
from hub.console.operators import list_operators, list_tokens
from hub.console.web import render, state
from hub.store.models import utcnow

router = APIRouter(include_in_schema=False)
api = ops_router("operators")
NAME = Path(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")


def _page(request: Request, viewer: Viewer, secret: dict[str, str] | None = None) -> Response:
    db = state(request).hub.db
    operators = list_operators(db) if viewer.may("admin") else []
    tokens = list_tokens(db, None if viewer.may("admin") else viewer.name)
    return render(request, "operators.html", operators=operators, tokens=tokens, roles=ROLES, secret=secret,
                  now=utcnow())


@router.get("/operators")
async def operators_page(request: Request, viewer: Viewer = Depends(page_viewer)) -> Response:
    return await run_in_threadpool(_page, request, viewer)


@router.post("/operators")
async def add_page(request: Request, viewer: Viewer = Depends(page_viewer)) -> Response:
    needs(viewer, "admin")
    hub = state(request).hub

    def work(form, ctx):
        name, role = form.get("name").strip().lower(), form.get("role")
        password = actions.add_operator(hub, ctx, name, role)
        return _page(request, viewer, {"what": f"one-time password of {name} ({role})", "value": password})

    return await act(request, viewer, "/operators", work)


@router.post("/operators/{name}/change")
async def change_page(request: Request, name: str, viewer: Viewer = Depends(page_viewer)) -> Response:
    needs(viewer, "admin")
    hub = state(request).hub

    def work(form, ctx):
        change = form.get("change")
        result = actions.change_operator(hub, ctx, name, change, form.get("role") or None)
        if change == "reset_password":
            return _page(request, viewer, {"what": f"new one-time password of {name}", "value": result or ""})
        return f"{name}: {change.replace('_', ' ')}" + (f" → {form.get('role')}" if change == "role" else "") + " done"

    return await act(request, viewer, "/operators", work)


@router.post("/operators/{name}/tokens")
async def token_page(request: Request, name: str, viewer: Viewer = Depends(page_viewer)) -> Response:
    hub = state(request).hub

    def work(form, ctx):
        token_id, token = actions.create_token(hub, ctx, name, form.get("label"))
        return _page(request, viewer, {"what": f"operator token {token_id} of {name}", "value": token})

    return await act(request, viewer, "/operators", work)


@router.post("/operators/tokens/{token_id}/revoke")
async def revoke_token_page(request: Request, token_id: str, viewer: Viewer = Depends(page_viewer)) -> Response:
    hub = state(request).hub

    def work(form, ctx) -> str:
        actions.revoke_token(hub, ctx, token_id)
        return f"revoked token {token_id}"

    return await act(request, viewer, "/operators", work)


# -- the operations API ------------------------------------------------------------------------

def _operator_json(op) -> dict[str, Any]:
    return {"name": op.name, "role": op.role, "created_at": op.created_at.isoformat(), "created_by": op.created_by,
            "disabled": op.disabled_at is not None, "locked_until": op.locked_until.isoformat() if op.locked_until
            else None, "failed_logins": op.failed_logins,
            "last_login_at": op.last_login_at.isoformat() if op.last_login_at else None}


@api.get("/me", summary="Who the caller is, and with which role", operation_id="opsMe", responses=READ)
async def me_api(viewer: Viewer = Depends(api_viewer)) -> dict[str, str]:
    return {"name": viewer.name, "role": viewer.role}


@api.get("/operators", summary="Operators (admin)", operation_id="opsOperators",
         responses={**READ, 403: ACT[403]})
async def operators_api(request: Request, viewer: Viewer = Depends(api_viewer)) -> list[dict[str, Any]]:
    api_needs(viewer, "admin")
    return [_operator_json(op) for op in await run_in_threadpool(list_operators, state(request).hub.db)]


@api.post("/operators", summary="Add an operator (admin); the one-time password is shown once",
          operation_id="opsAddOperator", responses=ACT, response_model=Secret, status_code=201)
async def add_api(request: Request, body: OperatorRequest, viewer: Viewer = Depends(api_viewer)) -> Secret:
    hub = state(request).hub
    password = await call(request, viewer, lambda ctx: actions.add_operator(hub, ctx, body.name, body.role))
    return Secret(id=body.name, secret=password, detail={"role": body.role})


@api.post("/operators/{name}/change", summary="Change an operator's role, disable, enable, unlock or reset the "
                                               "password (admin)", operation_id="opsChangeOperator",
          responses=ACT, response_model=Done)
async def change_api(request: Request, body: OperatorChange, name: str = NAME,
                     viewer: Viewer = Depends(api_viewer)) -> Done:
    hub = state(request).hub
    result = await call(request, viewer, lambda ctx: actions.change_operator(hub, ctx, name, body.change, body.role))
    return Done(done=[name], detail={"change": body.change, **({"password": result} if result else {})})


@api.post("/operators/{name}/tokens", summary="Create an operator token (yours, or anyone's as admin; shown once)",
          operation_id="opsCreateToken", responses=ACT, response_model=Secret, status_code=201)
async def token_api(request: Request, body: ApiKeyRequest, name: str = NAME,
                    viewer: Viewer = Depends(api_viewer)) -> Secret:
    hub = state(request).hub
    token_id, token = await call(request, viewer, lambda ctx: actions.create_token(hub, ctx, name, body.label))
    return Secret(id=token_id, secret=token, detail={"operator": name})


@api.post("/tokens/{token_id}/revoke", summary="Revoke an operator token", operation_id="opsRevokeToken",
          responses=ACT, response_model=Done)
async def revoke_token_api(request: Request, token_id: str = Path(pattern=r"^[0-9a-f]{16}$"),
                           viewer: Viewer = Depends(api_viewer)) -> Done:
    hub = state(request).hub
    await call(request, viewer, lambda ctx: actions.revoke_token(hub, ctx, token_id))
    return Done(done=[token_id])
