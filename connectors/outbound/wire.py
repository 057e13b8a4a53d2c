"""A lean keep-alive HTTP/1.1 connection for the delivery hot path (the standard library's
http.client), one per endpoint per worker process.

Why: profiling the hub under load (docs/backbone.md, "Where a document's time goes") showed
the HTTP client taking more CPU per delivery than the route's steps, commit and settle
together: httpx spent ≈0.4 ms of CPU on each POST to a stub on 127.0.0.1, http.client ≈0.07 ms.
The hub needs little of what httpx adds on this path — one host, no redirects (never
followed), no cookies, no compression — so the sender speaks HTTP/1.1 over http.client and
keeps httpx for what is rare (OAuth2 token requests) and for endpoints reached through a proxy
(``HTTP(S)_PROXY`` / ``NO_PROXY``, which httpx honours and http.client does not).

Behaviour kept from httpx: a connect timeout apart from the read/write timeout; TLS verified
with the same trust as httpx's (``httpx.create_ssl_context``: certifi, or ``SSL_CERT_FILE`` /
``SSL_CERT_DIR``); no automatic retry of a request that was sent; an idle connection the
server has closed is noticed before reuse (the socket reads as ready) and replaced, so a
stale keep-alive connection does not turn into a failed delivery. Errors are named as httpx
names them (ConnectError, ConnectTimeout, ReadTimeout, WriteError …) so answers recorded
before and after read alike.
"""

from __future__ import annotations

import http.client
import os
import select
import ssl
import threading
from dataclasses import dataclass
from email.message import Message
from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass


class WireError(Exception):
    """The call did not get an answer: ``kind`` is httpx's name for what failed."""

    def __init__(self, kind: str, detail: str, timeout: bool = False) -> None:
        super().__init__(detail)
        self.kind, self.timeout = kind, timeout


@dataclass
class Answer:
    status: int
    reason: str
    headers: Message
    text: str


def proxied(url: str) -> bool:
    """Whether the environment sends this URL through a proxy (then httpx is used)."""
    parts = urlsplit(url)
    proxies = getproxies()
    return bool(proxies.get(parts.scheme) or proxies.get("all")) and not proxy_bypass(parts.hostname or "")


class Wire:
    """Keep-alive connections to one URL's host: a call takes an idle one (or opens one) and
    gives it back after a complete answer, so threads sharing a sender never share a socket."""

    MAX_IDLE = 16

    def __init__(self, url: str, timeout: float, connect_timeout: float) -> None:
        parts = urlsplit(url)
        self.https = parts.scheme == "https"
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if self.https else 80)
        self.target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.timeout, self.connect_timeout = timeout, connect_timeout
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._tls: ssl.SSLContext | None = None

    def request(self, method: str, body: bytes, headers: dict[str, str]) -> Answer:
        conn = self._take()
        try:
            conn.request(method, self.target, body=body, headers=headers)
        except TimeoutError as exc:
            raise _failed(conn, "WriteTimeout", exc, timeout=True) from exc
        except (OSError, http.client.HTTPException) as exc:
            raise _failed(conn, "WriteError", exc) from exc
        try:
            resp = conn.getresponse()
            data = resp.read()
        except TimeoutError as exc:
            raise _failed(conn, "ReadTimeout", exc, timeout=True) from exc
        except http.client.HTTPException as exc:  # a malformed answer, or the server hung up
            raise _failed(conn, "RemoteProtocolError", exc) from exc
        except OSError as exc:
            raise _failed(conn, "ReadError", exc) from exc
        if resp.will_close:
            conn.close()
        else:
            self._give(conn)
        charset = resp.headers.get_content_charset() or "utf-8"
        try:
            text = data.decode(charset, errors="replace")
        except LookupError:  # an unknown charset name
            text = data.decode("utf-8", errors="replace")
        return Answer(resp.status, resp.reason, resp.headers, text)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def _take(self) -> http.client.HTTPConnection:
        with self._lock:
            if self._pid != os.getpid():  # never share a socket across fork
                self._idle, self._pid = [], os.getpid()
            while self._idle:
                conn = self._idle.pop()
                if not _closed_by_peer(conn):
                    return conn
                conn.close()
        return self._open()

    def _give(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if self._pid == os.getpid() and len(self._idle) < self.MAX_IDLE:
                self._idle.append(conn)
                return
        conn.close()

    def _open(self) -> http.client.HTTPConnection:
        conn = (http.client.HTTPSConnection(self.host, self.port, timeout=self.connect_timeout,
                                            context=self._tls_context())
                if self.https else http.client.HTTPConnection(self.host, self.port, timeout=self.connect_timeout))
        try:
            conn.connect()
        except TimeoutError as exc:
            raise WireError("ConnectTimeout", str(exc) or "timed out", timeout=True) from exc
        except OSError as exc:  # refused, unreachable, DNS, TLS
            raise WireError("ConnectError", str(exc) or type(exc).__name__) from exc
        conn.sock.settimeout(self.timeout)
        return conn

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            import httpx

            self._tls = httpx.create_ssl_context()
        return self._tls


def _failed(conn: http.client.HTTPConnection, kind: str, exc: BaseException, timeout: bool = False) -> WireError:
    conn.close()  # never reuse a connection in an unknown state
    return WireError(kind, str(exc) or type(exc).__name__, timeout)


def _closed_by_peer(conn: http.client.HTTPConnection) -> bool:
    """An idle keep-alive socket that reads as ready has been closed (or answered out of turn)."""
    if conn.sock is None:
        return True
    try:
        poller = select.poll()  # not select.select: a worker may hold file descriptors above 1024
        poller.register(conn.sock, select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True
