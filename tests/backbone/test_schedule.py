"""The store-driven scheduler (hub.delivery.schedule) on the real PostgreSQL and RabbitMQ, with
no worker: what it releases lands in the endpoint's queue, where pika counts it."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from hub.delivery.circuit import DatabaseCircuits, EndpointCircuit
from hub.delivery.schedule import run_due
from hub.store import DeadLetter, Delivery, Stage, utcnow
from tests.backbone.conftest import HubEnv, consumers, pika_params
from tests.backbone.test_e2e_rabbitmq import EXAMPLE

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]
ERP = "erp-inventory"


def _ready(queue: str) -> int:
    import pika

    conn = pika.BlockingConnection(pika_params())
    try:
        return conn.channel().queue_declare(queue, passive=True).method.message_count
    finally:
        conn.close()


def _erp_deliveries(env: HubEnv, state: str, count: int) -> list[str]:
    """Route one example file in-process and put its ERP deliveries into ``state``."""
    from hub.processing import TaskContext, run_route

    message_id = env.push(EXAMPLE)
    run_route(env.hub, "cycle-counts", message_id, TaskContext())
    with env.hub.db.session() as s:
        ids = list(s.scalars(select(Delivery.id).where(Delivery.message_id == message_id, Delivery.endpoint == ERP)))
        s.execute(update(Delivery).where(Delivery.id.in_(ids)).values(status=state))
    assert len(ids) == count
    return ids


def _circuit(env: HubEnv, **values) -> None:
    with env.hub.db.session() as s:
        if s.get(EndpointCircuit, ERP) is None:
            s.add(EndpointCircuit(endpoint=ERP, state="closed", failures=0, probes=0, updated_at=utcnow()))
            s.flush()
        s.execute(update(EndpointCircuit).where(EndpointCircuit.endpoint == ERP).values(**values))


def _states(env: HubEnv, ids: list[str]) -> list[str]:
    with env.hub.db.session() as s:
        return sorted(s.scalars(select(Delivery.status).where(Delivery.id.in_(ids))))


def test_one_probe_per_pass_while_open_then_all_when_closed(amqp_hub: HubEnv) -> None:
    queue = amqp_hub.hub.topology.queue_name("endpoint", ERP)
    assert consumers(queue) == 0
    before = _ready(queue)
    ids = _erp_deliveries(amqp_hub, "waiting", 3)
    now = time.time()
    _circuit(amqp_hub, state="open", failures=3, opened_at=now - 60, down_since=now - 60, probes=0)
    assert run_due(amqp_hub.hub)["probe"] == 1
    assert _states(amqp_hub, ids) == ["pending", "waiting", "waiting"]
    assert run_due(amqp_hub.hub)["probe"] == 1  # still due (nobody took the first): one more, never all
    DatabaseCircuits(amqp_hub.hub.db).record(ERP, True, True, amqp_hub.hub.routes.endpoint(ERP).circuit)
    assert run_due(amqp_hub.hub)["circuit_closed"] == 1
    assert _states(amqp_hub, ids) == ["pending"] * 3
    assert _ready(queue) - before >= 3  # their task messages are on the broker
    with amqp_hub.hub.db.session() as s:
        reasons = sorted(st.detail["reason"] for st in s.scalars(
            select(Stage).where(Stage.delivery_id.in_(ids), Stage.stage == "resent")))
    assert reasons == ["circuit_closed", "probe", "probe"]


def test_an_outage_longer_than_max_outage_parks_the_waiting_deliveries(amqp_hub: HubEnv) -> None:
    ids = _erp_deliveries(amqp_hub, "waiting", 3)
    day_ago = time.time() - 25 * 3600
    _circuit(amqp_hub, state="open", failures=900, opened_at=time.time(), down_since=day_ago, probes=30,
             last_error="connection refused")
    assert run_due(amqp_hub.hub)["endpoint_unavailable"] == 3
    assert _states(amqp_hub, ids) == ["dead_lettered"] * 3
    with amqp_hub.hub.db.session() as s:
        letters = list(s.scalars(select(DeadLetter).where(DeadLetter.delivery_id.in_(ids))))
    assert {dl.reason for dl in letters} == {"endpoint_unavailable"}
    assert "longer than max_outage (1 day, 0:00:00)" in letters[0].error and "connection refused" in letters[0].error


def test_due_retries_are_released_and_expired_leases_count_until_the_delivery_limit(amqp_hub: HubEnv) -> None:
    retrying = _erp_deliveries(amqp_hub, "retrying", 3)
    with amqp_hub.hub.db.session() as s:
        s.execute(update(Delivery).where(Delivery.id == retrying[0]).values(next_attempt_at=utcnow() + timedelta(hours=1)))
        s.execute(update(Delivery).where(Delivery.id.in_(retrying[1:])).values(next_attempt_at=utcnow()))
    assert run_due(amqp_hub.hub)["retry_due"] == 2
    assert _states(amqp_hub, retrying) == ["pending", "pending", "retrying"]

    sending = _erp_deliveries(amqp_hub, "sending", 3)
    limit = amqp_hub.hub.settings.delivery_limit
    with amqp_hub.hub.db.session() as s:  # a worker died holding them; one of them for the limit-th time
        s.execute(update(Delivery).where(Delivery.id.in_(sending)).values(
            lease_until=utcnow() - timedelta(seconds=1), lease_holder="elsewhere:1:x", failures=0))
        s.execute(update(Delivery).where(Delivery.id == sending[0]).values(failures=limit - 1))
    done = run_due(amqp_hub.hub)
    assert (done["lease_expired"], done["worker_lost"]) == (2, 1)
    with amqp_hub.hub.db.session() as s:
        rows = {d.id: d for d in s.scalars(select(Delivery).where(Delivery.id.in_(sending)))}
        (letter,) = s.scalars(select(DeadLetter).where(DeadLetter.delivery_id == sending[0]))
    assert rows[sending[0]].status == "dead_lettered" and letter.reason == "worker_lost"
    assert [rows[i].status for i in sending[1:]] == ["pending", "pending"]
    assert [rows[i].failures for i in sending[1:]] == [1, 1]
