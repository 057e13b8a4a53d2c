"""Route reload under faults, in-process against the real PostgreSQL (through a proxy this test
can cut) and RabbitMQ: a pool process building a batch's route generation while the database
is away waits it out; one it cannot build sends the batch back and never runs it on another
generation; a changed endpoint's old sender is closed."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery.exceptions import Reject
from sqlalchemy.engine import make_url

from hub.app import Hub
from hub.config import Settings
from hub.delivery import deliver
from hub.reload import pool
from hub.reload.follow import build, put_in_force
from hub.reload.generations import Generation, fetch, load_snapshot, read_snapshot, record
from tests.backbone.conftest import ErpStub
from tests.conftest import PG_URL, fresh_schema
from tests.connectors.tcpproxy import TcpProxy

ROUTE = """\
routes:
  - name: probe
    from: {{format: json, doctype: reload_probe}}
    steps:
      - parse: json
    to: [probe-erp]

endpoints:
  probe-erp:
    http:
      url: {url}
      format: json
"""


@pytest.fixture
def proxied_hub(tmp_path: Path) -> Iterator[tuple[Hub, TcpProxy]]:
    """A hub (embedded broker) whose PostgreSQL is reached through a proxy the test can cut."""
    url = make_url(PG_URL)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    with fresh_schema() as schema_url:
        through = make_url(schema_url).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        (tmp_path / "routes").mkdir()
        hub = Hub(Settings(data_dir=tmp_path / "data", database_url=through, routes_dir=tmp_path / "routes",
                           namespace=f"t{secrets.token_hex(4)}"))
        hub.setup()
        pool._views.clear()
        pool._unbuildable.clear()
        try:
            yield hub, proxy
        finally:
            proxy.restore()
            pool._views.clear()
            pool._unbuildable.clear()
            deliver._senders.pop("probe-erp", None)
            hub.db.dispose()
            proxy.stop()


def _record(hub: Hub, previous: Generation | None, url: str) -> Generation:
    """Write the route file pointing at ``url`` and record it as the next generation."""
    (hub.settings.routes_dir / "probe.yaml").write_text(ROUTE.format(url=url))
    snapshot, problems = read_snapshot(hub.settings.routes_dir)
    assert not problems
    old = load_snapshot(previous.snapshot) if previous is not None else None
    return record(hub.db, snapshot, load_snapshot(snapshot), previous, old, by="test", via="test")


def test_pool_builds_a_generation_through_a_database_outage_and_never_runs_another(
        proxied_hub: tuple[Hub, TcpProxy], erp_stub: ErpStub) -> None:
    hub, proxy = proxied_hub
    first = _record(hub, None, f"{erp_stub.url}/first")
    put_in_force(hub, build(hub, first, load_snapshot(first.snapshot)))
    second = _record(hub, fetch(hub.db, first.id), f"{erp_stub.url}/second")

    # This process's sender of the endpoint, holding a keep-alive socket to the partner.
    old_sender = deliver.sender(hub, "probe-erp")
    assert old_sender.wire.request("POST", b"{}", {"Content-Type": "application/json"}).status < 500
    held = list(old_sender.wire._idle)
    assert held, "the stub kept the connection alive"

    # The database goes away while a batch of generation 2 arrives: the build waits it out.
    proxy.cut()
    threading.Timer(1.5, proxy.restore).start()
    view = pool.view_for(hub, second.id)
    assert view.generation.id == second.id and hub.generation.id == first.id
    assert view.routes.endpoints["probe-erp"].http.url == f"{erp_stub.url}/second"
    assert "hub.route.probe" in view.celery.tasks
    # The changed endpoint's old sender was dropped and its socket closed, not leaked.
    assert "probe-erp" not in deliver._senders
    assert old_sender.wire._idle == [] and all(conn.sock is None for conn in held)

    # A generation this process cannot build: the batch goes back to its queue (never runs on
    # generation 1), and the store is not asked again for the next batch of it.
    with pytest.raises(Reject) as refused:
        pool.view_for(hub, second.id + 5)
    assert refused.value.requeue and "no such generation" in str(refused.value.reason)
    refused_before = proxy.refused
    proxy.cut()
    with pytest.raises(Reject):
        pool.view_for(hub, second.id + 5)
    assert proxy.refused == refused_before, "the store was asked again for a generation known not to build"
    assert pool.view_for(hub, second.id) is view  # kept
