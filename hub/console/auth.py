"""Who is asking: the FastAPI dependencies of the console's pages and of the operations API.

- Pages: the session cookie (``hub.console.sessions``). Without one, any page answers with a
  redirect to the login page and nothing else: an anonymous visitor learns nothing but that
  there is a login. A role too low for a page or an action is a 403 page.
- Operations API: the same session (then every POST, PUT, PATCH and DELETE must carry the
  session's CSRF token as ``X-CSRF-Token``), or an operator token
  (``Authorization: Bearer hot_...``, ``hub operators token NAME``), which a browser never
  sends by itself and so needs no CSRF token. Without either: 401, before any parameter is
  judged.
- Every form post carries the CSRF token (``csrf``), compared in constant time.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from hub.console import sessions
from hub.console.operators import Principal, operator_for_token
from hub.console.web import state

OPERATOR_TOKEN = HTTPBearer(scheme_name="OperatorToken", auto_error=False,
                            description="An operator token `hot_<id>_<secret>` (`hub operators token NAME`); acts "
                                        "with the operator's role")
OPERATOR_SESSION = APIKeyCookie(name=sessions.COOKIE, scheme_name="OperatorSession", auto_error=False,
                                description="The console's session cookie (log in at /login); state-changing calls "
                                            "also need the session's CSRF token in `X-CSRF-Token`")
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


@dataclass(frozen=True)
class Viewer:
    """The operator behind a request, with what the page needs to act on their behalf."""

    principal: Principal
    csrf: str | None  # None for token callers
    session_key: str | None

    @property
    def name(self) -> str:
        return self.principal.name

    @property
    def role(self) -> str:
        return self.principal.role

    def may(self, role: str) -> bool:
        return self.principal.may(role)


class LoginRequired(Exception):
    """A page asked for without a live session: redirect to the login page."""


class PageForbidden(Exception):
    def __init__(self, needed: str) -> None:
        super().__init__(needed)
        self.needed = needed


class ApiRefused(Exception):
    """An operations API refusal: ``{"error": reason}`` with ``status``."""

    def __init__(self, status: int, reason: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status, self.reason, self.headers = status, reason, headers


def peer(request: Request) -> str | None:
    return request.client.host if request.client else None


async def _session(request: Request) -> sessions.Session | None:
    cookie = request.cookies.get(sessions.COOKIE)
    if not cookie:
        return None
    st = state(request)
    return await run_in_threadpool(sessions.lookup, st.hub.db, cookie, st.settings)


async def page_viewer(request: Request) -> Viewer:
    """The operator of a page request; LoginRequired without a session."""
    live = await _session(request)
    if live is None:
        raise LoginRequired()
    viewer = Viewer(Principal(live.operator, live.role, "console"), live.csrf, live.id_sha256)
    request.state.viewer = viewer
    return viewer


def needs(viewer: Viewer, role: str) -> None:
    if not viewer.may(role):
        raise PageForbidden(role)


def check_csrf(viewer: Viewer, presented: str | None) -> None:
    if viewer.csrf is None:
        return  # a token caller: no cookie, nothing to forge
    if not presented or not hmac.compare_digest(presented.encode(), viewer.csrf.encode()):
        raise ApiRefused(403, "missing or wrong CSRF token: reload the page and try again")


async def api_viewer(request: Request,
                     token: Annotated[HTTPAuthorizationCredentials | None, Security(OPERATOR_TOKEN)] = None,
                     cookie: Annotated[str | None, Security(OPERATOR_SESSION)] = None) -> Viewer:
    """The operator of an operations API call (token or session); 401 without one."""
    st = state(request)
    if token is not None:
        op = await run_in_threadpool(operator_for_token, st.hub.db, token.credentials)
        if op is None:
            raise ApiRefused(401, "invalid or revoked operator token", {"WWW-Authenticate": "Bearer"})
        viewer = Viewer(Principal(op.name, op.role, "api"), None, None)
    else:
        live = await _session(request) if cookie else None
        if live is None:
            raise ApiRefused(401, "log in (session cookie) or send an operator token (Authorization: Bearer hot_...)",
                             {"WWW-Authenticate": "Bearer"})
        viewer = Viewer(Principal(live.operator, live.role, "api"), live.csrf, live.id_sha256)
        if request.method in UNSAFE:
            check_csrf(viewer, request.headers.get("x-csrf-token"))
    request.state.viewer = viewer
    return viewer


def api_needs(viewer: Viewer, role: str) -> None:
    if not viewer.may(role):
        raise ApiRefused(403, f"{viewer.name} is a {viewer.role}; this needs the {role} role")
