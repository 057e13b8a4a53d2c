"""``/docs`` (Swagger UI) and ``/redoc`` served from this machine, not from a CDN.

Why: FastAPI's default pages load Swagger UI's JavaScript and CSS from jsDelivr; in a hospital
network without internet access (or behind a proxy that blocks CDNs) the API's own
documentation would be a blank page. The assets come from the ``fastapi-offline`` package
(Swagger UI and ReDoc builds as files), installed with the hub, and are served under
``/docs-static``. The pages themselves are FastAPI's own HTML, pointed at those files.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route
from starlette.staticfiles import StaticFiles

ASSETS_URL = "/docs-static"


def assets_dir() -> Path:
    import fastapi_offline

    return Path(fastapi_offline.__file__).parent / "static"


def serve_docs_locally(app: FastAPI) -> None:
    """Replace the CDN-backed doc pages of ``app`` with pages using the local assets."""
    docs, redoc, oauth = app.docs_url or "/docs", app.redoc_url or "/redoc", app.swagger_ui_oauth2_redirect_url
    app.router.routes[:] = [r for r in app.router.routes
                            if not (isinstance(r, Route) and r.path in {docs, redoc, oauth})]
    app.mount(ASSETS_URL, StaticFiles(directory=assets_dir()), name="docs-static")
    title = app.title

    async def swagger(request: Request) -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=app.openapi_url or "/openapi.json", title=f"{title} - Swagger UI",
                                   swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
                                   swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
                                   oauth2_redirect_url=oauth,
                                   swagger_ui_parameters={"persistAuthorization": False})

    async def redoc_page(request: Request) -> HTMLResponse:
        return get_redoc_html(openapi_url=app.openapi_url or "/openapi.json", title=f"{title} - ReDoc",
                              redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
                              redoc_favicon_url=f"{ASSETS_URL}/favicon.png", with_google_fonts=False)

    async def oauth_redirect(request: Request) -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    app.add_route(docs, swagger, include_in_schema=False)
    app.add_route(redoc, redoc_page, include_in_schema=False)
    if oauth:
        app.add_route(oauth, oauth_redirect, include_in_schema=False)
