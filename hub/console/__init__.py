"""The operations console: a browser view of the hub for the people who run it, and the JSON
operations API behind the same actions (``/api/v1/ops/...``).

Served by the same FastAPI app as the inbound API (``hub api``, and ``hub run`` through
``hub.console.server``): ``mount(app, hub)`` adds the pages, the operations API, the static
assets and local API docs. One module per page or feature:

- ``login``: login and logout (``sessions``: server-side sessions; ``operators``: accounts,
  roles, lockout, API tokens; ``passwords``: scrypt);
- ``overview``: traffic per route and partner, dead-letter depths, held exceptions, overdue
  acknowledgements and answers, open circuits, health (``charts``: server-side SVG;
  ``health``: database, broker, workers);
- ``messages``: search (``search``: keyset paging over ``hub.operations.messages``);
- ``message``: one message — trace, payloads side by side (``payloads``), acks, actions;
- ``letters``: dead letters by queue and reason, bulk replay/discard with a counted confirmation;
- ``review``: the review queue; ``trail``: one PO from order to invoice;
- ``partners``: the registry, API keys, interchanges; ``accounts``: operators (admin);
- ``auditlog``: the audit trail (``audit``: the one function every action goes through);
- ``actions``: the actions themselves, shared by pages, API and (for auditing) the CLI;
- ``docs``: Swagger UI and ReDoc from local files.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from hub.console.web import STATIC, STATIC_URL, ConsoleState, render


def mount(app: FastAPI, hub: Any, *, in_process_worker: bool = False) -> None:
    """Add the console and the operations API to ``app`` (the inbound API's app)."""
    from hub.console import (
        accounts,
        auditlog,
        letters,
        login,
        message,
        messages,
        overview,
        partners,
        review,
        trail,
    )
    from hub.console.docs import serve_docs_locally

    app.state.console = ConsoleState(hub, in_process_worker=in_process_worker)
    _handlers(app)
    for module in (login, overview, messages, message, letters, review, trail, partners, accounts, auditlog):
        app.include_router(module.router)
        if hasattr(module, "api"):
            app.include_router(module.api)
    app.mount(STATIC_URL, StaticFiles(directory=STATIC), name="console-static")
    serve_docs_locally(app)


def _handlers(app: FastAPI) -> None:
    from hub.console.auth import ApiRefused, LoginRequired, PageForbidden

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.headers.get("hx-request") == "true":  # htmx: reload the whole page into the login
            return Response(status_code=204, headers={"HX-Redirect": "/login"})
        from urllib.parse import urlencode

        return RedirectResponse("/login" + ("?" + urlencode({"next": target}) if target != "/" else ""),
                                status_code=303)

    @app.exception_handler(PageForbidden)
    async def forbidden(request: Request, exc: PageForbidden) -> Response:
        viewer = request.state.viewer
        return render(request, "error.html", status=403, title="Not allowed",
                      error=f"{viewer.name} is a {viewer.role}; this needs the {exc.needed} role")

    @app.exception_handler(ApiRefused)
    async def refused(request: Request, exc: ApiRefused) -> Response:
        return JSONResponse({"error": exc.reason}, status_code=exc.status, headers=exc.headers)
