"""What every console page shares: the Jinja2 templates (autoescape always on), form parsing,
the security headers, and the console's state on the FastAPI app.

Why no python-multipart: the console's forms are ``application/x-www-form-urlencoded`` (a
corrected payload is text in a textarea), which the standard library parses; one dependency
fewer in a hospital's validated install.

Why these headers: the console shows what partners sent (file names, EDI, XML). Autoescaping
makes it text; the Content-Security-Policy makes sure that even a mistake cannot run a script
that is not the console's own (no inline script, no other origin), and the page cannot be
framed (clickjacking an operator into replaying). Pages are never cached: they hold partner and
patient-adjacent data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import HTMLResponse

from hub.console.settings import ConsoleSettings, console_settings
from hub.operations.terminal import printable

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
STATIC_URL = "/console-static"

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
MAX_FORM_BYTES_FLOOR = 1024 * 1024


class BadForm(ValueError):
    pass


@dataclass
class ConsoleState:
    """Hung on ``app.state.console`` by ``hub.console.mount``."""

    hub: Any
    settings: ConsoleSettings = field(default_factory=console_settings)
    in_process_worker: bool = False  # served by `hub run`, next to its worker
    env: Environment = field(init=False)
    flashes: Flashes = field(init=False)
    throttle: Any = field(init=False)

    def __post_init__(self) -> None:
        from hub.console.login import Throttle

        self.env = environment()
        self.flashes = Flashes()
        self.throttle = Throttle(self.settings.logins_per_minute)


def state(request: Request) -> ConsoleState:
    return request.app.state.console


def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    from hub.console.payloads import visible

    env.filters.update(shown=shown, shown_block=visible, when=when, ago=ago, number=number, query=query)
    env.globals.update(static=lambda name: f"{STATIC_URL}/{name}")
    return env


# -- filters -----------------------------------------------------------------------------------------

def shown(text: Any) -> str:
    """Partner text as it may be shown: control and direction characters as visible escapes
    (``\\r``, ``\\u202e``), like the CLI's tables; Jinja2 then escapes the markup."""
    return printable(None if text is None else str(text))


def when(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    return value.astimezone(UTC).strftime(fmt) if value else "-"


def ago(value: datetime | None) -> str:
    if value is None:
        return "-"
    seconds = int((datetime.now(UTC) - value).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if abs(seconds) >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def number(value: int | float | None) -> str:
    return "-" if value is None else f"{value:,}"


def query(params: dict[str, Any], **changes: Any) -> str:
    """``?a=1&b=2`` from the current filters with some changed (None drops one)."""
    merged = {k: v for k, v in {**params, **changes}.items() if v not in (None, "", False)}
    return "?" + urlencode(merged) if merged else "?"


# -- rendering ---------------------------------------------------------------------------------------

def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    st = state(request)
    viewer = getattr(request.state, "viewer", None)
    notes = st.flashes.pop(viewer.session_key) if viewer is not None and viewer.session_key else []
    html = st.env.get_template(template).render(request=request, viewer=viewer, path=request.url.path,
                                                partial=is_htmx(request), notes=notes, **context)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true" and request.headers.get("hx-history-restore-request") != "true"


def safe_next(target: str | None) -> str:
    """Only a path on this site (never ``//host`` or a scheme): no open redirect after login."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


# -- forms -------------------------------------------------------------------------------------------

class Form:
    """A parsed urlencoded form: ``get`` for one value, ``all`` for a list (checkboxes)."""

    def __init__(self, fields: dict[str, list[str]]) -> None:
        self.fields = fields

    def get(self, name: str, default: str = "") -> str:
        values = self.fields.get(name)
        return values[0] if values else default

    def all(self, name: str) -> list[str]:
        return self.fields.get(name, [])

    def flag(self, name: str) -> bool:
        return self.get(name) in ("1", "on", "true", "yes")


async def read_form(request: Request, max_bytes: int) -> Form:
    ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if ctype != "application/x-www-form-urlencoded":
        raise BadForm("forms are sent as application/x-www-form-urlencoded")
    limit = max(max_bytes * 4, MAX_FORM_BYTES_FLOOR)  # percent-encoding can triple a payload's size
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BadForm("the form is too large")
    try:
        text = body.decode("ascii")
        fields = parse_qs(text, keep_blank_values=True, strict_parsing=False, encoding="utf-8", errors="strict",
                          max_num_fields=10_000)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadForm(f"the form could not be read: {exc}") from None
    return Form(fields)


class Flashes:
    """Notices shown once on the page an action redirects to (post/redirect/get), per session.
    In this process's memory: a notice that lands on another replica is lost, never the action
    (the page and the audit trail show what was done)."""

    def __init__(self) -> None:
        self._notes: dict[str, list[tuple[str, str]]] = {}

    def add(self, session_key: str, text: str, kind: str = "ok") -> None:
        notes = self._notes.setdefault(session_key, [])
        notes.append((kind, text))
        del notes[:-5]
        if len(self._notes) > 10_000:  # abandoned sessions: drop the oldest half
            for key in list(self._notes)[:5_000]:
                self._notes.pop(key, None)

    def pop(self, session_key: str) -> list[tuple[str, str]]:
        return self._notes.pop(session_key, [])
