"""The embedded hubdb:// transport: topic routing, persistence, ack/requeue, and no message
lost when a consumer process dies holding it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from kombu import Connection, Consumer, Exchange, Producer, Queue

import hub.broker  # noqa: F401 - registers hubdb://
from tests.conftest import ROOT

EX = Exchange("t.ingress", "topic", durable=True)
Q1 = Queue("t.route.a", EX, routing_key="csv.*.*")
Q2 = Queue("t.route.b", EX, routing_key="#")


def url(tmp_path: Path) -> str:
    return f"hubdb://{tmp_path / 'broker.sqlite3'}"


def drain(conn: Connection, queues: list[Queue], on_message, seconds: float = 1.0) -> None:
    with Consumer(conn.default_channel, queues, callbacks=[on_message], accept=["json"]):
        try:
            while True:
                conn.drain_events(timeout=seconds)
        except TimeoutError:
            pass


def test_topic_routing_survives_a_new_connection(tmp_path: Path) -> None:
    with Connection(url(tmp_path)) as conn:
        for q in (Q1, Q2):
            q.bind(conn.default_channel).declare()
    # Another "process": it never declared anything, yet publishes route the same way.
    with Connection(url(tmp_path)) as conn:
        p = Producer(conn.default_channel)
        p.publish({"n": 1}, exchange=EX, routing_key="csv.count.x")
        p.publish({"n": 2}, exchange=EX, routing_key="x12.856.y")
    with Connection(url(tmp_path)) as conn:
        got = []
        drain(conn, [Q1, Q2], lambda body, m: (got.append((m.delivery_info["queue"], body["n"])), m.ack()), 0.3)
    assert sorted(got) == [("t.route.a", 1), ("t.route.b", 1), ("t.route.b", 2)]


def test_requeue_goes_back_to_its_own_queue_only(tmp_path: Path) -> None:
    with Connection(url(tmp_path)) as conn:
        for q in (Q1, Q2):
            q.bind(conn.default_channel).declare()
        Producer(conn.default_channel).publish({"n": 1}, exchange=EX, routing_key="csv.count.x")
        seen = []

        def once_then_ack(body, m):
            seen.append(m.delivery_info["queue"])
            if seen.count("t.route.a") == 1 and m.delivery_info["queue"] == "t.route.a":
                m.reject(requeue=True)
            else:
                m.ack()

        drain(conn, [Q1, Q2], once_then_ack, 0.3)
    # a: delivered, requeued, delivered again; b: once. Nothing duplicated into b by the requeue.
    assert sorted(seen) == ["t.route.a", "t.route.a", "t.route.b"]


def test_message_held_by_a_killed_consumer_is_delivered_again(tmp_path: Path) -> None:
    with Connection(url(tmp_path)) as conn:
        Q1.bind(conn.default_channel).declare()
        Producer(conn.default_channel).publish({"n": 7}, exchange=EX, routing_key="csv.a.b")
    script = textwrap.dedent(f"""
        import os, signal
        import hub.broker
        from kombu import Connection, Consumer, Exchange, Queue
        q = Queue("t.route.a", Exchange("t.ingress", "topic", durable=True), routing_key="csv.*.*")
        with Connection({url(tmp_path)!r}) as conn:
            def die(body, message):
                print("holding", body["n"], flush=True)
                os.kill(os.getpid(), signal.SIGKILL)  # no ack, no cleanup
            with Consumer(conn.default_channel, [q], callbacks=[die], accept=["json"]):
                conn.drain_events(timeout=10)
    """)
    res = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert res.returncode == -9 and "holding 7" in res.stdout
    with Connection(url(tmp_path)) as conn:  # connecting releases the dead process's reservation
        got = []
        drain(conn, [Q1], lambda body, m: (got.append(body["n"]), m.ack()), 0.3)
    assert got == [7]
    with Connection(url(tmp_path)) as conn:
        assert Q1.bind(conn.default_channel).queue_declare(passive=True).message_count == 0
