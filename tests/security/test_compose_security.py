"""docker-compose.yml exposes nothing it need not and starts nothing unsafe. No Docker engine
runs on this machine or on CI, so the file is checked as data: no broker, database or management
port published (the debugging override binds them to loopback), no default passwords (compose
refuses to start without them), every file endpoint writing under the volume the ``hub`` user
owns, the partner registry loaded before anything takes a message, and a worker health check
that proves the worker consumes — that last one run for real against a worker on RabbitMQ."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import pytest
from ruamel.yaml import YAML

from hub.stubs import ErpStub
from hub.yamlfile import load_yaml
from tests.backbone.conftest import HubEnv, _delete_namespace, _teardown, make_env
from tests.conftest import AMQP_URL, ROOT
from tests.connectors.conftest import drop_schema, new_schema

COMPOSE = YAML(typ="safe").load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
HUB_SERVICES = {name: s for name, s in SERVICES.items() if s.get("build") == "."}
DEBUG = YAML(typ="safe").load((ROOT / "docker-compose.debug.yml").read_text())
SECRET = re.compile(r"PASSWORD|PASS\b|SECRET|TOKEN|BASIC_AUTH|_KEY\b")
VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(:?[-?])?([^}]*)\}")
INTERNAL_PORTS = {5672, 15672, 5432}


def strings(node: object) -> Iterator[tuple[str, str]]:
    """(key, string value) of every string in a compose tree."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, str):
                yield str(key), value
            else:
                yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from (("", value),) if isinstance(value, str) else strings(value)


def published(service: dict) -> list[tuple[str, int]]:
    """(host address, container port) of each published port; "" = every interface."""
    out = []
    for spec in service.get("ports", []):
        parts = str(spec).split(":")
        host = parts[0] if len(parts) == 3 else ""
        out.append((host, int(parts[-1].split("/")[0])))
    return out


def test_no_broker_database_or_management_port_is_published() -> None:
    exposed = {name: published(s) for name, s in SERVICES.items() if s.get("ports")}
    assert exposed == {"api": [("", 8080)], "flower": [("127.0.0.1", 5555)]}
    for name, service in DEBUG["services"].items():  # the debugging override: loopback only
        assert {port for _, port in published(service)} <= INTERNAL_PORTS
        assert all(host == "127.0.0.1" for host, _ in published(service)), name
    assert not (ROOT / "docker-compose.override.yml").exists()  # compose would load it by default


def test_no_secret_has_a_default_and_compose_refuses_to_start_without_them() -> None:
    secrets_seen = set()
    for key, value in strings(COMPOSE):
        for name, operator, rest in VARIABLE.findall(value):
            if SECRET.search(name):
                secrets_seen.add(name)
                assert operator == ":?" and rest.strip(), f"{key}: ${{{name}}} must be ${{{name}:?message}}"
        if SECRET.search(key) and "${" not in value:
            pytest.fail(f"{key} has a literal value in docker-compose.yml")
    assert {"RABBITMQ_PASSWORD", "POSTGRES_PASSWORD", "FLOWER_BASIC_AUTH"} <= secrets_seen


def test_every_file_endpoint_writes_under_the_hub_volume() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "USER hub" in dockerfile and "chown -R hub:hub /var/lib/hub" in dockerfile
    for name, service in HUB_SERVICES.items():
        env = {k: str(v) for k, v in service["environment"].items()}
        volume = PurePosixPath(env["HUB_DATA_DIR"])
        mounts = dict(v.split(":")[:2][::-1] for v in service["volumes"])
        assert mounts[str(volume)] == "hub-data"
        folders = []
        for path in sorted((ROOT / "routes").glob("*.yaml")):
            doc, problems = load_yaml(path, env)
            assert doc is not None and not problems, problems
            for endpoint, config in (doc.data.get("endpoints") or {}).items():
                if "file" in config:
                    folders.append((endpoint, PurePosixPath(config["file"]["path"])))
        assert folders, "the example routes have file endpoints"
        for endpoint, folder in folders:
            assert folder.is_absolute() and folder.is_relative_to(volume), f"{name}: {endpoint} writes to {folder}"


def test_the_partner_registry_is_loaded_before_anything_takes_a_message() -> None:
    assert SERVICES["partners"]["command"] == ["partners", "load"]
    assert SERVICES["partners"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    for name in ("ingest", "api", "worker", "flower"):
        assert SERVICES[name]["depends_on"]["partners"]["condition"] == "service_completed_successfully", name


def test_the_worker_health_check_asks_the_worker_itself() -> None:
    assert SERVICES["worker"]["healthcheck"]["test"] == ["CMD", "hub", "health", "--worker"]


@pytest.fixture
def worker_env(tmp_path: Path, namespace: str) -> Iterator[HubEnv]:
    schema, url = new_schema()
    stub = ErpStub().start()
    env = make_env(tmp_path, database_url=url, broker_url=AMQP_URL, namespace=namespace, stub=stub)
    yield env
    _teardown(env)
    _delete_namespace(env)
    stub.stop()
    drop_schema(schema)


@pytest.mark.rabbitmq
@pytest.mark.postgres
def test_hub_health_worker_passes_only_while_a_worker_consumes(worker_env: HubEnv) -> None:
    idle = worker_env.hub_cli("health", "--worker", check=False)
    assert idle.returncode == 1 and f"no worker of {worker_env.hub.settings.namespace}" in idle.stderr
    assert worker_env.hub_cli("health", check=False).returncode == 0  # database and broker alone are not enough
    worker = worker_env.start_worker()
    ok = worker_env.hub_cli("health", "--worker", check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "a worker on this host consumes" in ok.stdout
    worker_env.stop(worker)
    assert worker_env.hub_cli("health", "--worker", check=False).returncode == 1
