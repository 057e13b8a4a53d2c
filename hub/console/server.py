"""The HTTP server inside ``hub run``: the inbound API, the console and the operations API on
``HUB_API_HOST``:``HUB_API_PORT`` (127.0.0.1:8080), next to the worker and the file drop.

Why in a thread of the worker's main process (a Celery bootstep, like the file drop): ``hub run``
is the one-process embedded default; ``make run`` and then opening the console must be all it
takes. The server is ``hub api``'s own (``connectors.inbound.httpserver``: the same request
limits), without a second outbox relay (the worker runs one). Started after the pool has forked
its children, so no child inherits the server's thread. A port already taken is reported and
the hub runs on without the console; it does not stop the hub.
"""

from __future__ import annotations

import logging
import threading
import time

from celery import bootsteps

log = logging.getLogger(__name__)


class HttpServer:
    """uvicorn serving the API app (console mounted) in a thread."""

    def __init__(self, hub, *, host: str | None = None, port: int | None = None, in_process_worker: bool = True) -> None:
        from connectors.inbound.api import ApiSettings, create_app
        from connectors.inbound.httpserver import api_server

        settings = ApiSettings()
        settings.relay = False
        self.host = host or settings.host
        self.port = port or hub.settings.api_port
        app = create_app(hub, settings)
        console = getattr(app.state, "console", None)
        if console is not None:
            console.in_process_worker = in_process_worker
        self.server = api_server(app, settings, host=self.host, port=self.port, log_level="warning")
        self.thread = threading.Thread(target=self._run, name="hub-http", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def _run(self) -> None:
        try:
            self.server.run()
        except SystemExit:  # uvicorn exits when it cannot bind
            log.error("the console and API are not served: %s:%d could not be bound (set HUB_API_PORT)",
                      self.host, self.port)

    def start(self, wait: float = 10.0) -> bool:
        """Start serving; True once the server listens."""
        self.thread.start()
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and self.thread.is_alive() and not self.server.started:
            time.sleep(0.05)
        return self.server.started

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


class ConsoleStep(bootsteps.StartStopStep):
    """Serves the console and the API inside ``hub run``'s worker process."""

    requires = {"celery.worker.components:Pool"}

    def start(self, worker) -> None:
        from hub import worker as hub_worker

        self.http = HttpServer(hub_worker._hub())
        if self.http.start():
            log.info("console and API on %s", self.http.url)

    def stop(self, worker) -> None:
        if getattr(self, "http", None) is not None:
            self.http.stop()
