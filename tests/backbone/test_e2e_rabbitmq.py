"""The backbone end to end on the real RabbitMQ and PostgreSQL, with a real worker process.

pika is used as an independent AMQP client to check what is really on the broker."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pika
import pytest

from tests.backbone.conftest import HubEnv, pika_params, wait_for
from tests.conftest import ROOT

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]

EXAMPLE = (ROOT / "examples/cycle-counts/counts-2026-11-20.csv").read_bytes()
ONE_ROW = b"Facility,Location,Item,Lot,Expiry,Counted Qty,UOM\nHOSP1,CENTRAL-A03,ST-10022,A1234,2027-09-30,120,EA\n"


def dlq_messages(queue: str) -> list[tuple[dict, dict]]:
    """Browse a DLQ with pika (get, then requeue by closing): [(headers, body)]."""
    conn = pika.BlockingConnection(pika_params())
    ch = conn.channel()
    out = []
    while True:
        method, props, body = ch.basic_get(queue, auto_ack=False)
        if method is None:
            break
        out.append((props.headers or {}, json.loads(body)))
    conn.close()
    return out


def test_queue_arguments_on_the_broker(amqp_hub: HubEnv) -> None:
    t = amqp_hub.hub.topology
    conn = pika.BlockingConnection(pika_params())
    ch = conn.channel()
    route_q = t.queue_name("route", "cycle-counts")
    # Redeclaring with the same arguments succeeds; with other arguments the broker refuses:
    # so the broker really holds exactly these arguments.
    ch.queue_declare(route_q, durable=True, arguments={
        "x-queue-type": "quorum", "x-delivery-limit": 3, "x-dead-letter-exchange": t.dlx.name,
        "x-dead-letter-routing-key": t.dlq_name("route", "cycle-counts"),
        "x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"})
    with pytest.raises(pika.exceptions.ChannelClosedByBroker, match="PRECONDITION_FAILED"):
        ch.queue_declare(route_q, durable=True, arguments={"x-queue-type": "classic"})
    conn.close()


def test_csv_flow_to_http_and_folder(amqp_hub: HubEnv) -> None:
    amqp_hub.start_worker()
    message_id = amqp_hub.push(EXAMPLE, filename="counts.csv")
    deliveries = amqp_hub.wait_delivered(message_id, 6, timeout=60)
    assert {d.endpoint for d in deliveries} == {"erp-inventory", "warehouse-folder"}
    # The ERP got three canonical InventoryAdjustments, each applied once.
    assert len(amqp_hub.stub.applied) == 3
    docs = [json.loads(b) for b in amqp_hub.stub.applied.values()]
    assert {d["document_type"] for d in docs} == {"inventory_adjustment"}
    assert sorted(d["qty"] for d in docs) == ["120", "14", "3"]  # decimals as strings, never floats
    assert {d["type"] for d in docs} == {"CYCLE_COUNT"}
    files = sorted((amqp_hub.warehouse).glob("*.json"))
    assert len(files) == 3 and not list(amqp_hub.warehouse.glob(".*"))  # no temp files left behind
    stages = [s.stage for s in amqp_hub.stages(message_id)]
    assert stages[:4] == ["received", "published", "routed", "transformed"]
    assert stages.count("delivered") == 6
    trace = amqp_hub.hub_cli("trace", message_id).stdout
    for stage in ("received", "published", "routed", "transformed", "delivered"):
        assert stage in trace


def test_an_endpoint_answering_503_waits_without_spending_retries_then_applied_once(amqp_hub: HubEnv) -> None:
    """503 means the ERP is down, not that the document is bad: three 503s open its circuit
    (the default threshold), the delivery waits, a probe gets through, and it is applied once
    with no retry spent and nothing dead-lettered."""
    amqp_hub.start_worker()
    amqp_hub.stub.answer(503, 503, 503)
    message_id = amqp_hub.push(ONE_ROW)
    deliveries = amqp_hub.wait_delivered(message_id, 2, timeout=40)
    erp = next(d for d in deliveries if d.endpoint == "erp-inventory")
    attempts = amqp_hub.attempts(erp.id)
    assert [a.outcome for a in attempts] == ["unavailable", "unavailable", "unavailable", "delivered"]
    assert [a.status_code for a in attempts] == [503, 503, 503, 200]
    assert erp.failures == 0 and amqp_hub.dead_letters(message_id) == []
    # One idempotency key across all four calls, and the document applied once.
    keys = {r.headers["Idempotency-Key"] for r in amqp_hub.stub.requests}
    assert keys == {erp.idempotency_key}
    assert len(amqp_hub.stub.requests) == 4 and len(amqp_hub.stub.applied) == 1
    trace = amqp_hub.hub_cli("trace", message_id).stdout
    attempt_lines = [ln for ln in trace.splitlines() if f"delivery {erp.id[:8]}  attempt" in ln]
    assert len(attempt_lines) == 4
    assert all(ln.split()[5:8] == ["unavailable", "HTTP", "503"] for ln in attempt_lines[:3])
    assert attempt_lines[3].split()[5:8] == ["delivered", "HTTP", "200"]
    stages = [s.stage for s in amqp_hub.stages(message_id)]
    assert stages.count("waiting") == 3 and "retrying" not in stages and "dead_lettered" not in stages
    assert amqp_hub.message(message_id).status == "delivered"


def test_business_reject_goes_to_dlq_and_replay_delivers(amqp_hub: HubEnv) -> None:
    amqp_hub.start_worker()
    amqp_hub.stub.answer(400)
    message_id = amqp_hub.push(ONE_ROW)
    letters = wait_for(lambda: amqp_hub.dead_letters(message_id), 30, what="a dead letter")
    (dl,) = letters
    assert dl.endpoint == "erp-inventory" and dl.reason == "rejected_by_endpoint"
    assert "HTTP 400" in dl.error and "document refused by the ERP" in dl.error
    erp = next(d for d in amqp_hub.deliveries(message_id) if d.endpoint == "erp-inventory")
    assert [a.outcome for a in amqp_hub.attempts(erp.id)] == ["reject"]  # no retries for a business reject
    queue = amqp_hub.hub.topology.dlq_name("endpoint", "erp-inventory")
    parked = wait_for(lambda: dlq_messages(queue), 10, what="the message on the DLQ")
    assert len(parked) == 1
    headers, body = parked[0]
    assert headers["hub_reason"] == "rejected_by_endpoint" and headers["hub_dead_letter_id"] == dl.id
    assert body[0] == [erp.id]
    assert dl.id in amqp_hub.hub_cli("dlq", "list").stdout

    # The ERP is fixed (the stub accepts again); the operator replays.
    amqp_hub.hub_cli("replay", dl.id, "--reason", "item unblocked in the ERP")
    wait_for(lambda: len(amqp_hub.stub.applied) == 1, 30, what="the replayed delivery")
    assert dlq_messages(queue) == []
    with amqp_hub.hub.db.session() as s:
        from hub.store import DeadLetter, Replay

        replay = s.query(Replay).filter(Replay.dead_letter_id == dl.id).one()
        assert (replay.by, replay.reason) == ("test-operator", "item unblocked in the ERP")
        assert s.get(DeadLetter, dl.id).state == "replayed"
    assert "replays:" in amqp_hub.hub_cli("trace", message_id).stdout


def test_bad_csv_is_dead_lettered_with_row_and_column(amqp_hub: HubEnv) -> None:
    amqp_hub.start_worker()
    raw = (ROOT / "examples/cycle-counts/bad-counts.csv").read_bytes()
    message_id = amqp_hub.push(raw, filename="bad-counts.csv")
    (dl,) = wait_for(lambda: amqp_hub.dead_letters(message_id), 30, what="a dead letter")
    assert dl.route == "cycle-counts" and dl.reason == "bad_csv"
    assert "line 2, column 'Expiry': '2027-09-31' is not a date" in dl.error
    assert "line 3, column 'Counted Qty': 'fourteen' is not a number" in dl.error
    # Nothing lost: the raw file is kept byte for byte, and the message sits in the route's DLQ.
    assert amqp_hub.hub.store.raw(amqp_hub.message(message_id)) == raw
    parked = wait_for(lambda: dlq_messages(amqp_hub.hub.topology.dlq_name("route", "cycle-counts")), 10,
                      what="the DLQ message")
    assert parked[0][1][0] == [message_id]


def test_sigkill_mid_delivery_redelivers_and_applies_once(amqp_hub: HubEnv) -> None:
    amqp_hub.stub.delay = 3.0
    worker = amqp_hub.start_worker()
    message_id = amqp_hub.push(ONE_ROW)
    wait_for(lambda: amqp_hub.stub.arrived, 30, what="the ERP call in flight")
    amqp_hub.kill(worker)  # SIGKILL to the worker and its pool children, mid-request
    assert not amqp_hub.stub.applied or len(amqp_hub.stub.applied) == 1
    amqp_hub.stub.delay = 0.0
    amqp_hub.start_worker()
    deliveries = amqp_hub.wait_delivered(message_id, 2, timeout=40)
    erp = next(d for d in deliveries if d.endpoint == "erp-inventory")
    assert amqp_hub.stub.arrived.count(erp.idempotency_key) >= 2  # it really was sent again
    assert list(amqp_hub.stub.applied) == [erp.idempotency_key]  # and applied once


def test_poison_message_reaches_dlq_after_delivery_limit_and_others_flow(amqp_hub: HubEnv) -> None:
    amqp_hub.start_worker()
    poison = amqp_hub.push(b"POISON", fmt="text", doctype="crash", sender="lab")
    fine = [amqp_hub.push(f"ok {i}".encode(), fmt="text", doctype="crash", sender="lab") for i in range(5)]
    for message_id in fine:
        amqp_hub.wait_delivered(message_id, 1, timeout=60)
    queue = amqp_hub.hub.topology.dlq_name("route", "crashy")
    parked = wait_for(lambda: dlq_messages(queue), 90, interval=0.5, what="the poison message on the DLQ")
    headers, body = parked[0]
    assert body[0] == [poison]
    assert headers["x-death"][0]["reason"] == "delivery_limit"
    # The hub records what the broker dead-lettered on its own.
    res = amqp_hub.hub_cli("dlq", "list", "--route", "crashy")
    listing = res.stdout + res.stderr
    assert "delivery_limit" in listing and poison in listing
    assert amqp_hub.message(poison).status == "dead_lettered"
    assert len(list((amqp_hub.warehouse / "crash").glob("*"))) == 5


def test_broker_outage_at_ingest_is_caught_up_by_the_relay(amqp_hub: HubEnv) -> None:
    """Messages committed while the broker is unreachable are published later by the relay."""
    from hub.config import Settings
    from hub.app import Hub

    dead_broker = Hub(Settings(**{**amqp_hub.hub.settings.model_dump(), "broker_url": "amqp://guest:guest@127.0.0.1:1//"}))
    dead_broker.routes = amqp_hub.hub.routes
    from hub.ingest import Inbound, Ingest

    accepted = Ingest(dead_broker).accept(Inbound(raw=ONE_ROW, format="csv", doctype="cycle_count",
                                                  sender="legacy-stock", channel="test"))
    assert not accepted.published
    assert amqp_hub.message(accepted.message_id).status == "received"
    amqp_hub.start_worker()  # its relay republishes the outbox row
    amqp_hub.wait_delivered(accepted.message_id, 2, timeout=40)
    assert [s.stage for s in amqp_hub.stages(accepted.message_id)][:2] == ["received", "published"]


def test_replay_a_whole_dlq_since_a_time(amqp_hub: HubEnv) -> None:
    amqp_hub.start_worker()
    amqp_hub.stub.answer(400, 400)
    first, second = amqp_hub.push(ONE_ROW), amqp_hub.push(ONE_ROW)
    wait_for(lambda: amqp_hub.dead_letters(first) and amqp_hub.dead_letters(second), 30, what="two dead letters")
    queue = amqp_hub.hub.topology.dlq_name("endpoint", "erp-inventory")
    future = "2100-01-01T00:00:00"
    out = amqp_hub.hub_cli("replay", "--dlq", queue, "--since", future, "--reason", "nothing that new").stdout
    assert "replayed 0 dead letter(s)" in out and len(dlq_messages(queue)) == 2
    out = amqp_hub.hub_cli("replay", "--dlq", queue, "--since", "2000-01-01T00:00:00", "--reason", "ERP fixed").stdout
    assert "replayed 2 dead letter(s)" in out
    wait_for(lambda: len(amqp_hub.stub.applied) == 2, 30, what="both replayed deliveries applied")
    assert dlq_messages(queue) == []


def test_flower_shows_the_hub_tasks(amqp_hub: HubEnv) -> None:
    import socket
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    amqp_hub.env["HUB_FLOWER_PORT"] = str(port)
    amqp_hub.env["FLOWER_BASIC_AUTH"] = "ops:s3cret"  # Flower's API refuses to serve unauthenticated
    amqp_hub.spawn("flower", log="flower")
    amqp_hub.start_worker()
    message_id = amqp_hub.push(ONE_ROW)
    amqp_hub.wait_delivered(message_id, 2)

    import base64

    def tasks() -> dict:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/tasks", headers={
            "Authorization": "Basic " + base64.b64encode(b"ops:s3cret").decode()})
        try:
            with urllib.request.urlopen(request, timeout=5) as resp:
                return json.loads(resp.read())
        except OSError:
            return {}

    seen = wait_for(lambda: {t["name"] for t in tasks().values()} >= {"hub.route.cycle-counts",
                             "hub.deliver.erp-inventory", "hub.deliver.warehouse-folder"} and tasks(), 60,
                    interval=0.5, what="Flower listing the hub's tasks")
    assert any(t["args"] == f"['{message_id}']" for t in seen.values())


def _counts_with_an_unknown_item(amqp_hub: HubEnv, unknown: str) -> tuple[bytes, str]:
    """Example crosswalk loaded, a worker running, and a count of a known item (778899 → ST-10022)
    and of ``unknown`` pushed through the crosswalk route; (raw file, message id)."""
    amqp_hub.hub_cli("xref", "load", str(ROOT / "examples/xref/crosswalk.yaml"))
    amqp_hub.start_worker()
    raw = (b"Facility,Location,Item,Counted Qty,UOM\n"
           b"HOSP1,CENTRAL-A03,778899,14,BX\n"
           b"HOSP1,CENTRAL-A03," + unknown.encode() + b",2,EA\n")
    return raw, amqp_hub.push(raw, doctype="cycle_count_xref", filename=f"counts-{unknown.lower()}.csv")


def test_crosswalk_and_uom_convert_through_the_broker(amqp_hub: HubEnv) -> None:
    """Known item: resolved and converted to its base unit, delivered. Unknown item: held with a
    business exception record. Nothing lost: the raw file is kept and the hold is traced."""
    from hub.business_exceptions import BusinessException

    raw, message_id = _counts_with_an_unknown_item(amqp_hub, "NO-SUCH-ITEM")
    (delivery,) = amqp_hub.wait_delivered(message_id, 1)
    doc = json.loads(amqp_hub.stub.applied[delivery.idempotency_key])
    assert (doc["item_id"], doc["qty"], doc["uom"], doc["base_qty"], doc["base_uom"]) == (
        "ST-10022", "14", "BX", "140", "EA")
    held = wait_for(lambda: [s for s in amqp_hub.stages(message_id) if s.stage == "held"], 10, what="the held stage")
    assert held[0].detail["exceptions"][0]["kind"] == "unknown_item"
    with amqp_hub.hub.db.session() as s:
        (record,) = s.query(BusinessException).filter(BusinessException.kind == "unknown_item").all()
        assert record.offending_value == "BUYER_ITEM:NO-SUCH-ITEM" and record.document_type == "inventory_adjustment"
    assert amqp_hub.hub.store.raw(amqp_hub.message(message_id)) == raw


def test_resolving_a_held_document_reruns_it_with_the_fixed_crosswalk(amqp_hub: HubEnv, tmp_path: Path) -> None:
    """The review queue: an unknown item holds its document; once the item is added to the
    crosswalk, `hub exceptions resolve --rerun` re-runs the message: the held line is delivered,
    the line delivered before is not applied twice (same idempotency key)."""
    _raw, message_id = _counts_with_an_unknown_item(amqp_hub, "NEW-ITEM-7")
    amqp_hub.wait_delivered(message_id, 1)
    wait_for(lambda: [s for s in amqp_hub.stages(message_id) if s.stage == "held"], 10, what="the held stage")
    listing = amqp_hub.hub_cli("exceptions", "list", "--message", message_id).stdout
    (line,) = listing.splitlines()
    assert "unknown_item" in line and "HOLD" in line
    exception_id = line.split()[0]
    assert '"section_c": 10' in amqp_hub.hub_cli("exceptions", "show", exception_id).stdout
    assert sorted(_document_refs(amqp_hub, message_id).values()) == ["emitted", "held"]

    fix = tmp_path / "new-item.yaml"
    fix.write_text("items:\n  - {item_id: NEW-7, base_uom: EA, description: New item}\n"
                   "item_identifiers:\n  - {item_id: NEW-7, scheme: BUYER_ITEM, value: NEW-ITEM-7}\n")
    amqp_hub.hub_cli("xref", "load", str(fix))
    out = amqp_hub.hub_cli("exceptions", "resolve", exception_id, "--rerun", "-r", "NEW-ITEM-7 added").stdout
    assert f"re-ran message(s) through their routes: {message_id}" in out
    wait_for(lambda: any(json.loads(body).get("item_id") == "NEW-7" for body in amqp_hub.stub.applied.values()), 30,
             what="the formerly held line delivered")
    assert len(amqp_hub.stub.applied) == 2  # the first line again under its old key: applied once
    assert "no open business exceptions" in amqp_hub.hub_cli("exceptions", "list", "--message", message_id).stdout
    resolved = amqp_hub.hub_cli("exceptions", "list", "--status", "resolved", "--message", message_id).stdout
    assert exception_id in resolved
    assert any(s.stage == "replayed" for s in amqp_hub.stages(message_id))
    # The re-run's document index replaced the first run's: both documents now emitted.
    refs = wait_for(lambda: (r := _document_refs(amqp_hub, message_id)) and "held" not in r.values() and r, 10,
                    what="the re-run's document index")
    assert sorted(refs.values()) == ["emitted", "emitted"]
    for key in refs:
        assert "inventory_adjustment" in amqp_hub.hub_cli("documents", "trail", key).stdout


def _document_refs(amqp_hub: HubEnv, message_id: str) -> dict[str, str]:
    from hub.store import DocumentRef

    with amqp_hub.hub.db.session() as s:
        return {r.ref_value: r.status for r in s.query(DocumentRef).filter(DocumentRef.message_id == message_id)}


def _foreign_consumer(queue: str) -> tuple[pika.BlockingConnection, list[int]]:
    """A pika consumer that takes one message from ``queue`` and never acks it (a worker
    holding it out of sight); the delivery tags it took fill the list as events are processed."""
    conn = pika.BlockingConnection(pika_params())
    channel = conn.channel()
    channel.basic_qos(prefetch_count=1)
    held: list[int] = []
    channel.basic_consume(queue, lambda ch, method, props, body: held.append(method.delivery_tag))
    return conn, held


def test_a_message_held_out_of_sight_is_swept_back_to_its_route(amqp_hub: HubEnv) -> None:
    """A worker may keep a message reserved that no pool process will run (a process died as the
    message was handed to it). Simulated here by a pika consumer that takes the route's message
    and never acks it: the sweeper re-sends it, and it is processed once."""
    amqp_hub.env["HUB_STUCK_AFTER"] = "2"
    conn, held = _foreign_consumer(amqp_hub.hub.topology.queue_name("route", "cycle-counts"))
    message_id = amqp_hub.push(ONE_ROW)
    while not held:
        conn.process_data_events(time_limit=0.2)
    amqp_hub.start_worker()
    amqp_hub.wait_delivered(message_id, 2, timeout=60)
    assert len(amqp_hub.stub.applied) == 1
    conn.close()  # the held copy returns to the queue; the route-run marker makes it a no-op
    time.sleep(2)
    assert len(amqp_hub.stub.applied) == 1 and len(amqp_hub.deliveries(message_id)) == 2


def test_a_held_message_is_swept_under_steady_load_once_its_queue_moved_past_it(amqp_hub: HubEnv) -> None:
    """A busy queue is never idle, so "idle" cannot be the only sign: once the route processed a
    message that arrived well after the held one while messages still wait in the queue, the held
    one is stuck, not queued, and it is re-sent with a ``swept`` stage."""
    from hub.sweeper import OVERTAKEN_BY, sweep_stuck

    # The test sweeps by hand; the worker's own sweeper must not get there first (at the default
    # 10 s it did, when the worker took more than 4.5 s to start on a loaded machine).
    amqp_hub.env["HUB_STUCK_AFTER"] = "60"
    conn, held = _foreign_consumer(amqp_hub.hub.topology.queue_name("route", "cycle-counts"))
    stuck = amqp_hub.push(ONE_ROW)
    while not held:
        conn.process_data_events(time_limit=0.2)
    time.sleep(OVERTAKEN_BY.total_seconds() + 0.5)
    worker = amqp_hub.start_worker()
    later = amqp_hub.push(ONE_ROW.replace(b"120", b"121"))
    amqp_hub.wait_delivered(later, 2)
    amqp_hub.stop(worker)
    waiting = [amqp_hub.push(ONE_ROW.replace(b"120", f"{130 + i}".encode())) for i in range(3)]  # a backlog
    assert sweep_stuck(amqp_hub.hub, older_than=1, force=True) == 1
    (swept,) = [s for s in amqp_hub.stages(stuck) if s.stage == "swept"]
    assert swept.detail["why"] == "overtaken" and swept.route == "cycle-counts"
    assert not any(s.stage == "swept" for m in waiting for s in amqp_hub.stages(m))  # queued, not stuck
    amqp_hub.start_worker()
    for message_id in [stuck, *waiting]:
        amqp_hub.wait_delivered(message_id, 2, timeout=60)
    conn.close()


def test_a_replayed_message_counts_from_its_replay_not_from_when_it_was_received(amqp_hub: HubEnv) -> None:
    """A message replayed from its DLQ went on its queue again just now. While a worker holds it
    (its queue is then empty) the sweeper must not take it for stuck because it was *received*
    long ago: it did, and the replay dead-lettered twice (seen on CI, embedded default)."""
    from hub.deadletters import replay_dead_letters
    from hub.sweeper import sweep_stuck

    amqp_hub.env["HUB_STUCK_AFTER"] = "600"  # the test sweeps by hand
    worker = amqp_hub.start_worker()
    message_id = amqp_hub.push((ROOT / "examples/cycle-counts/bad-counts.csv").read_bytes(), filename="bad-counts.csv")
    (dl,) = wait_for(lambda: amqp_hub.dead_letters(message_id), 30, what="a dead letter")
    amqp_hub.stop(worker)
    conn, held = _foreign_consumer(amqp_hub.hub.topology.queue_name("route", "cycle-counts"))
    time.sleep(1.5)  # received more than a second ago
    replay_dead_letters(amqp_hub.hub, [dl.id], by="test", why="replayed while a worker holds it")
    deadline = time.monotonic() + 30
    while not held and time.monotonic() < deadline:
        conn.process_data_events(time_limit=0.2)
    assert held, "the replayed message never reached the holding consumer"
    assert sweep_stuck(amqp_hub.hub, older_than=1, force=True) == 0  # replayed just now: not stuck
    time.sleep(1.5)
    assert sweep_stuck(amqp_hub.hub, older_than=1, force=True) == 1  # held a second past its replay: stuck
    (swept,) = [s for s in amqp_hub.stages(message_id) if s.stage == "swept"]
    assert swept.detail["why"] == "idle"
    conn.close()


def test_a_delivery_held_out_of_sight_is_swept_back_to_its_endpoint(amqp_hub: HubEnv) -> None:
    """Same for a delivery task. A route batch sends its deliveries itself; one that had to wait
    (here: the ERP answered 503 once) goes back through its endpoint's queue, where a foreign
    consumer takes it and never acks it; the sweeper sends it again and it is applied once."""
    amqp_hub.env["HUB_STUCK_AFTER"] = "2"
    conn, held = _foreign_consumer(amqp_hub.hub.topology.queue_name("endpoint", "erp-inventory"))
    amqp_hub.stub.answer(503)
    # Routes and the folder endpoint only: the ERP delivery's second try can only reach the foreign consumer.
    amqp_hub.spawn("worker", "--route", "cycle-counts", "--endpoint", "warehouse-folder")
    message_id = amqp_hub.push(ONE_ROW)
    deadline = time.monotonic() + 60
    while not held and time.monotonic() < deadline:
        conn.process_data_events(time_limit=0.2)
    assert held, "the ERP delivery never reached the foreign consumer"
    amqp_hub.start_worker()  # now a worker on every queue; its sweeper finds the stuck delivery
    amqp_hub.wait_delivered(message_id, 2, timeout=60)
    assert len(amqp_hub.stub.applied) == 1
    assert any(s.stage == "swept" for s in amqp_hub.stages(message_id))
    conn.close()  # the held copy returns; the delivery is already delivered, so it does nothing
    time.sleep(2)
    assert len(amqp_hub.stub.applied) == 1
    assert {r.headers["Idempotency-Key"] for r in amqp_hub.stub.requests} == {amqp_hub.stub.arrived[0]}