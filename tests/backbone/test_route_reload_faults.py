"""Route reload under faults, in-process against the real PostgreSQL (through a proxy this test
can cut) and RabbitMQ: a pool process building a batch's route generation while the database
is away waits it out; one it cannot build sends the batch back and never runs it on another
generation; a changed endpoint's old sender is closed; a removed endpoint's queue is consumed
until the removed route feeding it is drained and its deliveries are out; the watcher retries
an edit whose reload failed; a follower's failed pass is reported with its reason."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from pathlib import Path

import pika
import pytest
from celery.exceptions import Reject
from sqlalchemy import func, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from hub.app import Hub
from hub.config import Settings
from hub.console.models import AuditEntry
from hub.console.operators import Principal
from hub.delivery import deliver
from hub.delivery.states import DELIVERED, PENDING
from hub.ids import new_id
from hub.reload import pool
from hub.reload.cli import format_status
from hub.reload.command import ACTION, reload_routes
from hub.reload.follow import RoutesFollower, build, put_in_force
from hub.reload.generations import Generation, fetch, load_snapshot, read_snapshot, record
from hub.reload.status import current_status
from hub.reload.worker import WorkerRoutes
from hub.store import Delivery
from tests.backbone.conftest import ErpStub, HubEnv, pika_params, wait_for
from tests.backbone.test_e2e_rabbitmq import ONE_ROW
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


class _Loop:
    """Stands in for Celery's consumer loop in ``WorkerRoutes.drain_tick``: runs what is handed
    to it at once and records the queues it stops consuming (the queues and the store are real)."""

    def __init__(self) -> None:
        self.cancelled: list[str] = []

    def call_soon(self, fn, *args) -> None:
        fn(*args)

    def cancel_task_queue(self, queue: str) -> None:
        self.cancelled.append(queue)


def test_a_removed_endpoint_queue_outlives_the_removed_route_that_feeds_it(amqp_hub: HubEnv) -> None:
    env, hub = amqp_hub, amqp_hub.hub
    route = hub.routes.routes["cycle-counts"].route
    endpoint = route.to[0]
    route_queue, endpoint_queue = hub.topology.queue_name("route", route.name), hub.topology.queue_name("endpoint", endpoint)
    message_id = env.push(ONE_ROW)  # ready in the route's queue: no worker consumes it
    loop = _Loop()
    side = WorkerRoutes(hub, loop, None, None)
    assert side.grace == hub.settings.relay_grace + hub.settings.batch_linger
    side.drain(route_queue, "route", route.to)  # both removed by a reload
    side.drain(endpoint_queue, "endpoint")

    # The route still drains (a message ready): the endpoint it sends to is not stopped, though
    # nothing is ready in the endpoint's queue.
    side.drain_tick()
    assert loop.cancelled == []

    # The route's message is taken and makes a pending delivery: the route queue is drained and
    # stopped; the endpoint's is not while the delivery is on its way.
    with pika.BlockingConnection(pika_params()) as conn:
        conn.channel().queue_purge(route_queue)
    with hub.db.session() as session:
        session.add(Delivery(id=new_id(), message_id=message_id, route=route.name, endpoint=endpoint, seq=0,
                             payload=b"{}", content_type="application/json", idempotency_key=new_id()[:32],
                             status=PENDING))
    side.drain_tick()
    assert loop.cancelled == [route_queue]
    side.drain_tick()
    assert loop.cancelled == [route_queue]

    # Delivered: the endpoint queue is stopped once that has held for the grace, not at once.
    with hub.db.session() as session:
        session.execute(update(Delivery).where(Delivery.message_id == message_id).values(status=DELIVERED))
    side.drain_tick()
    assert loop.cancelled == [route_queue] and endpoint_queue in side.quiet_since
    wait_for(lambda: side.drain_tick() or endpoint_queue in loop.cancelled, 10, 0.2, "the endpoint queue stopped")
    assert loop.cancelled == [route_queue, endpoint_queue] and side.draining == {}


def test_watcher_retries_an_edit_whose_reload_failed_and_status_shows_a_failed_pass(
        proxied_hub: tuple[Hub, TcpProxy]) -> None:
    hub, proxy = proxied_hub
    (hub.settings.routes_dir / "probe.yaml").write_text(ROUTE.format(url="http://127.0.0.1:9/first"))
    first = reload_routes(hub, Principal("test-operator", "routes", "cli")).generation
    put_in_force(hub, build(hub, fetch(hub.db, first.id), load_snapshot(fetch(hub.db, first.id).snapshot)))
    watcher = RoutesFollower(hub, "watch", interval=60, watch=1e-9)

    # An edit while the store is away: the reload fails, the edit is not taken for seen.
    (hub.settings.routes_dir / "probe.yaml").write_text(ROUTE.format(url="http://127.0.0.1:9/second"))
    proxy.cut()
    with pytest.raises(OperationalError):
        watcher.watch_folder()
    proxy.restore()
    watcher.watch_folder()
    assert fetch(hub.db).id == first.id + 1 and fetch(hub.db).via == "watch"

    # An invalid edit is refused once, not again at every look at an unchanged folder.
    (hub.settings.routes_dir / "probe.yaml").write_text(ROUTE.format(url="http://127.0.0.1:9/third")
                                                        .replace("to: [probe-erp]", "to: [nowhere]"))
    watcher.watch_folder()
    watcher.watch_folder()
    with hub.db.read() as session:
        refusals = session.scalar(select(func.count()).select_from(AuditEntry)
                                  .where(AuditEntry.action == ACTION, AuditEntry.outcome == "refused"))
    assert refusals == 1 and fetch(hub.db).id == first.id + 1

    # A pass that fails (here the worker's loop not taking the generation) is still reported,
    # with its reason: hub routes status shows the process behind, and why.
    (hub.settings.routes_dir / "probe.yaml").write_text(ROUTE.format(url="http://127.0.0.1:9/fourth"))
    assert reload_routes(hub, Principal("test-operator", "routes", "cli")).outcome == "applied"
    def not_taken(state) -> None:
        raise TimeoutError(f"the worker's consumer loop did not take route generation {state.generation.id}")

    follower = RoutesFollower(hub, "worker", swap=not_taken, interval=60, watch=0)
    with pytest.raises(TimeoutError):
        follower.step()
    mine = next(p for p in current_status(hub)["processes"] if p["process"] == follower.process)
    assert mine["generation"] == first.id + 1 and "did not take route generation" in mine["error"]
    shown = "\n".join(format_status(current_status(hub)))
    assert "BEHIND" in shown and "did not take route generation" in shown
    follower.swap = lambda state: put_in_force(hub, state)
    follower.step()
    mine = next(p for p in current_status(hub)["processes"] if p["process"] == follower.process)
    assert mine["generation"] == first.id + 2 and mine["error"] is None


def test_a_late_swap_never_takes_a_worker_back_to_an_older_generation(proxied_hub: tuple[Hub, TcpProxy]) -> None:
    hub, _proxy = proxied_hub
    first = _record(hub, None, "http://127.0.0.1:9/first")
    second = _record(hub, fetch(hub.db, first.id), "http://127.0.0.1:9/second")
    put_in_force(hub, build(hub, second, load_snapshot(second.snapshot)))
    side = WorkerRoutes(hub, _Loop(), None, None)
    # The swap to generation 1 the follower gave up waiting for runs in the loop after generation 2's.
    side.apply(build(hub, first, load_snapshot(first.snapshot)))
    side.apply(build(hub, second, load_snapshot(second.snapshot)))
    assert hub.generation.id == second.id
    assert hub.routes.endpoints["probe-erp"].http.url == "http://127.0.0.1:9/second"
