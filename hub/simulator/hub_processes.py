"""The hub processes a cycle needs when none runs on the data dir: a worker and a file drop,
started for the cycle and stopped after it — and the demo ERP when nothing answers at the
example endpoints' loopback addresses.

Why: ``hub simulate order-to-invoice`` must work on a fresh data dir as well as beside a
running ``hub run`` (``make run``). It drops the ERP's order into the inbox first; when a file
drop takes it, the running hub is used; when nobody does, this module starts ``hub filedrop``
and ``hub worker`` (the same code ``hub run`` runs) with the same environment, logging to
``<data dir>/simulator/``. Nothing here replaces the broker, the routes or the deliveries.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit


class HubProcesses:
    def __init__(self, data_dir: Path) -> None:
        self.logs = data_dir / "simulator"
        self.procs: list[subprocess.Popen] = []

    def start(self, *command: str) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        log = open(self.logs / f"{command[0]}.log", "ab")  # noqa: SIM115 - owned by the process
        self.procs.append(subprocess.Popen([sys.executable, "-m", "hub", *command], stdout=log,
                                           stderr=subprocess.STDOUT, env=dict(os.environ), cwd=os.getcwd(),
                                           start_new_session=True))

    def stop(self) -> None:
        """SIGTERM (a worker finishes its task and acks it), SIGKILL of the group after 20 s."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        self.procs.clear()


def loopback_ports(hub, endpoints: list[str]) -> set[int]:
    """Ports of the named HTTP endpoints that point at this machine and nothing listens on."""
    ports = set()
    for name in endpoints:
        endpoint = hub.routes.endpoints.get(name)
        if endpoint is None or endpoint.http is None:
            continue
        url = urlsplit(endpoint.http.url)
        if url.hostname in ("127.0.0.1", "localhost") and url.port and not _listening(url.port):
            ports.add(url.port)
    return ports


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0
