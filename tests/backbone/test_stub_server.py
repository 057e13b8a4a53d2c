"""The HTTP stand-ins (ERP stub, simulator channel, chaos recorder) listen with a backlog a
worker's concurrent calls fit in: with socketserver's 5, connects beyond it were dropped by the
kernel and retried by TCP a second later, which showed as a slow first batch in benchmarks."""

from __future__ import annotations

import socket
from http.server import BaseHTTPRequestHandler

from hub.stubs import StubServer

CONNECTS = 64  # 8 calls in flight × 8 pool processes


def test_connects_beyond_socketservers_backlog_are_accepted_at_once() -> None:
    server = StubServer(("127.0.0.1", 0), BaseHTTPRequestHandler)  # not serving: nothing is accepted yet
    port = server.server_address[1]
    clients: list[socket.socket] = []
    try:
        for _ in range(CONNECTS):
            # A connect the kernel cannot queue is not refused but left unanswered until the
            # SYN is retried: it would time out here.
            clients.append(socket.create_connection(("127.0.0.1", port), timeout=0.5))
        assert len(clients) == CONNECTS
    finally:
        for client in clients:
            client.close()
        server.server_close()
