"""``hub flower`` serves operations data to operators only: without authentication it refuses to
start; with it, it listens on 127.0.0.1 (unless told otherwise), asks for credentials, and its
Broker tab shows queue depths — the dead-letter queues included — from the management API it is
given. The real ``hub flower`` process on the real RabbitMQ, with a stand-in for RabbitMQ's
management API on 127.0.0.1 (the machine's broker runs without the management plugin)."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread

import httpx
import pytest

from hub.config import Settings
from hub.monitoring import FlowerRefused, authentication, management_api, plan
from tests.conftest import AMQP_URL, ROOT
from tests.security.conftest import free_port

pytestmark = pytest.mark.rabbitmq


class ManagementApi:
    """RabbitMQ's ``GET /api/queues/<vhost>``, answering the queues it is given."""

    def __init__(self, queues: list[dict]) -> None:
        owner = self
        self.paths: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server naming
                owner.paths.append(self.path)
                body = json.dumps(queues).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://guest:guest@127.0.0.1:{self.server.server_address[1]}/api/"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def flower_env(tmp_path: Path, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "FLOWER_"))}
    env.update({"HUB_BROKER_URL": AMQP_URL, "HUB_DATA_DIR": str(tmp_path / "data"), "HUB_FLOWER_PORT": str(port),
                "HUB_NAMESPACE": f"fl{secrets.token_hex(3)}", "HUB_ROUTES_DIR": str(ROOT / "routes"),
                "PYTHONPATH": str(ROOT), **extra})
    return env


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a listening TCP socket on ``port`` (/proc/net/tcp, state 0A)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


@pytest.fixture
def flower(tmp_path: Path) -> Iterator[tuple[int, str, ManagementApi]]:
    """``hub flower`` with basic auth, a free port and the management API stand-in: (port, the
    dead-letter queue shown, the stand-in)."""
    dlq = "hub.dlq.endpoint.erp-inventory"
    management = ManagementApi([{"name": dlq, "messages": 7, "messages_ready": 7, "messages_unacknowledged": 0,
                                 "consumers": 0}])
    port = free_port()
    env = flower_env(tmp_path, port, FLOWER_BASIC_AUTH="ops:correct-horse", HUB_FLOWER_BROKER_API=management.url,
                     HUB_NAMESPACE="hub")
    proc = subprocess.Popen([sys.executable, "-m", "hub", "flower"], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not listening_addresses(port):
            assert proc.poll() is None, proc.stdout.read().decode()[-3000:]
            assert time.monotonic() < deadline, "Flower did not start listening"
            time.sleep(0.2)
        yield port, dlq, management
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        management.stop()


def test_without_authentication_flower_refuses_to_start(tmp_path: Path) -> None:
    port = free_port()
    run = subprocess.run([sys.executable, "-m", "hub", "flower"], env=flower_env(tmp_path, port), cwd=tmp_path,
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "does not start without authentication. Set FLOWER_BASIC_AUTH=user:password" in run.stderr
    assert listening_addresses(port) == set()


def test_flower_listens_on_loopback_asks_for_credentials_and_shows_dead_letter_depths(
        flower: tuple[int, str, ManagementApi]) -> None:
    port, dlq, management = flower
    assert listening_addresses(port) == {"0100007F"}  # 127.0.0.1 only
    base = f"http://127.0.0.1:{port}"
    assert httpx.get(f"{base}/", timeout=10).status_code == 401
    assert httpx.get(f"{base}/api/workers", timeout=10).status_code == 401
    assert httpx.get(f"{base}/", auth=("ops", "wrong"), timeout=10).status_code == 401
    assert httpx.get(f"{base}/", auth=("ops", "correct-horse"), timeout=10).status_code == 200
    broker = httpx.get(f"{base}/broker", auth=("ops", "correct-horse"), timeout=10)
    assert broker.status_code == 200 and dlq in broker.text and management.paths  # asked the management API
    row = broker.text[broker.text.index(dlq):]
    assert ">7<" in row.replace(" ", "")[:600]  # its depth


def test_where_flower_listens_and_whom_it_asks() -> None:
    amqp = Settings(broker_url="amqp://hub:s%40cret@rabbitmq:5672//")
    basic = {"FLOWER_BASIC_AUTH": "ops:pw"}
    assert plan(amqp, env=basic).arguments() == [
        "flower", "--port=5555", "--address=127.0.0.1", "--broker_api=http://hub:s%40cret@rabbitmq:15672/api/"]
    assert plan(amqp, env={**basic, "FLOWER_ADDRESS": "10.0.0.5"}).address == "10.0.0.5"
    hub_address = Settings(broker_url="amqp://rabbitmq//", flower_address="0.0.0.0")
    assert plan(hub_address, env={**basic, "FLOWER_ADDRESS": "10.0.0.5"}).address == "0.0.0.0"
    assert management_api("amqps://u:p@broker.example:5671/prod") == "https://u:p@broker.example:15672/api/"
    oauth = {"FLOWER_AUTH": ".*@hospital.example", "FLOWER_AUTH_PROVIDER": "flower.views.auth.GithubLoginHandler",
             "FLOWER_OAUTH2_KEY": "k", "FLOWER_OAUTH2_SECRET": "s", "FLOWER_OAUTH2_REDIRECT_URI": "https://f/login"}
    assert authentication(oauth) == "oauth"
    for env, reason in [({}, "does not start without authentication"),
                        ({"FLOWER_BASIC_AUTH": "ops:"}, "entry 1 is not user:password"),
                        ({"FLOWER_AUTH": ".*"}, "Flower's OAuth needs FLOWER_AUTH_PROVIDER")]:
        with pytest.raises(FlowerRefused, match=reason):
            authentication(env)
    with pytest.raises(FlowerRefused, match="needs a real broker"):
        plan(Settings(), env=basic)


def test_nothing_else_answers_on_the_flower_port_from_outside(flower: tuple[int, str, ManagementApi]) -> None:
    port = flower[0]
    outside = next((a for a in _local_addresses() if not a.startswith("127.")), None)
    assert outside is not None, "this machine has no address but loopback"
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((outside, port), timeout=5).close()


def _local_addresses() -> list[str]:
    out = subprocess.run(["hostname", "-I"], capture_output=True, text=True, check=False).stdout.split()
    return out or [socket.gethostbyname(socket.gethostname())]
