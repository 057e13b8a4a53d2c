"""The endpoint circuit (hub.delivery.circuit): the rules on a fake clock, and the state shared
through PostgreSQL by callers that share nothing else."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from hub.db import Database
from hub.delivery.circuit import Circuit, DatabaseCircuits, LocalCircuits, admit, record
from hub.routes.model import CircuitPolicy
from tests.conftest import fresh_schema

POLICY = CircuitPolicy(failures=3, probe_initial=2, probe_max=30, max_outage=3600)


def test_outages_open_it_after_the_threshold_and_answers_keep_it_closed() -> None:
    c = Circuit()
    record(c, True, False, 0.0, POLICY)  # a business answer (even a 500 for one document) means it is up
    for t in (1.0, 2.0):
        record(c, False, False, t, POLICY, error="connection refused")
        assert c.state == "closed" and admit(c, t, POLICY, 60).allowed
    record(c, True, False, 3.0, POLICY)  # an answer in between resets the count
    assert c.failures == 0
    for t in (4.0, 5.0, 6.0):
        record(c, False, False, t, POLICY, error="HTTP 503")
    assert (c.state, c.down_since, c.opened_at, c.last_error) == ("open", 6.0, 6.0, "HTTP 503")
    assert not admit(c, 7.9, POLICY, 60).allowed


def test_probes_back_off_to_the_cap_and_one_success_closes_it() -> None:
    c = Circuit()
    for t in (0.0, 0.0, 0.0):
        record(c, False, False, t, POLICY)
    now, gaps = 0.0, []
    for _ in range(7):  # every probe fails: 2, 4, 8, 16, 30, 30, 30 seconds apart
        due = c.next_probe_at(POLICY)
        assert not admit(c, due - 0.01, POLICY, 60).allowed
        first = admit(c, due, POLICY, 60)
        assert first.allowed and first.probe and c.state == "half_open"
        assert not admit(c, due + 1, POLICY, 60).allowed  # one probe at a time
        gaps.append(due - now)
        now = due + 0.5
        record(c, False, True, now, POLICY)
        assert c.state == "open"
    assert [round(g, 3) for g in gaps] == [2, 4, 8, 16, 30, 30, 30]  # measured from each failure
    assert c.down_since == 0.0  # the outage started at the first opening
    probe = admit(c, c.next_probe_at(POLICY), POLICY, 60)
    record(c, True, probe.probe, now + 40, POLICY)
    assert c == Circuit()


def test_retry_after_opens_it_at_once_and_delays_the_probe() -> None:
    c = Circuit()
    record(c, False, False, 100.0, POLICY, retry_after=45.0, error="HTTP 429")
    assert c.state == "open" and c.next_probe_at(POLICY) == 145.0


def test_a_probe_that_gets_no_call_gives_its_turn_back() -> None:
    c = Circuit()
    for _ in range(3):
        record(c, False, False, 0.0, POLICY)
    assert admit(c, 10.0, POLICY, 60).probe
    record(c, None, True, 10.0, POLICY)  # a local limit stopped the call
    assert c.state == "open" and admit(c, 10.1, POLICY, 60).probe


def test_a_lost_probe_is_replaced_after_its_lease() -> None:
    c = Circuit()
    for _ in range(3):
        record(c, False, False, 0.0, POLICY)
    assert admit(c, 2.0, POLICY, probe_lease=5).probe  # its worker dies: no record ever comes
    assert not admit(c, 6.9, POLICY, 5).allowed
    assert admit(c, 7.1, POLICY, 5).probe


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with fresh_schema() as url:
        db = Database(url)
        db.create_schema()
        db.dispose()
        yield url


@pytest.mark.postgres
def test_the_circuit_is_shared_by_callers_that_share_only_the_database(pg_url: str) -> None:
    one, two = DatabaseCircuits(Database(pg_url)), DatabaseCircuits(Database(pg_url))
    for _ in range(3):
        one.record("erp", False, False, POLICY, error="connection refused")
    assert two.get("erp").state == "open"
    assert not two.admit("erp", POLICY, 60).allowed
    assert one.all()["erp"].last_error == "connection refused"


@pytest.mark.postgres
def test_only_one_probe_goes_out_among_concurrent_callers(pg_url: str) -> None:
    quick = CircuitPolicy(failures=1, probe_initial=0.0, probe_max=0.0)
    local = LocalCircuits()
    shared = DatabaseCircuits(Database(pg_url))
    for circuits in (shared, local):
        circuits.record("lab", False, False, quick)
    for circuits in (shared, local):
        results: list = []
        threads = [threading.Thread(target=lambda: results.append(circuits.admit("lab", quick, 60)))
                   for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted((r.allowed, r.probe) for r in results) == [(False, False)] * 7 + [(True, True)]
