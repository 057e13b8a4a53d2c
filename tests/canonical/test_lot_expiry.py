"""lot_expiry_check on real PostgreSQL: an expired lot (domain.md C #27) is recorded and holds the
document; a short-dated one (C #28, WARN) is recorded and the document goes on; a lot used after
its expiry (C #43) is its own kind."""

from __future__ import annotations

import json

import pytest

from hub.canonical import ShipNotice
from hub.registry import STEPS, RouteEnv, StepError

from .test_steps import example, exchange, records, run


@pytest.fixture
def env(db) -> RouteEnv:
    return RouteEnv(route_name="asn-in", services={"db": db})


def ship_notice(*expiries: str) -> dict:
    """The example ASN (shipped 2025-03-12) with its first line's two lots expiring on ``expiries``."""
    doc = example("ship_notice")
    for lot, expiry in zip(doc["lines"][0]["lots"], expiries, strict=True):
        lot["expiration_date"] = expiry
    return doc


def test_lots_within_their_shelf_life_pass(env: RouteEnv, db) -> None:
    [ex] = run("lot_expiry_check", env, exchange(example("ship_notice")), min_remaining_days=365)
    assert not ex.held and ex.exceptions == [] and records(db) == []


def test_an_expired_lot_is_recorded_and_holds_the_ship_notice(env: RouteEnv, db) -> None:
    # Expiring on the ship date counts as expired: it cannot be used once received.
    [ex] = run("lot_expiry_check", env, exchange(ship_notice("2025-03-12", "2027-12-31")))
    assert ex.held
    (row,) = records(db)
    assert (row.kind, row.severity, row.document_type, row.document_key) == (
        "expired_lot", "BLOCK", "ship_notice", "ASN778812")
    assert (row.field_path, row.offending_value) == ("lines.0.lots.0.expiration_date", "lot A1234 2025-03-12")
    assert row.message == ("lines.0.lots.0.expiration_date: lot A1234 expired on 2025-03-12, on or before the "
                           "document's date 2025-03-12")
    assert isinstance(ex.body, dict)  # handed back in the form it came


def test_a_short_dated_lot_is_recorded_but_does_not_hold(env: RouteEnv, db) -> None:
    model = ShipNotice.model_validate(ship_notice("2025-05-01", "2027-12-31"))
    [ex] = run("lot_expiry_check", env, exchange(model), min_remaining_days=90)
    assert not ex.held and ex.body is model
    (row,) = records(db)
    assert (row.kind, row.severity, row.detail["remaining_days"], row.detail["min_remaining_days"]) == (
        "short_dated_lot", "WARN", 50, 90)
    assert "expires on 2025-05-01, 50 days after 2025-03-12; the minimum is 90 days" in row.message


def test_expired_and_short_dated_together_hold_and_forward_only_records(env: RouteEnv, db) -> None:
    doc = ship_notice("2024-12-31", "2025-04-01")
    [held] = run("lot_expiry_check", env, exchange(doc), min_remaining_days=30)
    assert held.held and [e["kind"] for e in held.exceptions] == ["expired_lot", "short_dated_lot"]
    [forwarded] = run("lot_expiry_check", env, exchange(json.loads(json.dumps(doc))), min_remaining_days=30,
                      on_exception="forward")
    assert not forwarded.held and len(forwarded.exceptions) == 2


def test_a_lot_used_after_its_expiry_is_usage_of_an_expired_lot(env: RouteEnv, db) -> None:
    usage = {**example("usage_event"), "expiration_date": "2025-03-01"}
    [ex] = run("lot_expiry_check", env, exchange(usage))
    assert ex.held
    (row,) = records(db)
    assert (row.kind, row.severity, row.field_path) == ("usage_of_expired_or_recalled_lot", "BLOCK", "expiration_date")
    assert "lot L7781 expired on 2025-03-01" in row.message


def test_the_step_is_registered_and_refuses_what_is_not_a_document(env: RouteEnv) -> None:
    assert STEPS["lot_expiry_check"].shorthand == "on_exception"
    with pytest.raises(StepError, match="expected a canonical document"):
        run("lot_expiry_check", env, exchange(b"raw"))
