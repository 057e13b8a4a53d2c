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


@pytest.fixture(autouse=True)
def _quiet_store(amqp_hub: HubEnv) -> None:
    """The session's schema holds earlier tests' deliveries: settle them, and forget circuits, so
    each test's scheduler pass sees only its own."""
    from sqlalchemy import delete

    with amqp_hub.hub.db.session() as s:
        s.execute(update(Delivery).where(Delivery.status.not_in(("delivered", "dead_lettered")))
                  .values(status="delivered"))
        s.execute(delete(EndpointCircuit))


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
    run_route(env.hub, "cycle-counts", message_id, TaskContext())  # deliveries left pending, not sent
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


def test_a_wait_longer_than_max_outage_is_parked_and_a_fresh_one_is_not(amqp_hub: HubEnv) -> None:
    ids = _erp_deliveries(amqp_hub, "waiting", 3)
    fresh = _erp_deliveries(amqp_hub, "waiting", 3)  # arrived during the long outage
    day_ago = time.time() - 25 * 3600
    with amqp_hub.hub.db.session() as s:
        s.execute(update(Delivery).where(Delivery.id.in_(ids)).values(waiting_since=utcnow() - timedelta(hours=25)))
        s.execute(update(Delivery).where(Delivery.id.in_(fresh)).values(waiting_since=utcnow()))
    _circuit(amqp_hub, state="open", failures=900, opened_at=time.time() - 60, down_since=day_ago, probes=30,
             last_error="connection refused")
    done = run_due(amqp_hub.hub)
    assert (done["endpoint_unavailable"], done["probe"]) == (3, 1)  # and probing goes on
    assert _states(amqp_hub, ids) == ["dead_lettered"] * 3
    assert _states(amqp_hub, fresh) == ["pending", "waiting", "waiting"]
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
            lease_until=utcnow() - timedelta(seconds=1), lease_holder="elsewhere/1/1/1/x", failures=2, lost=0))
        s.execute(update(Delivery).where(Delivery.id == sending[0]).values(lost=limit - 1))
    done = run_due(amqp_hub.hub)
    assert (done["lease_expired"], done["worker_lost"]) == (2, 1)
    with amqp_hub.hub.db.session() as s:
        rows = {d.id: d for d in s.scalars(select(Delivery).where(Delivery.id.in_(sending)))}
        (letter,) = s.scalars(select(DeadLetter).where(DeadLetter.delivery_id == sending[0]))
    assert rows[sending[0]].status == "dead_lettered" and letter.reason == "worker_lost"
    assert [rows[i].status for i in sending[1:]] == ["pending", "pending"]
    # A lost worker is not the document's failure: its retries are untouched.
    assert [(rows[i].lost, rows[i].failures) for i in sending[1:]] == [(1, 2), (1, 2)]


def test_the_probe_is_the_waiting_delivery_with_the_fewest_outages_of_its_own(amqp_hub: HubEnv) -> None:
    ids = _erp_deliveries(amqp_hub, "waiting", 3)
    with amqp_hub.hub.db.session() as s:  # the oldest one timed out five times by itself
        s.execute(update(Delivery).where(Delivery.id == ids[0]).values(outages=5))
    now = time.time()
    _circuit(amqp_hub, state="open", failures=3, opened_at=now - 60, down_since=now - 60, probes=0)
    assert run_due(amqp_hub.hub)["probe"] == 1
    with amqp_hub.hub.db.session() as s:
        assert s.get(Delivery, ids[0]).status == "waiting"


def test_a_half_open_circuit_whose_probe_never_reported_gets_another_probe(amqp_hub: HubEnv) -> None:
    ids = _erp_deliveries(amqp_hub, "waiting", 3)
    now = time.time()
    _circuit(amqp_hub, state="half_open", failures=3, opened_at=now - 60, down_since=now - 60, probes=1,
             probe_until=now + 30)
    assert run_due(amqp_hub.hub)["probe"] == 0  # its probe may still report
    _circuit(amqp_hub, probe_until=now - 1)  # its worker died, or the database went away as it settled
    assert run_due(amqp_hub.hub)["probe"] == 1
    assert _states(amqp_hub, ids) == ["pending", "waiting", "waiting"]


def test_a_notice_that_cannot_be_delivered_is_not_announced_by_another(amqp_hub: HubEnv) -> None:
    """A route with dead_letter.notify: a parked document is announced once; the announcement
    failing in turn (its endpoint down past max_outage, say) is parked without a new notice."""
    from hub.deadletters import park
    from hub.processing import TaskContext, run_route
    from hub.store.status import changing

    message_id = amqp_hub.push(b'{"document_type": "purchase_order", "po_number": "PO-9"}', fmt="json",
                               doctype="po_update", sender="erp")
    run_route(amqp_hub.hub, "po-updates", message_id, TaskContext())

    def park_delivery(delivery: Delivery) -> None:
        with changing(amqp_hub.hub, [message_id]) as s:
            park(amqp_hub.hub, s, task_name=f"hub.deliver.{delivery.endpoint}", task_args=[delivery.id],
                 message_id=message_id, delivery_id=delivery.id, reason="endpoint_unavailable", error="down")

    (document,) = amqp_hub.deliveries(message_id)
    park_delivery(document)
    (notice,) = [d for d in amqp_hub.deliveries(message_id) if d.document_type == "dead_letter_notice"]
    assert notice.endpoint == "notices"
    park_delivery(notice)
    assert [d.document_type for d in amqp_hub.deliveries(message_id)].count("dead_letter_notice") == 1
    assert len(amqp_hub.dead_letters(message_id)) == 2


def test_an_outage_answer_for_one_document_while_the_endpoint_takes_others_spends_its_retries(
        amqp_hub: HubEnv) -> None:
    """A 504 every time for one document, 200 for the others: not an outage of the endpoint
    (its circuit keeps closing), so after the circuit's threshold of such answers it counts as
    this document's failure — it cannot wait for ever."""
    from hub.delivery.deliver import deliver
    from hub.delivery.holders import new_holder

    amqp_hub.stub.refuse[b'"ST-10023"'] = 504
    ids = _erp_deliveries(amqp_hub, "pending", 3)
    with amqp_hub.hub.db.session() as s:
        bad = next(d.id for d in s.scalars(select(Delivery).where(Delivery.id.in_(ids))) if b"ST-10023" in d.payload)
    good = [i for i in ids if i != bad]
    for round_, other in enumerate([*good, None]):
        outcome = deliver(amqp_hub.hub, ERP, bad, new_holder())
        if round_ < 2:
            assert outcome.startswith("unavailable")  # waits: the endpoint may be down
            assert deliver(amqp_hub.hub, ERP, other, new_holder()) == "delivered"  # it is not
            with amqp_hub.hub.db.session() as s:
                s.execute(update(Delivery).where(Delivery.id == bad).values(status="pending"))  # released
    with amqp_hub.hub.db.session() as s:
        row = s.get(Delivery, bad)
    assert (outcome, row.status, row.failures) == ("retry", "retrying", 1)
    assert "every time for this document, while the endpoint takes others" in row.last_error
