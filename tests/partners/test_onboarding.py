"""``hub partners add`` writes an entry the hub will load (or nothing, with the reasons) and
prints the next steps; ``hub partners show`` adds the partner's traffic and acknowledgements."""

from __future__ import annotations

from pathlib import Path

from hub.db import Database
from hub.ingest import Inbound, Ingest
from tests.partners.test_registry_file import base_env, copy_routes, run_hub


def routes_copy(tmp_path: Path) -> Path:
    return copy_routes(tmp_path)


ADD = ["partners", "add", "--id", "P-0050", "--name", "Baltic Medical", "--standard", "x12", "--identifier",
       "BALTICMED", "--document", "855", "--document", "856", "--ack", "997", "--ack-within", "12h",
       "--ack-endpoint", "acme-acks", "--as2-id", "BALTIC-AS2", "--as2-certificate", "certs/nordmed-as2.crt"]


def test_add_writes_an_entry_the_hub_loads_and_prints_the_next_steps(tmp_path: Path) -> None:
    routes = routes_copy(tmp_path)
    before = (routes / "partners.yaml").read_text()
    env = base_env(tmp_path, routes)
    result = run_hub(*ADD, env=env)
    assert result.returncode == 0, result.stderr
    assert "P-0050 (Baltic Medical) added to" in result.stdout
    assert "hub partners api-key create P-0050" in result.stdout and "/as2/P-0050" in result.stdout
    text = (routes / "partners.yaml").read_text()
    assert text.startswith(before.rstrip("\n").split("\n")[0]) and "# Credentials never go here" in text  # comments kept
    assert "isa_id: BALTICMED" in text and "status: ONBOARDING" in text

    validated = run_hub("partners", "validate", env=env)
    assert validated.returncode == 0 and "partner(s) OK" in validated.stdout

    again = run_hub(*ADD, env=env)  # the same id: refused, the file untouched
    assert again.returncode == 1 and "already in the registry" in again.stderr
    assert (routes / "partners.yaml").read_text() == text


def test_add_writes_nothing_when_the_entry_would_stop_the_hub(tmp_path: Path) -> None:
    routes = routes_copy(tmp_path)
    before = (routes / "partners.yaml").read_text()
    bad = [*ADD[:-6], "--ack-endpoint", "no-such-endpoint", "--as2-id", "BALTIC-AS2", "--as2-certificate", "certs/none.crt"]
    result = run_hub(*bad, env=base_env(tmp_path, routes))
    assert result.returncode == 1
    assert "endpoint 'no-such-endpoint' is not defined" in result.stderr and "certs/none.crt" in result.stderr
    assert f"{routes / 'partners.yaml'}:" in result.stderr and "nothing written" in result.stderr
    assert (routes / "partners.yaml").read_text() == before


def test_show_adds_traffic_and_acknowledgements(tmp_path: Path) -> None:
    from hub.app import Hub
    from hub.config import Settings
    from hub.partner_sync import sync_partners

    routes = routes_copy(tmp_path)
    env = base_env(tmp_path, routes)
    hub = Hub(Settings(data_dir=tmp_path / "data", routes_dir=routes))
    hub.setup()
    sync_partners(hub)
    Ingest(hub).accept(Inbound(raw=b"ISA...", format="x12", doctype="856", sender="ACMEMED", channel="test"))
    hub.db.dispose()
    shown = run_hub("partners", "show", "P-0042", env=env)
    assert shown.returncode == 0, shown.stderr
    assert '"id": "P-0042"' in shown.stdout
    assert "traffic, last 30 days" in shown.stdout and "messages: " in shown.stdout
    assert "unrouted 1" in shown.stdout or "received 1" in shown.stdout or "routing 1" in shown.stdout
    assert run_hub("partners", "show", "P-9999", env=env).returncode == 1
    assert Database  # the store is the hub's own (HUB_DATA_DIR)
