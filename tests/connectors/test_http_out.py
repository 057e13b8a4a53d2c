"""Outbound HTTP, hardened: OAuth2 client credentials against a local token server (cache,
expiry, refresh on 401), how answers are classified for the delivery core (an outage is not a
document failure), rate limit and concurrency cap holding under a burst from several
processes (state in PostgreSQL), timeouts. The endpoint circuit: tests/backbone/test_circuit.py."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from connectors.outbound import Payload
from connectors.outbound.guards import DatabaseGuards, LocalGuards, gcra
from connectors.outbound.http import HttpSender
from connectors.outbound.oauth2 import TokenCache
from hub.db import Database
from hub.routes.model import HttpConfig
from tests.conftest import ROOT
from tests.connectors.httpstubs import ResourceServer, TokenServer

pytestmark = pytest.mark.postgres


@pytest.fixture
def tokens(monkeypatch: pytest.MonkeyPatch) -> Iterator[TokenServer]:
    monkeypatch.setenv("ERP_CLIENT_ID", "hub-client")
    monkeypatch.setenv("ERP_CLIENT_SECRET", "client-secret-for-tests")
    server = TokenServer("hub-client", "client-secret-for-tests")
    yield server
    server.stop()


@pytest.fixture
def resource() -> Iterator[ResourceServer]:
    server = ResourceServer()
    yield server
    server.stop()


@pytest.fixture
def db(schema_url: str) -> Iterator[Database]:
    database = Database(schema_url)
    yield database
    database.dispose()


def payload(n: int = 0) -> Payload:
    return Payload(delivery_id=f"d-{n}", message_id="m-1", route="r", endpoint="erp", seq=n, body=b'{"n":%d}' % n,
                   content_type="application/json", idempotency_key=f"d-{n}")


def config(url: str, **extra) -> HttpConfig:
    return HttpConfig.model_validate({"url": url, **extra})


def oauth2(tokens: TokenServer, **extra) -> dict:
    return {"auth": {"oauth2": {"token_url": f"{tokens.url}/token", "client_id_env": "ERP_CLIENT_ID",
                                "client_secret_env": "ERP_CLIENT_SECRET", **extra}}}


def unique(name: str) -> str:
    return f"{name}-{time.time_ns()}"


# -- OAuth2 -------------------------------------------------------------------------------------

def test_oauth2_token_is_fetched_once_and_reused(tokens: TokenServer, resource: ResourceServer) -> None:
    resource.tokens = tokens
    cache = TokenCache()
    sender = HttpSender("erp", config(f"{resource.url}/docs", **oauth2(tokens, scope="inventory.write")), tokens=cache)
    assert [sender.send(payload(i)).outcome for i in range(3)] == ["delivered"] * 3
    assert cache.fetches == 1 and len(tokens.issued) == 1
    assert tokens.requests[0] == {"grant_type": "client_credentials", "scope": "inventory.write"}
    assert {c.headers["Authorization"] for c in resource.calls} == {f"Bearer {tokens.issued[0]}"}


def test_oauth2_token_is_refreshed_before_it_expires(tokens: TokenServer, resource: ResourceServer) -> None:
    resource.tokens = tokens
    tokens.lifetime = 2
    cache = TokenCache()
    sender = HttpSender("erp", config(resource.url, **oauth2(tokens, refresh_before="1s")), tokens=cache)
    assert sender.send(payload(1)).outcome == "delivered"
    assert sender.send(payload(2)).outcome == "delivered"
    assert cache.fetches == 1
    time.sleep(1.1)  # inside refresh_before of the 2 s lifetime: a new token is fetched first
    assert sender.send(payload(3)).outcome == "delivered"
    assert cache.fetches == 2
    assert [c.headers["Authorization"] for c in resource.calls] == [f"Bearer {t}" for t in
                                                                   (tokens.issued[0], tokens.issued[0], tokens.issued[1])]


def test_oauth2_401_fetches_a_new_token_and_calls_once_more(tokens: TokenServer, resource: ResourceServer) -> None:
    resource.tokens = tokens
    cache = TokenCache()
    sender = HttpSender("erp", config(resource.url, **oauth2(tokens)), tokens=cache)
    assert sender.send(payload(1)).outcome == "delivered"
    tokens.revoked.add(tokens.issued[0])  # revoked by the authorisation server before it expired
    result = sender.send(payload(2))
    assert result.outcome == "delivered" and result.status_code == 200
    assert [c.status for c in resource.calls] == [200, 401, 200]
    assert cache.fetches == 2


def test_oauth2_bad_client_secret_and_missing_variables_make_the_endpoint_unavailable(tokens: TokenServer, resource: ResourceServer,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ERP_CLIENT_SECRET", "wrong")
    sender = HttpSender("erp", config(resource.url, **oauth2(tokens)), tokens=TokenCache())
    result = sender.send(payload())
    # No document can go out: the endpoint counts as down (its circuit opens), no retry is spent.
    assert result.outcome == "unavailable" and "answered HTTP 401" in result.error and "/token" in result.error
    monkeypatch.delenv("ERP_CLIENT_SECRET")
    result = sender.send(payload())
    assert result.outcome == "unavailable" and "ERP_CLIENT_SECRET" in result.error and "not set" in result.error
    assert resource.calls == []  # never called without a token
    assert "wrong" not in json.dumps(tokens.requests)  # the secret travels in the basic auth header only


def test_oauth2_config_refuses_two_auth_kinds() -> None:
    with pytest.raises(ValueError, match="choose one of bearer_env, basic_\\*_env or oauth2"):
        config("http://x", auth={"bearer_env": "T", "oauth2": {"token_url": "http://t", "client_id_env": "A",
                                                              "client_secret_env": "B"}})


# -- classification -----------------------------------------------------------------------------

@pytest.mark.parametrize(("status", "outcome"), [
    (200, "delivered"), (201, "delivered"), (500, "retry"), (501, "retry"), (408, "retry"), (505, "retry"),
    (502, "unavailable"), (503, "unavailable"), (504, "unavailable"), (429, "unavailable"),
    (400, "reject"), (404, "reject"), (409, "reject"), (422, "reject"),
])
def test_answers_are_classified_for_the_delivery_core(resource: ResourceServer, status: int, outcome: str) -> None:
    resource.answer(status)
    result = HttpSender("erp", config(resource.url)).send(payload())
    assert (result.outcome, result.status_code, result.called) == (outcome, status, True)


def test_retry_after_is_passed_on_in_seconds_or_as_a_date(resource: ResourceServer) -> None:
    from email.utils import format_datetime
    from datetime import UTC, datetime, timedelta

    sender = HttpSender("erp", config(resource.url))
    resource.answer_with(429, {"Retry-After": "7"})
    assert sender.send(payload()).retry_after == 7.0
    resource.answer_with(503, {"Retry-After": format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)})
    assert sender.send(payload()).retry_after == pytest.approx(90, abs=2)
    resource.answer_with(503, {"Retry-After": "soon"})
    assert sender.send(payload()).retry_after is None


def test_missing_credentials_make_the_endpoint_unavailable_without_a_call(resource: ResourceServer) -> None:
    sender = HttpSender("erp", config(resource.url, auth={"bearer_env": "HUB_TEST_UNSET_TOKEN"}))
    result = sender.send(payload())
    assert (result.outcome, result.called) == ("unavailable", False)
    assert "HUB_TEST_UNSET_TOKEN" in result.error and resource.calls == []


# -- rate limit and concurrency -----------------------------------------------------------------

BURST_SCRIPT = """
import json, sys, threading
from connectors.outbound import Payload
from connectors.outbound.guards import DatabaseGuards
from connectors.outbound.http import HttpSender
from hub.db import Database
from hub.routes.model import HttpConfig

