"""docker-compose.yml and the Dockerfile, checked against the hub's own settings and CLI
(Docker does not run on this machine or on CI, so the file is checked as data)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from ruamel.yaml import YAML
from typer.main import get_command

from hub.cli import app
from hub.config import Settings
from hub.migrate import MIGRATIONS
from tests.conftest import ROOT

COMPOSE = YAML(typ="safe").load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
HUB_SERVICES = {name: s for name, s in SERVICES.items() if s.get("build") == "."}


def expand(value: str) -> str:
    """Compose's ${VAR:-default} with the defaults, and a required ${VAR:?message} as <VAR>."""
    value = re.sub(r"\$\{([A-Z_]+):\?[^}]*\}", r"<\1>", str(value))
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


def test_services_are_there_with_health_checks_and_volumes() -> None:
    assert {"rabbitmq", "postgres", "ingest", "api", "worker", "flower", "migrate", "partners"} <= set(SERVICES)
    assert "management" in SERVICES["rabbitmq"]["image"]
    for name, service in SERVICES.items():
        if name not in ("migrate", "partners"):  # one-shot jobs
            assert "healthcheck" in service, f"{name} has no health check"
    used = {v.split(":")[0] for s in SERVICES.values() for v in s.get("volumes", []) if not v.startswith(".")}
    assert used == set(COMPOSE["volumes"])


def test_hub_environment_names_real_settings() -> None:
    from connectors.edi_out import EdiSettings
    from connectors.inbound.api import ApiSettings

    fields = set()
    for model in (Settings, ApiSettings, EdiSettings):
        prefix = model.model_config["env_prefix"]
        fields |= {f"{prefix}{name}".upper() for name in model.model_fields}
    for name, service in HUB_SERVICES.items():
        for key in service["environment"]:
            if key.startswith("HUB_"):
                assert key in fields, f"{name}: {key} is not a hub setting"


def test_urls_point_at_the_compose_services() -> None:
    for service in HUB_SERVICES.values():
        env = {k: expand(v) for k, v in service["environment"].items()}
        broker, database = urlsplit(env["HUB_BROKER_URL"]), urlsplit(env["HUB_DATABASE_URL"])
        assert broker.scheme == "amqp" and broker.hostname == "rabbitmq" and broker.port == 5672
        assert broker.username == SERVICES["rabbitmq"]["environment"]["RABBITMQ_DEFAULT_USER"]
        assert broker.password == expand(SERVICES["rabbitmq"]["environment"]["RABBITMQ_DEFAULT_PASS"])
        pg = SERVICES["postgres"]["environment"]
        assert database.hostname == "postgres" and database.port == 5432
        assert (database.username, database.path.lstrip("/")) == (pg["POSTGRES_USER"], pg["POSTGRES_DB"])
        assert database.password == expand(pg["POSTGRES_PASSWORD"])
        # The data dir is the mounted volume; the routes dir is the mounted routes folder.
        mounts = dict(v.split(":")[:2][::-1] for v in service["volumes"])
        assert mounts[env["HUB_DATA_DIR"]] == "hub-data" and mounts[env["HUB_ROUTES_DIR"]] == "./routes"


def test_ports_agree_with_settings() -> None:
    defaults = Settings()
    assert f"127.0.0.1:{defaults.flower_port}:{defaults.flower_port}" in SERVICES["flower"]["ports"]
    assert SERVICES["flower"]["environment"]["HUB_FLOWER_PORT"] == str(defaults.flower_port)
    assert "ports" not in SERVICES["rabbitmq"] and "ports" not in SERVICES["postgres"]  # tests/security
    assert str(defaults.flower_port) in " ".join(SERVICES["flower"]["healthcheck"]["test"])
    assert f"{defaults.api_port}:{defaults.api_port}" in SERVICES["api"]["ports"]
    assert SERVICES["api"]["environment"]["HUB_API_PORT"] == str(defaults.api_port)
    assert f":{defaults.api_port}/readyz" in " ".join(SERVICES["api"]["healthcheck"]["test"])


@pytest.mark.parametrize("name", sorted(HUB_SERVICES))
def test_commands_exist_in_the_cli(name: str) -> None:
    cli = get_command(app)
    command = HUB_SERVICES[name]["command"]
    group = cli
    for word in command:
        if word.startswith("-"):
            break
        assert word in group.commands, f"{name}: `hub {' '.join(command)}` is not a command"
        group = group.commands[word]
    health = HUB_SERVICES[name].get("healthcheck", {}).get("test", [])
    if health[:2] == ["CMD", "hub"]:
        assert health[2] in cli.commands


def test_dockerfile_installs_the_packages_and_routes() -> None:
    text = (ROOT / "Dockerfile").read_text()
    for folder in ("hub", "edi", "connectors", "transforms", "routes"):
        assert f"COPY {folder} " in text
    assert 'ENTRYPOINT ["hub"]' in text and "USER hub" in text
    assert "HUB_DATA_DIR=/var/lib/hub" in text and "HUB_ROUTES_DIR=/etc/hub/routes" in text
    assert MIGRATIONS.is_relative_to(ROOT / "hub")  # migrations ship inside the package


def test_every_python_folder_is_a_package() -> None:
    """setuptools only ships regular packages: a folder without __init__.py would be missing
    from the Docker image while working in the editable checkout."""
    for top in ("hub", "edi", "connectors", "transforms"):
        for folder in (ROOT / top).rglob("*"):
            if folder.is_dir() and "__pycache__" not in folder.parts and any(folder.glob("*.py")):
                assert (folder / "__init__.py").exists(), f"{folder.relative_to(ROOT)} lacks __init__.py"


def test_a_worker_node_name_keeps_the_form_hub_health_recognises(tmp_path, monkeypatch) -> None:
    """``hub worker --hostname`` (two workers on one host with names of their own): a name that
    ``hub health`` would not recognise as this hub's worker is refused before anything starts."""
    import socket

    from typer.testing import CliRunner

    from hub.cli import _own_node_name
    from hub.app import Hub

    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HUB_NAMESPACE", "site1")
    hub = Hub(Settings())
    host = socket.gethostname()
    assert _own_node_name(hub, f"site1-worker-a@{host}")
    assert not _own_node_name(hub, f"site1-@{host}") and not _own_node_name(hub, f"other-a@{host}")
    assert not _own_node_name(hub, "site1-a@elsewhere")
    from hub.config import get_settings

    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["worker", "--hostname", "worker-a@elsewhere"])
    finally:
        get_settings.cache_clear()  # the next test reads its own environment
    assert result.exit_code == 2 and "site1-NAME@" in result.output
