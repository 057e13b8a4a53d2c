"""The recording endpoint: a small threaded HTTP server in a process of its own (so it never
competes with the harness for the GIL), logging every request it gets.

    python -m benchmarks.chaoskit.endpoint --port P --control-port C --log requests.jsonl

Each request becomes one JSON line, written and flushed *before* the answer is sent (a
request the hub saw answered is always in the log): time, ``Idempotency-Key``, the hub's
message and delivery ids, the business key (``adjustment_id``) and the document reference
(``reference``) from the body, and the status answered.

Modes, switched with ``POST http://127.0.0.1:C/mode/<mode>``:
``ok`` (200 to everything), ``503`` (503 to everything), ``down`` (the listening socket is
closed: connections are refused; in-flight requests finish). Independently of the mode, a
body holding ``POISON`` is answered 500 (``/poison/on`` | ``/poison/off``).
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from hub.stubs import StubServer  # a listen backlog of 512, not socketserver's 5

POISON_MARKER = b"POISON"


class Recorder:
    def __init__(self, log: Path, port: int) -> None:
        self.out = open(log, "a", buffering=1)  # noqa: SIM115 - one line per request, flushed
        self.lock = threading.Lock()
        self.port = port
        self.mode = "ok"
        self.poison = True
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None

    def write(self, record: dict[str, Any]) -> None:
        with self.lock:
            self.out.write(json.dumps(record) + "\n")

    def answer_for(self, body: bytes) -> int:
        if self.poison and POISON_MARKER in body:
            return 500
        return 503 if self.mode == "503" else 200

    # -- the data port --------------------------------------------------------------------------

    def listen(self) -> None:
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            # HTTP/1.0: one request per connection, so "down" needs no keep-alive bookkeeping.
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    doc = json.loads(body)
                except ValueError:
                    doc = {}
                if not isinstance(doc, dict):
                    doc = {}
                status = recorder.answer_for(body)
                recorder.write({"t": time.time(), "key": self.headers.get("Idempotency-Key"),
                                "msg": self.headers.get("X-Hub-Message-Id"),
                                "dlv": self.headers.get("X-Hub-Delivery-Id"), "bkey": doc.get("adjustment_id"),
                                "ref": doc.get("reference"), "extra": doc.get("extra_ref"), "status": status,
                                "raw": None if doc else body[:200].decode("utf-8", "replace")})
                payload = json.dumps({"status": status}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_PUT = do_POST

            def log_message(self, *args: Any) -> None:
                pass

        server = StubServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.server = server
        self.thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()  # the listening socket goes: connections are refused
            self.server = None

    def set_mode(self, mode: str) -> None:
        if mode == "down":
            self.close()
        elif self.server is None:
            self.listen()
        self.mode = mode


def serve_control(recorder: Recorder, port: int) -> None:
    class Control(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            parts = self.path.strip("/").split("/")
            if parts[0] == "mode" and len(parts) == 2 and parts[1] in ("ok", "503", "down"):
                recorder.set_mode(parts[1])
            elif parts[0] == "poison" and len(parts) == 2:
                recorder.poison = parts[1] == "on"
            else:
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.end_headers()

        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(recorder.mode.encode())

        def log_message(self, *args: Any) -> None:
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Control).serve_forever()


class EndpointClient:
    """The harness's side: switch modes and read the log."""

    def __init__(self, port: int, control_port: int, log: Path) -> None:
        self.port, self.control_port, self.log = port, control_port, log
        self._offset = 0
        self._records: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/inventory"

    def _post(self, path: str) -> None:
        req = urllib.request.Request(f"http://127.0.0.1:{self.control_port}{path}", data=b"", method="POST")
        with urllib.request.urlopen(req, timeout=10):
            pass

    def set_mode(self, mode: str) -> None:
        self._post(f"/mode/{mode}")

    def alive(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.control_port}/", timeout=2):
                return True
        except OSError:
            return False

    def records(self) -> list[dict[str, Any]]:
        """Every request so far (read incrementally: the log only grows)."""
        if self.log.exists():
            with open(self.log, "rb") as f:
                f.seek(self._offset)
                chunk = f.read()
            complete = chunk.rfind(b"\n") + 1  # a line being written is read next time
            for line in chunk[:complete].splitlines():
                if line.strip():
                    self._records.append(json.loads(line))
            self._offset += complete
        return self._records


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--control-port", type=int, required=True)
    ap.add_argument("--log", type=Path, required=True)
    args = ap.parse_args()
    recorder = Recorder(args.log, args.port)
    recorder.listen()
    serve_control(recorder, args.control_port)


if __name__ == "__main__":
    main()