url, name, cfg, count, tag = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
sender = HttpSender(name, HttpConfig.model_validate(cfg), DatabaseGuards(Database(url)))
out = []
def one(i):
    out.append(sender.send(Payload(f"{tag}-{i}", "m", "r", name, i, b"{}", "application/json", f"{tag}-{i}")).outcome)
threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
[t.start() for t in threads]
[t.join() for t in threads]
print(json.dumps(out))
"""


def burst(db: Database, name: str, cfg: dict, processes: int, each: int) -> list[str]:
    procs = [subprocess.Popen([sys.executable, "-c", BURST_SCRIPT, db.url, name, json.dumps(cfg), str(each), f"p{i}"],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(processes)]
    outcomes = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        outcomes += json.loads(out)
    return outcomes


def test_rate_limit_holds_under_a_burst_from_three_processes(resource: ResourceServer, db: Database) -> None:
    per_second, burst_size = 10.0, 3
    cfg = {"url": resource.url, "rate_limit": {"per_second": per_second, "burst": burst_size}, "max_wait": "30s"}
    outcomes = burst(db, unique("erp"), cfg, processes=3, each=8)
    assert outcomes == ["delivered"] * 24
    times = sorted(c.at for c in resource.calls)
    # Never more calls in any window than the bucket allows. Send times are booked exactly; the
    # arrivals may bunch by the jitter between booking and arrival (thread wake-up, loopback).
    jitter = 0.15
    for i in range(len(times)):
        for j in range(i, len(times)):
            assert j - i + 1 <= burst_size + (times[j] - times[i] + jitter) * per_second, (i, j, times[j] - times[i])
    assert times[-1] - times[0] >= (24 - burst_size) / per_second * 0.9


def test_rate_limit_beyond_max_wait_is_busy_without_a_call(resource: ResourceServer) -> None:
    sender = HttpSender("erp", config(resource.url, rate_limit={"per_second": 1, "burst": 1}, max_wait="0.2s"),
                        LocalGuards())
    assert sender.send(payload(1)).outcome == "delivered"
    result = sender.send(payload(2))
    assert result.outcome == "busy" and not result.called
    assert "rate limit 1/s (burst 1) booked beyond 0.2s" in result.error
    assert len(resource.calls) == 1


def test_concurrency_cap_holds_across_processes(resource: ResourceServer, db: Database) -> None:
    resource.delay = 0.2
    cfg = {"url": resource.url, "max_concurrency": 2, "max_wait": "30s"}
    outcomes = burst(db, unique("erp"), cfg, processes=3, each=4)
    assert outcomes == ["delivered"] * 12
    assert resource.max_in_flight == 2


def test_a_crashed_holder_frees_its_slot_when_the_lease_ends(db: Database) -> None:
    guards, name = DatabaseGuards(db), unique("erp")
    # Its process dies without releasing. (The lease is long enough for the second acquire to
    # come inside it on a loaded machine: 0.3 s was not.)
    held = guards.acquire(name, 1, lease=1.5)
    assert held is not None and guards.acquire(name, 1, lease=1.5) is None
    time.sleep(1.6)
    taken = guards.acquire(name, 1, lease=5)
    assert taken is not None
    guards.release(name, held)  # the late release of the dead holder frees nothing
    assert guards.acquire(name, 1, lease=5) is None
    guards.release(name, taken)
    assert guards.acquire(name, 1, lease=5) is not None


def test_gcra_books_calls_in_order() -> None:
    tat, waits = 0.0, []
    for _ in range(5):
        tat, wait = gcra(tat, 100.0, per_second=2, burst=2, max_wait=10)
        waits.append(wait)
    assert waits == [0.0, 0.0, 0.5, 1.0, 1.5]
    assert gcra(tat, 100.0, per_second=2, burst=2, max_wait=1.9) is None


# -- timeouts -----------------------------------------------------------------------------------

def test_read_timeout_means_the_endpoint_is_unavailable(resource: ResourceServer) -> None:
    resource.delay = 1.0
    result = HttpSender("erp", config(resource.url, timeout="0.2s", connect_timeout="1s")).send(payload())
    assert result.outcome == "unavailable" and result.error.startswith("timeout after 0.2s")


def test_connection_refused_means_the_endpoint_is_unavailable() -> None:
    result = HttpSender("down", config("http://127.0.0.1:1/x")).send(payload())
    assert result.outcome == "unavailable" and result.error.startswith("connection error: ConnectError")


@pytest.mark.parametrize("kind", ["database", "local"])
def test_both_guard_stores_book_like_the_gcra_rule(kind: str, db: Database) -> None:
    guards = DatabaseGuards(db) if kind == "database" else LocalGuards()
    name = unique("rate")

    def book(max_wait: float) -> float | None:
        wait = guards.reserve(name, 2.0, 2, max_wait)
        return None if wait is None else time.time() + wait  # when this caller will send

    sends = [book(10.0) for _ in range(5)]
    # Relative to the first: two at once (burst 2), then one every 0.5 s. (Measured in wall time:
    # each booking's round trip to the database shifts it by its latency, tens of ms on a busy
    # machine; a wrong rule is off by the 0.5 s spacing.)
    assert [t - sends[0] for t in sends] == pytest.approx([0.0, 0.0, 0.5, 1.0, 1.5], abs=0.1)
    assert book(1.0) is None  # the next free time is ~2 s after the first send
    assert book(10.0) - sends[0] == pytest.approx(2.0, abs=0.1)  # the refusal booked nothing


# -- the wire (connectors.outbound.wire) ----------------------------------------------------------

def test_https_is_verified_with_httpx_trust_and_an_idle_connection_closed_by_the_server_is_replaced(
        tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Deliveries go over http.client: TLS is verified as httpx verified it (SSL_CERT_FILE is
    honoured, an unknown certificate is a connection error, so the endpoint is unavailable), and
    a keep-alive connection the server closed while idle is noticed and replaced, not failed."""
    import http.server
    import ssl
    import threading

    crt, key = tmp_path / "erp.crt", tmp_path / "erp.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt, "-days",
                    "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], check=True,
                   capture_output=True, timeout=60)
    seen: list[tuple[str, bytes]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802
            seen.append((self.headers["Idempotency-Key"], self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(201)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
            self.close_connection = len(seen) == 1  # the first connection is closed after its answer

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(crt, key)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"https://127.0.0.1:{server.server_address[1]}/erp"
    try:
        untrusted = HttpSender("erp", config(url)).send(payload(0))
        assert untrusted.outcome == "unavailable" and untrusted.error.startswith("connection error: ConnectError")
        assert "CERTIFICATE_VERIFY_FAILED" in untrusted.error and seen == []
        monkeypatch.setenv("SSL_CERT_FILE", str(crt))
        sender = HttpSender("erp", config(url))
        assert sender.wire is not None  # no proxy configured: the lean path
        results = [sender.send(payload(1))]
        time.sleep(0.2)  # the server has closed the idle connection meanwhile
        results += [sender.send(payload(n)) for n in (2, 3)]
        assert [(r.outcome, r.status_code, r.response) for r in results] == [("delivered", 201, "ok")] * 3
        assert seen == [("d-1", b'{"n":1}'), ("d-2", b'{"n":2}'), ("d-3", b'{"n":3}')]
    finally:
        server.shutdown()
        server.server_close()
