"""What a route reload may leave behind, through the real RabbitMQ and PostgreSQL: a worker
restarted while a removed route's queue still held messages drains it on its start; a binding a
failed unbind left is removed by the workers' upkeep; a process on another route folder runs the
generation in force instead of recording its own; a key a reload binds counts from when it was
bound, per key and by publish time."""

from __future__ import annotations

import json
import shutil
import time
from datetime import UTC, datetime, timedelta

import pika
import pytest

from hub.app import Hub
from hub.broker.topology import RouteBinding
from hub.console.operators import Principal
from hub.reload.command import reload_routes
from hub.reload.follow import adopt_at_start
from hub.reload.generations import Generation, bound_since, newest_id
from hub.reload.status import current_status
from hub.reload.upkeep import Leftover, leftovers, stale_bindings
from tests.backbone.conftest import HubEnv, consumers, pika_params, wait_for
from tests.backbone.test_e2e_rabbitmq import ONE_ROW
from tests.backbone.test_route_reload import (
    NEW_FILE as PROBE,  # the reload-probe route, endpoint and channel
)

PROBE_KEY = "json.reload_probe.legacy-stock"
OPERATOR = Principal("test-operator", "routes", "cli")


@pytest.fixture
def probe_env(amqp_hub: HubEnv, monkeypatch: pytest.MonkeyPatch) -> HubEnv:
    """The test hub with the probe route in its folder; route files read as the processes do."""
    for name, value in amqp_hub.env.items():
        monkeypatch.setenv(name, value)
    amqp_hub.env["HUB_ROUTES_FOLLOW_INTERVAL"] = "0.5"
    (amqp_hub.root / "routes" / "probe.yaml").write_text(PROBE)
    return amqp_hub


def _ready(queue: str) -> int:
    with pika.BlockingConnection(pika_params()) as conn:
        return conn.channel().queue_declare(queue, passive=True).method.message_count


def _routed_to(queue: str, exchange: str, key: str) -> bool:
    """Does the broker copy a message with ``key`` anywhere (only ``queue`` binds it here)? The
    probe message is taken back off the queue at once."""
    with pika.BlockingConnection(pika_params()) as conn:
        channel = conn.channel()
        channel.confirm_delivery()
        try:
            channel.basic_publish(exchange, key, b"probe", mandatory=True)
        except pika.exceptions.UnroutableError:
            return False
        channel.basic_get(queue, auto_ack=True)
        return True


def _remove_probe_route(env: HubEnv) -> None:
    (env.root / "routes" / "probe.yaml").unlink()
    result = reload_routes(env.hub, OPERATOR)
    assert result.outcome == "applied" and result.changes["routes"]["removed"] == ["reload-probe"], result


def test_a_worker_restarted_while_a_removed_route_held_messages_drains_them(probe_env: HubEnv) -> None:
    env = probe_env
    worker = env.start_worker()  # its start records the generation with the probe route
    queue = env.hub.topology.queue_name("route", "reload-probe")
    wait_for(lambda: consumers(queue) > 0, 60, 0.2, "the worker consuming the probe route")
    env.stop(worker)
    sent = [env.push(f'{{"probe": {i}}}'.encode(), fmt="json", doctype="reload_probe") for i in range(5)]
    wait_for(lambda: _ready(queue) == 5, 30, 0.2, "five messages waiting in the probe route's queue")
    _remove_probe_route(env)  # removed while its queue holds five: no worker runs to drain it

    env.start_worker()  # a fresh worker on a set without the route: its upkeep finds the queue
    arrived = wait_for(lambda: len(b := [r.body for r in list(env.stub.requests)
                                         if r.path == "/inventory/adjustments/reloaded"]) >= 5 and b,
                       60, 0.2, "the five messages delivered on the removed route's last definition")
    assert sorted(json.loads(body)["probe"] for body in arrived) == list(range(5))
    wait_for(lambda: consumers(queue) == 0, 60, 0.3, "the drained queue no longer consumed")
    assert len([r for r in list(env.stub.requests) if r.path == "/inventory/adjustments/reloaded"]) == 5
    for message_id in sent:
        assert env.wait_status(message_id, "delivered", 30)
    assert "still has messages" in env.logs()


def test_a_binding_a_failed_unbind_left_is_removed_by_the_workers_upkeep(probe_env: HubEnv) -> None:
    env = probe_env
    worker = env.start_worker()
    queue = env.hub.topology.queue_name("route", "reload-probe")
    ingress = env.hub.topology.ingress.name
    wait_for(lambda: consumers(queue) > 0, 60, 0.2, "the worker consuming the probe route")
    env.stop(worker)
    _remove_probe_route(env)
    assert not _routed_to(queue, ingress, PROBE_KEY)  # the reload unbound it
    # The broker as an unbind it refused would leave it: the removed route still bound.
    with pika.BlockingConnection(pika_params()) as conn:
        conn.channel().queue_bind(queue, ingress, PROBE_KEY.rsplit(".", 1)[0] + ".*")
    assert _routed_to(queue, ingress, PROBE_KEY)

    env.start_worker()
    wait_for(lambda: not _routed_to(queue, ingress, PROBE_KEY), 60, 0.5, "the upkeep unbinding the stale binding")


