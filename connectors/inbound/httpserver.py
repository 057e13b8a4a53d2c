"""The HTTP server under ``hub api``: uvicorn (h11) with limits a public edge needs.

Uvicorn alone closes an idle keep-alive connection, but not one that trickles its request: a
client sending one header byte every few seconds (any byte resets the keep-alive timer), or a
body that never ends, holds a connection for as long as it likes, and a few hundred of them
hold the server. And h11 bounds a request head only while it is incomplete: a 100 KB head, or
ten thousand headers, that arrive in one read are accepted whole. So:

- **Request head**: must be complete within ``HUB_API_HEADER_TIMEOUT`` (10 s) of the connection
  opening or of the previous response; otherwise 408 and the connection is closed.
- **Whole request**: head and body within ``HUB_API_REQUEST_TIMEOUT`` (120 s); otherwise 408 (or,
  once the app answers, the connection is closed) — the app logs the abandoned upload in one line.
- **Headers**: at most ``HUB_API_MAX_HEADERS`` (100) and ``HUB_API_MAX_HEADER_BYTES`` (16 KiB)
  in all, else 431 (h11 refuses a longer incomplete head with 400 on its own).
- **Idle keep-alive**: ``HUB_API_KEEP_ALIVE`` (5 s). **Connections**: beyond
  ``HUB_API_MAX_CONNECTIONS`` (256) requests are answered 503 at once.

Behind a reverse proxy (nginx, HAProxy) the proxy's own limits apply first; these still protect
the API when it is reached directly.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("connectors.inbound.api")

_TIMEOUT_408 = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
                b"content-length: %d\r\n\r\n%s")


class QuietLog:
    """At most one line per ``every`` seconds for a noisy event; the lines in between are counted
    and reported with the next one (a flood of slow connections must not flood the log)."""

    def __init__(self, every: float = 10.0) -> None:
        self.every = every
        self.last = 0.0
        self.skipped = 0

    def warning(self, message: str, *args: Any) -> None:
        now = time.monotonic()
        if now - self.last < self.every:
            self.skipped += 1
            return
        more = f" ({self.skipped} more like it not logged)" if self.skipped else ""
        log.warning(message + more, *args)
        self.last, self.skipped = now, 0


_slow = QuietLog()


class LimitedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for the request head and for the whole request."""

    header_timeout: float = 10.0
    request_timeout: float = 120.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._deadline: asyncio.TimerHandle | None = None
        self._waiting: str | None = None
        self._arm("head", self.header_timeout)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        state = self.conn.their_state
        if self._waiting == "head" and state is h11.SEND_BODY:
            self._arm("body", self.request_timeout - self.header_timeout)  # the rest of the request's time
        elif self._waiting is not None and state in (h11.DONE, h11.MUST_CLOSE, h11.CLOSED, h11.ERROR):
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm("head", self.header_timeout)  # the next request on this connection

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self, waiting: str, seconds: float) -> None:
        self._disarm()
        self._waiting = waiting
        self._deadline = self.loop.call_later(max(seconds, 0.1), self._expired)

    def _disarm(self) -> None:
        if getattr(self, "_deadline", None) is not None:
            self._deadline.cancel()
        self._deadline, self._waiting = None, None

    def _expired(self) -> None:
        waiting, self._deadline, self._waiting = self._waiting, None, None
        if self.transport.is_closing():
            return
        peer = "%s:%d" % self.client if self.client else "a client"
        limit = self.header_timeout if waiting == "head" else self.request_timeout
        reason = f"request {'head' if waiting == 'head' else 'body'} not received within {limit:g}s"
        if self.cycle is None or not self.cycle.response_started:
            body = json.dumps({"error": reason}).encode()
            self.transport.write(_TIMEOUT_408 % (len(body), body))
        _slow.warning("api: closed the connection from %s: %s", peer, reason)
        self.transport.close()


def limited_protocol(header_timeout: float, request_timeout: float) -> type[LimitedH11Protocol]:
    return type("HubH11Protocol", (LimitedH11Protocol,),
                {"header_timeout": header_timeout, "request_timeout": request_timeout})


class HeaderLimits:
    """ASGI middleware: 431 for a request with too many headers or too many header bytes."""

    def __init__(self, app: Any, max_headers: int, max_bytes: int) -> None:
        self.app, self.max_headers, self.max_bytes = app, max_headers, max_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = scope["headers"]
            size = sum(len(k) + len(v) + 4 for k, v in headers)  # "name: value\r\n"
            if len(headers) > self.max_headers or size > self.max_bytes:
                await _refuse_431(send, f"request headers too large: {len(headers)} headers, {size} bytes (limits: "
                                        f"{self.max_headers} headers, {self.max_bytes} bytes)")
                return
        await self.app(scope, receive, send)


async def _refuse_431(send: Any, reason: str) -> None:
    body = json.dumps({"error": reason}).encode()
    await send({"type": "http.response.start", "status": 431,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def api_server(app: Any, settings: Any, *, host: str, port: int, log_level: str = "info") -> uvicorn.Server:
    """The server ``hub api`` runs (and the tests start on 127.0.0.1): ``settings`` is the API's
    ``ApiSettings``."""
    config = uvicorn.Config(
        HeaderLimits(app, settings.max_headers, settings.max_header_bytes), host=host, port=port,
        http=limited_protocol(settings.header_timeout, settings.request_timeout),
        h11_max_incomplete_event_size=settings.max_header_bytes, timeout_keep_alive=settings.keep_alive,
        limit_concurrency=settings.max_connections, log_level=log_level, lifespan="on",
        access_log=False)  # access logs would carry query strings (file names)
    return uvicorn.Server(config)
