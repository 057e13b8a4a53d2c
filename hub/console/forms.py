"""How a console page performs an action: read the form, check the CSRF token and the role, run
the action (``hub.console.actions``) off the event loop, then redirect back with a notice
(post/redirect/get, so a reload never repeats an action).

Why one helper: every action page would otherwise repeat the same five checks, and the one it
forgot would be the hole.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from hub.console.actions import Context, Forbidden
from hub.console.auth import ApiRefused, Viewer, check_csrf, peer
from hub.console.web import SECURITY_HEADERS, BadForm, Form, read_form, render, safe_next, state


def context(request: Request, viewer: Viewer) -> Context:
    return Context(viewer.principal, peer(request))


def back(request: Request, viewer: Viewer, to: str, text: str, kind: str = "ok") -> Response:
    if viewer.session_key:
        state(request).flashes.add(viewer.session_key, text, kind)
    return RedirectResponse(safe_next(to), status_code=303, headers=SECURITY_HEADERS)


async def posted(request: Request, viewer: Viewer) -> Form:
    """The form, once its CSRF token is right (ApiRefused 403 otherwise)."""
    form = await read_form(request, state(request).hub.settings.max_message_bytes)
    check_csrf(viewer, form.get("csrf"))
    return form


async def act(request: Request, viewer: Viewer, to: str, work: Callable[[Form, Context], str | Response]) -> Response:
    """Run ``work(form, context)`` (in a thread) and go back to ``to`` with its notice; a refusal
    (bad form, wrong token, role, unknown id, already closed …) goes back with the reason."""
    try:
        form = await posted(request, viewer)
    except BadForm as exc:
        return back(request, viewer, to, str(exc), "error")
    except ApiRefused as exc:
        return render(request, "error.html", status=exc.status, title="Refused", error=exc.reason)
    try:
        outcome = await run_in_threadpool(work, form, context(request, viewer))
    except Forbidden as exc:
        return render(request, "error.html", status=403, title="Not allowed", error=str(exc))
    except (KeyError, ValueError) as exc:
        return back(request, viewer, form.get("back") or to, str(exc.args[0] if exc.args else exc), "error")
    if isinstance(outcome, Response):
        return outcome
    return back(request, viewer, form.get("back") or to, outcome)