def test_a_worker_kept_to_some_queues_takes_a_reload_without_taking_the_new_ones(probe_env: HubEnv) -> None:
    """``hub worker --route … --endpoint …`` follows the generations, but consumes only its own
    queues: a route a reload adds is left to the workers that run every route."""
    env = probe_env
    (env.root / "routes" / "probe.yaml").unlink()
    env.spawn("worker", "--route", "cycle-counts", "--endpoint", "erp-inventory", "--endpoint", "warehouse-folder",
              log="kept")
    wait_for(lambda: consumers(env.hub.topology.queue_name("route", "cycle-counts")) > 0, 60, 0.2,
             "the kept worker consuming its route")
    (env.root / "routes" / "probe.yaml").write_text(PROBE)
    applied = reload_routes(env.hub, OPERATOR).generation
    wait_for(lambda: {p["generation"] for p in current_status(env.hub)["processes"]} == {applied.id}, 60, 0.3,
             "the kept worker on the new generation")
    time.sleep(2)  # a swap that consumed the new route's queue would have done so by now
    assert consumers(env.hub.topology.queue_name("route", "reload-probe")) == 0
    assert consumers(env.hub.topology.queue_name("endpoint", "reload-erp")) == 0
    message_id = env.push(ONE_ROW)  # its own route still flows, on the new generation
    env.wait_delivered(message_id, 2, timeout=60)


def test_a_worker_behind_the_newest_generation_unbinds_nothing(probe_env: HubEnv) -> None:
    """A worker still on generation 2 (without the probe route) while generation 3 has bound it
    again must not take the probe's binding for stale: the message would find no route."""
    from hub.reload.follow import build, put_in_force
    from hub.reload.generations import fetch, load_snapshot
    from hub.reload.worker import WorkerRoutes
    from tests.backbone.test_route_reload_faults import _Loop

    env = probe_env
    first = reload_routes(env.hub, OPERATOR).generation  # with the probe route
    _remove_probe_route(env)
    behind = fetch(env.hub.db)
    (env.root / "routes" / "probe.yaml").write_text(PROBE)
    newest = reload_routes(env.hub, OPERATOR).generation
    assert first.id < behind.id < newest.id
    put_in_force(env.hub, build(env.hub, behind, load_snapshot(behind.snapshot)))
    side = WorkerRoutes(env.hub, _Loop(), None, None)
    side.upkeep_tick(force=True)
    queue = env.hub.topology.queue_name("route", "reload-probe")
    assert _routed_to(queue, env.hub.topology.ingress.name, PROBE_KEY)
    # On the newest generation it runs the upkeep, and the probe stays bound (it binds it).
    put_in_force(env.hub, build(env.hub, fetch(env.hub.db), load_snapshot(fetch(env.hub.db).snapshot)))
    side.upkeep_tick(force=True)
    assert _routed_to(queue, env.hub.topology.ingress.name, PROBE_KEY)


def test_a_process_on_another_folder_runs_the_generation_in_force(probe_env: HubEnv) -> None:
    env = probe_env
    (env.root / "routes" / "probe.yaml").unlink()
    first = reload_routes(env.hub, OPERATOR).generation
    other = env.root / "other-routes"
    shutil.copytree(env.root / "routes", other)
    (other / "probe.yaml").write_text(PROBE)
    elsewhere = Hub(env.hub.settings.model_copy(update={"routes_dir": other}))
    try:
        elsewhere.setup()  # declares the generation in force, not its own folder's extra route
        assert "reload-probe" not in {b.name for b in elsewhere.topology.routes}
        said = adopt_at_start(elsewhere, "test")
        assert f"route generation {first.id} (in force, read from {first.directory}" in said, said
        assert newest_id(env.hub.db) == first.id and "reload-probe" not in elsewhere.routes.routes
        queue = env.hub.topology.queue_name("route", "reload-probe")
        assert not _routed_to(queue, env.hub.topology.ingress.name, PROBE_KEY)
    finally:
        elsewhere.db.dispose()

    # The same folder, edited: a start there is a reload, recorded.
    (env.root / "routes" / "probe.yaml").write_text(PROBE)
    here = Hub(env.hub.settings)
    try:
        here.setup()
        said = adopt_at_start(here, "test")
        assert f"route generation {first.id + 1} (recorded: routes: added reload-probe" in said, said
        assert "reload-probe" in here.routes.routes
    finally:
        here.db.dispose()


# -- when a binding took effect (no broker) --------------------------------------------------------

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


