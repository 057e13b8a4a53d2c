"""A stand-in ERP/WMS HTTP endpoint, for the demo (``hub run --demo-erp``) and for tests.

It behaves like a careful ERP: it applies each document once per ``Idempotency-Key`` (a
repeat is answered 200 with the first result), and can be told to answer with given status
codes first (``script``), to exercise retries and business rejects. Applied documents are
kept in memory and, with ``folder``, written as files. ``refuse`` answers a given status to
every body holding a fragment (one bad document among good ones).
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class StubServer(ThreadingHTTPServer):
    """``ThreadingHTTPServer`` with a listen backlog a hub can meet. The standard library's is 5
    (``socketserver``): a worker opens up to ``HUB_SEND_CONCURRENCY`` (8) connections per pool
    process at once, the kernel drops the connects beyond the backlog, and each dropped one is
    retried by TCP only after a second — measured as a first batch taking 1.3 s instead of 0.1 s
    in one e2e run out of six (``TcpExtListenDrops`` counted them). Real servers listen with
    hundreds (uvicorn 2048, nginx 511)."""

    request_queue_size = 512


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class ErpStub:
    host: str = "127.0.0.1"
    port: int = 0
    folder: Path | None = None
    script: deque[int] = field(default_factory=deque)  # statuses to answer before accepting
    requests: list[Received] = field(default_factory=list)
    applied: dict[str, bytes] = field(default_factory=dict)  # idempotency key → body
    reject_reason: str = "document refused by the ERP"
    delay: float = 0.0  # seconds to wait before answering (to be caught mid-request)
    arrived: list[str] = field(default_factory=list)  # idempotency keys, at arrival
    refuse: dict[bytes, int] = field(default_factory=dict)  # body fragment → status answered for such bodies

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real ERP APIs do
            # Headers and body go out in separate writes; without TCP_NODELAY the body waits
            # for the client's delayed ACK (≈40 ms per request).
            disable_nagle_algorithm = True

            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                stub._handle(self)

            do_PUT = do_POST

            def log_message(self, *args) -> None:  # keep test output quiet
                pass

        self.server = StubServer((self.host, self.port), Handler)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, name="erp-stub", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> ErpStub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, *statuses: int) -> None:
        """Answer the next requests with these statuses (then accept again)."""
        with self._lock:
            self.script.extend(statuses)

    def _handle(self, req: BaseHTTPRequestHandler) -> None:
        length = int(req.headers.get("Content-Length") or 0)
        body = req.rfile.read(length)
        if req.headers.get("X-Hub-Batch-Size"):
            self._handle_batch(req, body)
            return
        key = req.headers.get("Idempotency-Key") or ""
        with self._lock:
            self.arrived.append(key)
        if self.delay:
            time.sleep(self.delay)
        with self._lock:
            matched = [code for fragment, code in self.refuse.items() if fragment in body]
            status = matched[0] if matched else self.script.popleft() if self.script else 200
            if status == 200 and key and key not in self.applied:
                self.applied[key] = body
                if self.folder is not None:
                    self.folder.mkdir(parents=True, exist_ok=True)
                    (self.folder / f"{key}.json").write_bytes(body)
            self.requests.append(Received(req.path, dict(req.headers.items()), body, status))
        reply = {"status": "applied" if status == 200 else "error", "idempotency_key": key}
        if 400 <= status < 500 and status not in (408, 429):
            reply["error"] = self.reject_reason
        data = json.dumps(reply).encode()
        req.send_response(status)
        req.send_header("Content-Type", "application/json")
        req.send_header("Content-Length", str(len(data)))
        req.end_headers()
        req.wfile.write(data)

    def _handle_batch(self, req: BaseHTTPRequestHandler, body: bytes) -> None:
        """A batch (a JSON array, docs/connectors.md "Batches"): each document applied once under
        its own idempotency key; a scripted status answers the whole request; a refused fragment
        refuses its document only, named in the answer's ``results``."""
        items = json.loads(body)
        keys = (req.headers.get("X-Hub-Idempotency-Keys") or "").split(",")
        docs = [(item["idempotency_key"], item["document"]) if "document" in item else (keys[i], item)
                for i, item in enumerate(items)]
        with self._lock:
            self.arrived += [k for k, _ in docs]
            status = self.script.popleft() if self.script else 200
            results = []
            for key, doc in docs:
                raw = json.dumps(doc, separators=(",", ":")).encode()
                own = next((code for fragment, code in self.refuse.items() if fragment in raw), 200)
                if status == 200 and own == 200 and key not in self.applied:
                    self.applied[key] = raw
                results.append({"idempotency_key": key, "status": own if status == 200 else status,
                                **({"error": self.reject_reason} if own != 200 else {})})
            self.requests.append(Received(req.path, dict(req.headers.items()), body, status))
        data = json.dumps({"results": results} if status == 200 else {"status": "error"}).encode()
        req.send_response(status)
        req.send_header("Content-Type", "application/json")
        req.send_header("Content-Length", str(len(data)))
        req.end_headers()
        req.wfile.write(data)
