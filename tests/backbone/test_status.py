"""The derived message status (hub.store.status): the rules, and that two transactions settling
two deliveries of one message at the same moment on PostgreSQL never leave it behind."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import insert, update

from hub.db import Database
from hub.store import Delivery, Message, RouteRun, utcnow
from hub.store.status import Facts, RunFacts, derive, lock, refresh
from tests.conftest import fresh_schema


def facts(runs: dict | None = None, deliveries: dict | None = None, **kw) -> Facts:
    return Facts(published=kw.pop("published", True), runs=runs or {}, deliveries=Counter(deliveries or {}), **kw)


DONE = {"r": RunFacts("done", documents=2)}


@pytest.mark.parametrize(("f", "status"), [
    (Facts(), "received"),
    (facts(unrouted=True), "unrouted"),
    (facts(), "routing"),
    (facts(DONE, expected_routes={"r", "other"}), "routing"),  # a second route has not run yet
    (facts(DONE, {("delivered", False): 1, ("retrying", False): 1}), "delivering"),
    (facts(DONE, {("delivered", False): 1, ("waiting", False): 1}), "delivering"),
    (facts(DONE, {("delivered", False): 1, ("blocked", False): 1}), "delivering"),
    (facts(DONE, {("delivered", False): 2, ("pending", True): 1}), "delivering"),  # the ack is not out yet
    (facts(DONE, {("delivered", False): 2, ("delivered", True): 1}), "delivered"),
    (facts(DONE, {("delivered", False): 1, ("dead_lettered", False): 1}), "partially_delivered"),
    (facts({"r": RunFacts("done", 1, held=1)}, {("delivered", False): 1}), "partially_delivered"),
    (facts({"r": RunFacts("done", 0, held=2)}), "held"),
    # A duplicate interchange: refused, and the TA1 that says so went back; not "delivered".
    (facts({"r": RunFacts("done", 0, refused=1)}, {("delivered", True): 1}), "refused"),
    (facts({"r": RunFacts("done", 1, refused=1)}, {("delivered", False): 1}), "partially_delivered"),
    (facts(DONE, {("dead_lettered", False): 2}), "dead_lettered"),
    (facts(route_letters={"r": "parked"}), "dead_lettered"),
    (facts(route_letters={"r": "replayed"}, expected_routes={"r"}), "routing"),  # replayed, not run yet
    (facts(route_letters={"r": "discarded"}), "discarded"),
    (facts(DONE, {("discarded", False): 2}), "discarded"),
    (facts({"r": RunFacts("done", 0)}), "processed"),  # everything filtered out
    (facts({"r": RunFacts("skipped", 0)}), "processed"),
])
def test_the_status_follows_from_what_happened(f: Facts, status: str) -> None:
    assert derive(f) == status


@pytest.fixture
def pg() -> Iterator[Database]:
    with fresh_schema() as url:
        db = Database(url)
        db.create_schema()
        yield db
        db.dispose()


@pytest.mark.postgres
def test_two_deliveries_settled_at_the_same_moment_leave_the_message_delivered(pg: Database) -> None:
    """Without the row lock each transaction would see the other's delivery still pending and
    both would write ``delivering``: the message would never read ``delivered``."""
    now = utcnow()
    for round_ in range(20):
        message_id = f"m-{round_}"
        with pg.session() as s:
            s.add(Message(id=message_id, received_at=now, format="csv", doctype="x", sender="s", channel="t",
                          headers={}, correlation_id=message_id, sha256="0" * 64, size=0, raw=b"",
                          status="delivering"))
            s.flush()
            s.execute(insert(RouteRun), [{"message_id": message_id, "route": "r", "status": "done", "outputs": 2,
                                          "documents": 2, "finished_at": now}])
            s.execute(insert(Delivery), [
                {"id": f"{message_id}-{i}", "message_id": message_id, "route": "r", "endpoint": "e", "seq": i,
                 "payload": b"", "content_type": "x", "headers": {}, "idempotency_key": "k", "status": "sending",
                 "created_at": now} for i in range(2)])
        barrier = threading.Barrier(2)

        def settle(i: int) -> None:
            with pg.session() as s:
                barrier.wait()
                lock(s, [message_id])
                s.execute(update(Delivery).where(Delivery.id == f"{message_id}-{i}").values(status="delivered"))
                s.flush()
                refresh(s, [message_id], None)

        threads = [threading.Thread(target=settle, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        with pg.session() as s:
            assert s.get(Message, message_id).status == "delivered", f"round {round_}"
