"""Login and logout.

Why a login CSRF token: without one, a page elsewhere could post its own credentials to the
login form and have an operator work, unknowingly, in the attacker's session (login CSRF). The
token is a double submit — a random cookie and the same value in the form — since there is no
session yet to keep it in.

The session cookie is ``HttpOnly`` (no script reads it), ``SameSite=Strict`` (no other site's
page sends it) and ``Secure`` when the console is reached over https (directly, or through a
TLS terminator that says so in ``X-Forwarded-Proto`` from a trusted address).
"""

from __future__ import annotations

import hmac
import logging
import secrets
import threading
import time

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from hub.console import audit, sessions
from hub.console.auth import ApiRefused, LoginRequired, check_csrf, page_viewer, peer
from hub.console.operators import LoginRefused, Principal, authenticate
from hub.console.web import SECURITY_HEADERS, BadForm, read_form, render, safe_next, state

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
LOGIN_COOKIE = "hub_console_login"


class Throttle:
    """At most ``per_minute`` login attempts per address. Why besides the per-account lockout:
    each attempt costs a scrypt hash (≈0.1 s of a core, on purpose), so a flood of attempts
    with made-up names would otherwise keep the hub's two cores busy hashing."""

    def __init__(self, per_minute: int = 20) -> None:
        self.per_minute = per_minute
        self._seen: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def allow(self, address: str) -> bool:
        now = time.monotonic()
        with self._lock:
            if len(self._seen) > 10_000:
                self._seen = {a: t for a, t in self._seen.items() if t and now - t[-1] < 60}
            recent = [t for t in self._seen.get(address, []) if now - t < 60]
            if len(recent) >= self.per_minute:
                self._seen[address] = recent
                return False
            self._seen[address] = [*recent, now]
            return True



def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _cookie(response: Response, request: Request, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="strict", secure=_secure(request),
                        path="/")


def _login_page(request: Request, error: str | None = None, status: int = 200, name: str = "") -> Response:
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html", status=status, login_csrf=token, error=error, name=name,
                      next=safe_next(request.query_params.get("next")))
    _cookie(response, request, LOGIN_COOKIE, token, 3600)
    return response


@router.get("/login")
async def login_form(request: Request) -> Response:
    return _login_page(request)


@router.post("/login")
async def login(request: Request) -> Response:
    st = state(request)
    try:
        form = await read_form(request, 4096)
    except BadForm as exc:
        return _login_page(request, str(exc), 400)
    if not st.throttle.allow(peer(request) or "-"):
        return _login_page(request, "too many login attempts from your address: wait a minute", 429)
    expected = request.cookies.get(LOGIN_COOKIE, "")
    given = form.get("login_csrf")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        return _login_page(request, "the login form expired: try again", 400)
    name, password = form.get("name").strip().lower(), form.get("password")
    try:
        op = await run_in_threadpool(authenticate, st.hub.db, name, password, st.settings)
    except LoginRefused as exc:
        if exc.known:  # unknown names are not recorded: anyone can type anything
            await run_in_threadpool(audit.record, st.hub.db, Principal(name, "-", "console"), "login",
                                    outcome="refused", detail={"error": exc.reason}, remote_addr=peer(request))
        log.warning("console: login refused for a%s name from %s", " known" if exc.known else "n unknown",
                    peer(request) or "-")
        return _login_page(request, exc.reason, 401, name=name)
    session_id = await run_in_threadpool(sessions.start, st.hub.db, op.name, peer(request), st.settings)
    await run_in_threadpool(audit.record, st.hub.db, Principal(op.name, op.role, "console"), "login",
                            remote_addr=peer(request))
    response = RedirectResponse(safe_next(form.get("next")), status_code=303, headers=SECURITY_HEADERS)
    _cookie(response, request, sessions.COOKIE, session_id, int(st.settings.session_hours * 3600))
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    st = state(request)
    try:
        viewer = await page_viewer(request)
    except LoginRequired:
        return RedirectResponse("/login", status_code=303)
    form = await read_form(request, 4096)
    try:
        check_csrf(viewer, form.get("csrf"))
    except ApiRefused as exc:
        return render(request, "error.html", status=403, title="Refused", error=exc.reason)
    await run_in_threadpool(sessions.end, st.hub.db, request.cookies.get(sessions.COOKIE))
    await run_in_threadpool(audit.record, st.hub.db, viewer.principal, "logout", remote_addr=peer(request))
    response = RedirectResponse("/login", status_code=303, headers=SECURITY_HEADERS)
    response.delete_cookie(sessions.COOKIE, path="/")
    return response