class _Routes:
    """The part of a RouteSet ``bindings_of`` reads."""

    def __init__(self, **keys: tuple[str, ...]) -> None:
        self.enabled_routes = [type("R", (), {"name": name, "route": type("D", (), {
            "from_": type("F", (), {"binding_keys": staticmethod(lambda k=k: list(k))})()})()})()
            for name, k in keys.items()]


def _generation(number: int, since: dict, changes: dict | None = None) -> Generation:
    return Generation(number, "f", T0, "test", "test", "/routes", changes or {}, "", since)


def test_a_key_a_route_gains_counts_from_then_and_its_old_keys_from_the_start() -> None:
    first = _generation(1, {})
    old, new = _Routes(counts=("csv.cycle_count.*",)), _Routes(counts=("csv.cycle_count.*", "json.cycle_count.*"),
                                                                 probe=("json.probe.*",))
    later = T0 + timedelta(hours=1)
    since = bound_since(first, old, new, later)
    assert since == {"counts": {"json.cycle_count.*": later}, "probe": {"json.probe.*": later}}
    binding = RouteBinding("counts", ("csv.cycle_count.*", "json.cycle_count.*"), since["counts"])
    before = later - timedelta(seconds=1)
    assert binding.copied("csv.cycle_count.site-a", before)  # its old key: copied all along
    assert not binding.copied("json.cycle_count.site-a", before)  # published before the new key was bound
    assert binding.copied("json.cycle_count.site-a", later)
    assert binding.copied("json.cycle_count.site-a", None)  # not yet published: it will be, with every binding
    # Kept across a generation that keeps the key; gone with the key.
    again = bound_since(_generation(2, since), new, new, later + timedelta(hours=1))
    assert again == since
    assert bound_since(_generation(3, since), new, old, later + timedelta(hours=2)) == {}


def test_what_earlier_generations_left_is_found_from_their_records() -> None:
    one = _generation(1, {}, {"bindings": {"counts": ["csv.#"], "probe": ["json.probe.*"]},
                              "endpoint_names": ["erp", "probe-erp"]})
    two = _generation(2, {}, {"bindings": {"counts": ["csv.#"]}, "endpoint_names": ["erp"]})
    assert stale_bindings([one, two], two) == {("probe", "json.probe.*")}
    assert leftovers([one, two], {"counts"}, {"erp"}) == [Leftover("endpoint", "probe-erp", 1),
                                                          Leftover("route", "probe", 1)]
    # Disabled in 2 (no binding), edited while disabled in 3: drained on 1, the last that ran it.
    three = _generation(3, {}, {"bindings": {"counts": ["csv.#"]}, "endpoint_names": ["erp"]})
    assert leftovers([one, two, three], {"counts"}, {"erp"})[1] == Leftover("route", "probe", 1)
    four = _generation(4, {}, {"bindings": {"counts": ["csv.#"], "probe": ["json.probe.*"]},
                               "endpoint_names": ["erp", "probe-erp"]})
    assert stale_bindings([one, two, three, four], four) == set()
    assert leftovers([one, two, three, four], {"counts", "probe"}, {"erp", "probe-erp"}) == []


START = """\
from hub.cli import _hub, _load_registry, _start_routes
hub = _hub()
hub.setup()
print(_load_registry(hub))
print(_start_routes(hub, "worker"))
"""


def test_a_restart_after_editing_routes_and_partners_together_takes_both(tmp_path) -> None:
    """The registry of a starting process is checked against its folder's routes, which its
    start puts in force, not against the generation in force before: a partner may name the
    endpoint the same edit adds. (The start sequence of ``hub worker``, on the embedded default.)"""
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    shutil.copytree(ROOT / "routes", tmp_path / "routes")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(HUB_DATA_DIR=str(tmp_path / "data"), HUB_ROUTES_DIR=str(tmp_path / "routes"), PYTHONPATH=str(ROOT),
               HUB_OPERATOR="test")

    def start() -> str:
        res = subprocess.run([sys.executable, "-c", START], env=env, cwd=tmp_path, capture_output=True, text=True,
                             timeout=120)
        assert res.returncode == 0, res.stdout + res.stderr
        return res.stdout

    assert "route generation 1 (recorded" in start()
    endpoints = tmp_path / "routes" / "endpoints.yaml"
    endpoints.write_text(endpoints.read_text().replace("  acme-acks:\n", (
        f"  acme-acks-v2:\n    file:\n      path: {tmp_path / 'acme2'}\n      format: raw\n"
        "      filename: \"{document_type}-{document_key}.x12\"\n\n  acme-acks:\n"), 1))
    partners = tmp_path / "routes" / "partners.yaml"
    assert "ack: acme-acks " in partners.read_text()
    partners.write_text(partners.read_text().replace("ack: acme-acks ", "ack: acme-acks-v2 ", 1))
    said = start()
    assert "changed P-0042" in said and "route generation 2 (recorded: endpoints: added acme-acks-v2)" in said, said
