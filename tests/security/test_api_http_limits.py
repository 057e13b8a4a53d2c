"""``hub api``'s HTTP server under a slow or greedy client (connectors.inbound.httpserver): a
request head that trickles in, a body that never ends, thousands of headers or one huge one, a
client that hangs up mid-upload, an idle keep-alive connection. Raw sockets against the real
server on 127.0.0.1, with the timeouts shortened so the test takes seconds."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from hub.app import Hub
from tests.security.conftest import RunningApi, api_settings

pytestmark = pytest.mark.postgres

HEAD_TIMEOUT, REQUEST_TIMEOUT, KEEP_ALIVE = 1.0, 2.5, 1.0


@pytest.fixture(scope="module")
def strict_api(sec_hub: Hub) -> Iterator[RunningApi]:
    settings = api_settings(header_timeout=HEAD_TIMEOUT, request_timeout=REQUEST_TIMEOUT, keep_alive=KEEP_ALIVE,
                            max_headers=100, max_header_bytes=16384)
    with RunningApi(sec_hub, settings) as running:
        yield running


def connect(api: RunningApi) -> socket.socket:
    return socket.create_connection(("127.0.0.1", api.port), timeout=10)


def read_until_closed(sock: socket.socket, limit: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and how long that took."""
    start, data = time.monotonic(), b""
    sock.settimeout(limit)
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except TimeoutError:
        pytest.fail(f"the server kept the connection open for {limit}s; it sent {data[:200]!r}")
    except ConnectionResetError:
        pass
    return data, time.monotonic() - start


def test_slow_request_heads_are_answered_408_and_closed(strict_api: RunningApi, keys: dict[str, str]) -> None:
    stop = threading.Event()
    socks = [connect(strict_api) for _ in range(60)]

    def trickle() -> None:  # one header line per 0.2 s: the keep-alive timer alone never fires
        n = 0
        while not stop.is_set():
            for sock in socks:
                try:
                    sock.sendall(b"POST /api/v1/messages HTTP/1.1\r\nHost: x\r\n" if n == 0 else f"X-{n}: y\r\n".encode())
                except OSError:
                    pass
            n += 1
            stop.wait(0.2)

    writer = threading.Thread(target=trickle, daemon=True)
    writer.start()
    try:
        answers = [read_until_closed(sock, 10) for sock in socks]
    finally:
        stop.set()
        writer.join()
        for sock in socks:
            sock.close()
    assert all(data.startswith(b"HTTP/1.1 408 ") for data, _ in answers), {data[:40] for data, _ in answers}
    assert b"request head not received within 1s" in answers[0][0]
    assert max(took for _, took in answers) < HEAD_TIMEOUT + 3
    # The server still serves everyone else.
    with connect(strict_api) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert read_until_closed(sock, 10)[0].startswith(b"HTTP/1.1 200 ")


def test_a_body_that_never_ends_is_cut_off(strict_api: RunningApi, keys: dict[str, str]) -> None:
    with connect(strict_api) as sock:
        sock.sendall(f"POST /api/v1/messages HTTP/1.1\r\nHost: x\r\nX-API-Key: {keys['P-0500']}\r\n"
                     "Content-Type: text/csv\r\nContent-Length: 100000\r\n\r\na,b\n".encode())
        data, took = read_until_closed(sock, 10)
    assert data.startswith(b"HTTP/1.1 408 ") and b"request body not received within 2.5s" in data
    assert took < REQUEST_TIMEOUT + 3


def test_too_many_or_too_large_headers_are_refused(strict_api: RunningApi) -> None:
    many = "".join(f"X-{n}: v\r\n" for n in range(10_000))
    huge = "X-Huge: " + "h" * 100_000 + "\r\n"
    for extra in (many, huge):
        with connect(strict_api) as sock:
            sock.sendall(f"GET /healthz HTTP/1.1\r\nHost: x\r\n{extra}Connection: close\r\n\r\n".encode())
            data, _ = read_until_closed(sock, 10)
        # 431 from the hub's limit; 400 when h11 sees the head still incomplete past 16 KiB.
        assert data.split(b" ", 2)[1] in (b"431", b"400"), data[:200]
    with connect(strict_api) as sock:
        head = "".join(f"X-{n}: v\r\n" for n in range(101))  # past 100 headers, well under 16 KiB
        sock.sendall(f"GET /healthz HTTP/1.1\r\nHost: x\r\n{head}Connection: close\r\n\r\n".encode())
        data, _ = read_until_closed(sock, 10)
    assert data.startswith(b"HTTP/1.1 431 ") and b"103 headers" in data
    with connect(strict_api) as sock:
        head = "".join(f"X-{n}: v\r\n" for n in range(50))
        sock.sendall(f"GET /healthz HTTP/1.1\r\nHost: x\r\n{head}Connection: close\r\n\r\n".encode())
        assert read_until_closed(sock, 10)[0].startswith(b"HTTP/1.1 200 ")


def test_an_abandoned_upload_is_one_log_line(strict_api: RunningApi, keys: dict[str, str],
                                             caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    with connect(strict_api) as sock:
        sock.sendall(f"POST /api/v1/messages HTTP/1.1\r\nHost: x\r\nX-API-Key: {keys['P-0500']}\r\n"
                     "Content-Type: text/csv\r\nContent-Length: 100000\r\n\r\n".encode() + b"a,b\n" * 250)
        time.sleep(0.3)  # the app is reading the body
    deadline = time.monotonic() + 5
    while not [r for r in caplog.records if "abandoned" in r.getMessage()] and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # anything else it would log about it
    lines = [r for r in caplog.records if r.name.startswith(("connectors", "uvicorn"))]
    assert [r.getMessage() for r in lines] == ["api: 127.0.0.1: upload abandoned after 1000 bytes"]
    assert all(r.exc_info is None for r in caplog.records)


def test_an_idle_keep_alive_connection_is_closed(strict_api: RunningApi) -> None:
    with connect(strict_api) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        data, took = read_until_closed(sock, 10)
    assert data.startswith(b"HTTP/1.1 200 ") and took < KEEP_ALIVE + 3
