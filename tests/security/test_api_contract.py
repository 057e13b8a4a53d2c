"""The inbound API keeps its contract: authentication before anything else (401 always precedes
422), an OpenAPI document that declares what the API does (security schemes, public health
checks, every status with one error model, the 202's Location, the parameters' limits, the
content types), /metrics for operations only, refused authentications recorded within a budget,
and schemathesis — every check, a fixed seed, bounded examples — finding nothing. Against
``hub api``'s own server on 127.0.0.1."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from connectors.inbound.api import RecordingBudget
from connectors.inbound.apimodels import CONTENT_TYPES, FORMATS
from hub.app import Hub
from tests.security.conftest import METRICS_TOKEN, RunningApi, api_settings, events

pytestmark = pytest.mark.postgres

SCHEMATHESIS_CONFIG = Path(__file__).with_name("schemathesis.toml")
BAD_PARAMETERS = [
    {"doctype": "cycle\x00count"}, {"doctype": "x" * 300}, {"doctype": "a.b"}, {"format": "exe"},
    {"filename": "a\x00b"}, {"ack": "later"}, {"doctype": "\x1b[2J"},
]
NO_OR_WRONG_KEY = [{}, {"X-API-Key": "shk_0000000000000000_" + "A" * 43}, {"Authorization": "ApiKey nonsense"},
                   {"X-API-Key": ""}, {"Idempotency-Key": "\x7f" * 300}]


@pytest.mark.parametrize("params", BAD_PARAMETERS, ids=lambda p: next(iter(p)))
def test_401_comes_before_any_parameter_is_judged(api: RunningApi, params: dict[str, str]) -> None:
    for headers in NO_OR_WRONG_KEY:
        resp = httpx.post(f"{api.url}/api/v1/messages", params=params, content=b"a,b\n",
                          headers={"Content-Type": "text/csv", **headers}, timeout=10)
        assert resp.status_code == 401, (params, headers, resp.text)
        assert resp.headers["WWW-Authenticate"] == "ApiKey" and set(resp.json()) == {"error"}
    resp = httpx.get(f"{api.url}/api/v1/messages/not%00an-id", timeout=10)
    assert resp.status_code == 401


def test_with_a_key_bad_parameters_are_a_422_in_the_one_error_shape(api: RunningApi, keys: dict[str, str]) -> None:
    resp = httpx.post(f"{api.url}/api/v1/messages", params={"doctype": "x" * 300, "format": "exe"}, content=b"a",
                      headers={"X-API-Key": keys["P-0500"]}, timeout=10)
    assert resp.status_code == 422
    body = resp.json()
    assert body["error"].startswith("invalid request: query.format: ")
    assert {p["where"] for p in body["problems"]} == {"query.format", "query.doctype"}
    missing = httpx.get(f"{api.url}/nowhere", timeout=10)
    assert missing.status_code == 404 and missing.json() == {"error": "Not Found"}
    wrong = httpx.delete(f"{api.url}/healthz", timeout=10)
    assert wrong.status_code == 405 and wrong.json() == {"error": "Method Not Allowed"}


def test_the_openapi_document_declares_the_contract(api: RunningApi) -> None:
    spec = httpx.get(f"{api.url}/openapi.json", timeout=10).json()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["ApiKey"] == {"type": "apiKey", "in": "header", "name": "X-API-Key",
                                 "description": schemes["ApiKey"]["description"]}
    assert schemes["MetricsToken"]["scheme"] == "bearer"
    paths = spec["paths"]
    post, get = paths["/api/v1/messages"]["post"], paths["/api/v1/messages/{message_id}"]["get"]
    for operation in (post, get):
        assert operation["security"] == [{"ApiKey": []}, {"ApiKeyAuthorization": []}]
    assert paths["/healthz"]["get"]["security"] == [] and paths["/readyz"]["get"]["security"] == []
    assert paths["/metrics"]["get"]["security"] == [{"MetricsToken": []}]
    assert list(paths["/metrics"]["get"]["responses"]["200"]["content"]) == ["text/plain"]
    error_ref = {"$ref": "#/components/schemas/ErrorBody"}
    documented = {"400", "401", "403", "408", "409", "413", "422", "431", "503"}
    assert documented | {"202"} == set(post["responses"])
    for status in documented:
        assert post["responses"][status]["content"]["application/json"]["schema"] == error_ref, status
    accepted = post["responses"]["202"]
    assert accepted["headers"]["Location"]["required"] is True
    assert accepted["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/MessageAccepted"}
    params = {p["name"]: p["schema"] for p in post["parameters"]}
    fmt = next(s for s in params["format"]["anyOf"] if "enum" in s)
    assert sorted(fmt["enum"]) == sorted(FORMATS)
    doctype = next(s for s in params["doctype"]["anyOf"] if s.get("type") == "string")
    assert doctype["maxLength"] == 64 and doctype["pattern"] == "^[A-Za-z0-9_-]{1,64}$"
    assert set(post["requestBody"]["content"]) == set(CONTENT_TYPES) | {"application/octet-stream"}


def test_metrics_are_for_the_operations_token_only(api: RunningApi, sec_hub: Hub, keys: dict[str, str]) -> None:
    url = f"{api.url}/metrics"
    assert httpx.get(url, timeout=10).status_code == 401
    assert httpx.get(url, headers={"X-API-Key": keys["P-0042"]}, timeout=10).status_code == 401
    wrong = httpx.get(url, headers={"Authorization": "Bearer not-the-token"}, timeout=10)
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"] == "Bearer"
    ok = httpx.get(url, headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10)
    assert ok.status_code == 200 and ok.headers["content-type"].startswith("text/plain")
    assert "hub_security_events_total" in ok.text
    with RunningApi(sec_hub, api_settings(metrics_token=None)) as untokened:
        off = httpx.get(f"{untokened.url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10)
    assert off.status_code == 403 and "HUB_API_METRICS_TOKEN" in off.json()["error"]


def test_refused_authentications_are_recorded_within_a_budget(sec_hub: Hub,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    before = len(events(sec_hub, "auth_failed"))
    with RunningApi(sec_hub, api_settings(auth_failures_recorded_per_minute=3)) as api:
        for n in range(20):
            resp = httpx.post(f"{api.url}/api/v1/messages", content=b"a",
                              headers={"X-API-Key": f"shk_{n:016x}_" + "B" * 43}, timeout=10)
            assert resp.status_code == 401
    assert len(events(sec_hub, "auth_failed")) - before == 3
    assert len([r for r in caplog.records if "refused (auth_failed)" in r.getMessage()]) == 3


def test_what_the_budget_skipped_is_counted_on_the_next_record() -> None:
    budget = RecordingBudget(2)
    budget.WINDOW = 0.2
    assert [budget.take("192.0.2.1", "auth_failed") for _ in range(5)] == [0, 0, None, None, None]
    assert budget.take("192.0.2.9", "auth_failed") == 0  # another address has its own budget
    time.sleep(0.25)
    assert budget.take("192.0.2.1", "auth_failed") == 3


# The inbound API's own operations. The operations console (hub/console) is mounted on the same
# application under /api/v1/ops and /console with a contract of its own.
INBOUND_OPERATIONS = r"^/(api/v1/messages|healthz|readyz|metrics)"


def test_schemathesis_finds_nothing(api: RunningApi, keys: dict[str, str], tmp_path: Path) -> None:
    """`st run` with every check, a fixed seed and bounded examples, authenticated as the
    hospital's stock system (it may post cycle counts) and with the operations token."""
    command = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(SCHEMATHESIS_CONFIG), "run",
               f"{api.url}/openapi.json", "--checks", "all", "--seed", "20261120", "--max-examples", "30",
               "--include-path-regex", INBOUND_OPERATIONS,
               "--workers", "1", "--generation-database", "none", "--no-color",
               "-H", f"X-API-Key: {keys['P-0500']}", "-H", f"Authorization: Bearer {METRICS_TOKEN}"]
    # In a folder of its own: schemathesis keeps state in ./.schemathesis.
    run = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "failure" not in run.stdout.rsplit("SUMMARY", 1)[-1]
