"""Local HTTP servers standing in for third-party systems in tests: an OAuth2 token server and
a resource server that checks its tokens, records every call with its arrival time, counts
calls in flight, and answers from a script of statuses."""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


class _Server:
    def __init__(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                length = int(self.headers.get("Content-Length") or 0)
                owner.handle(self, self.rfile.read(length))

            do_PUT = do_GET = do_POST

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def handle(self, req: BaseHTTPRequestHandler, body: bytes) -> None:
        raise NotImplementedError

    @staticmethod
    def reply(req: BaseHTTPRequestHandler, status: int, data: dict, headers: dict[str, str] | None = None) -> None:
        raw = json.dumps(data).encode()
        try:
            req.send_response(status)
            for name, value in (headers or {}).items():
                req.send_header(name, value)
            req.send_header("Content-Type", "application/json")
            req.send_header("Content-Length", str(len(raw)))
            req.end_headers()
            req.wfile.write(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class TokenServer(_Server):
    """client_credentials grant with HTTP basic client authentication."""

    def __init__(self, client_id: str, secret: str, lifetime: int = 3600) -> None:
        self.client_id, self.secret, self.lifetime = client_id, secret, lifetime
        self.issued: list[str] = []
        self.revoked: set[str] = set()
        self.requests: list[dict] = []
        super().__init__()

    def valid(self, token: str) -> bool:
        return token in self.issued and token not in self.revoked

    def handle(self, req: BaseHTTPRequestHandler, body: bytes) -> None:
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        self.requests.append(form)
        expected = "Basic " + base64.b64encode(f"{self.client_id}:{self.secret}".encode()).decode()
        if req.headers.get("Authorization") != expected or form.get("grant_type") != "client_credentials":
            self.reply(req, 401, {"error": "invalid_client"})
            return
        token = f"tok-{len(self.issued) + 1}-{secrets.token_hex(4)}"
        self.issued.append(token)
        self.reply(req, 200, {"access_token": token, "token_type": "Bearer", "expires_in": self.lifetime})


@dataclass
class Call:
    at: float
    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class ResourceServer(_Server):
    tokens: TokenServer | None = None
    script: deque[int | tuple[int, dict[str, str]]] = field(default_factory=deque)
    delay: float = 0.0
    calls: list[Call] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        super().__init__()

    def answer(self, *statuses: int) -> None:
        with self._lock:
            self.script.extend(statuses)

    def answer_with(self, status: int, headers: dict[str, str]) -> None:
        """Answer the next request with this status and these extra headers."""
        with self._lock:
            self.script.append((status, headers))

    def handle(self, req: BaseHTTPRequestHandler, body: bytes) -> None:
        arrived = time.time()
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                time.sleep(self.delay)
            bearer = (req.headers.get("Authorization") or "").removeprefix("Bearer ")
            with self._lock:
                extra: dict[str, str] = {}
                if self.tokens is not None and not self.tokens.valid(bearer):
                    status = 401
                else:
                    status = self.script.popleft() if self.script else 200
                    if isinstance(status, tuple):
                        status, extra = status
                self.calls.append(Call(arrived, dict(req.headers.items()), body, status))
            self.reply(req, status, {"status": status}, extra)
        finally:
            with self._lock:
                self.in_flight -= 1
