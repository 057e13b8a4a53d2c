"""Scenarios as data and what a simulated supplier derives from them: every built-in scenario
loads; a broken one is refused with its file and line; each stage derives from the one before
(a backorder does not ship, a substitute ships as itself, a unit change scales quantity and
price, the dock receives what its scenario says, the invoice bills what was shipped)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from hub.canonical import Invoice as InvoiceDocument
from hub.canonical import PurchaseOrderAck, ShipNotice
from hub.simulator import answers
from hub.simulator.scenarios import (
    BUILT_IN,
    ScenarioError,
    load_scenario,
    read_scenario,
    scenario_files,
)

PO = json.loads((Path(answers.__file__).parent / "example-order.json").read_text())
AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ISSUE_SCENARIOS = {"clean", "backorder", "price-change", "unit-change", "substitution", "short-ship", "expired-lot",
                   "duplicate-invoice", "invoice-price-variance", "no-ack", "rejected"}


def test_every_scenario_the_issue_lists_is_built_in_and_valid() -> None:
    files = scenario_files()
    assert ISSUE_SCENARIOS <= set(files)
    for name, path in files.items():
        scenario = read_scenario(path)
        assert scenario.name == name and scenario.description
    assert load_scenario("clean").raises == []
    assert load_scenario("rejected").acknowledgement is None and load_scenario("no-ack").functional_ack is None


@pytest.mark.parametrize(("text", "problem"), [
    ("raises: [no_such_kind]\n", "unknown business exception kind(s) no_such_kind"),
    ("acknowledgement: {after: 4h, lines: {'1': {unit: EA}}}\n", "unit and per_unit go together"),
    ("ship_notice: {after: 2d}\nreceipt: {after: 1d}\n", "the dock cannot receive before the supplier ships"),
    ("invoice: {after: soon}\n", "bad duration 'soon'"),
    ("acknowledgement: {after: 4h, colour: red}\n", "Extra inputs are not permitted"),
])
def test_a_broken_scenario_is_refused_with_its_place(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: broken\ndescription: a partner's habit, mistyped\n" + text)
    with pytest.raises(ScenarioError) as caught:
        read_scenario(path)
    assert any(line.startswith(f"{path}:") and problem in line for line in caught.value.problems), caught.value.problems


def test_a_team_folder_adds_scenarios_and_overrides_built_in_ones(tmp_path: Path) -> None:
    (tmp_path / "clean.yaml").write_text("name: clean\ndescription: our partner's clean is late\n"
                                         "acknowledgement: {after: 3d}\n")
    (tmp_path / "late-855.yaml").write_text("name: late-855\ndescription: late\nraises: [po_not_acknowledged]\n"
                                            "acknowledgement: {after: 3d}\n")
    assert load_scenario("clean", tmp_path).acknowledgement.after == 3 * 86400
    assert load_scenario("late-855", tmp_path).raises == ["po_not_acknowledged"]
    assert scenario_files()["clean"].parent == BUILT_IN
    with pytest.raises(ScenarioError, match="unknown scenario 'nope'; known: backorder"):
        load_scenario("nope", tmp_path)


def test_a_backordered_line_is_acknowledged_but_neither_shipped_nor_invoiced() -> None:
    scenario = load_scenario("backorder")
    plan = answers.plan(PO, scenario)
    assert [(s.line_number, s.status.value) for s in plan.acknowledged] == [
        ("1", "ACCEPTED"), ("2", "BACKORDERED"), ("3", "ACCEPTED")]
    assert [s.line_number for s in plan.shipped] == [s.line_number for s in plan.invoiced] == ["1", "3"]
    ack = PurchaseOrderAck.model_validate(answers.acknowledgement(PO, scenario, plan.acknowledged, AT, "P-0310"))
    assert ack.ack_type.value == "ACCEPTED_WITH_CHANGES" and ack.lines[1].status_raw == "IB"
    assert ack.lines[1].promised_ship_date is None and str(ack.lines[0].promised_ship_date) == "2026-03-03"
    # EANCOM says it with QTY+113 0 and QTY+83 (what ORDRSP can carry).
    edifact = answers.acknowledgement(PO, scenario, plan.acknowledged, AT, "P-0320", "EDIFACT")
    assert (edifact["lines"][1]["qty"], edifact["lines"][1]["qty_backordered"]) == ("0", "6")


def test_a_unit_change_scales_quantity_and_price_through_every_stage() -> None:
    plan = answers.plan(PO, load_scenario("unit-change"))
    first = [plan.acknowledged[0], plan.shipped[0], plan.invoiced[0]]
    assert {(s.qty, s.uom, s.price) for s in first} == {(Decimal(144), "EA", Decimal("1.2528"))}  # 4 BX × 36; 45.10 / 36
    assert plan.acknowledged[0].status.value == "CHANGED"


def test_a_substitute_ships_and_is_billed_as_itself() -> None:
    scenario = load_scenario("substitution")
    plan = answers.plan(PO, scenario)
    ack = answers.acknowledgement(PO, scenario, plan.acknowledged, AT, "P-0310")
    assert ack["lines"][2]["status"] == "SUBSTITUTED" and ack["lines"][2]["item_ids"][0]["value"] == "MS-8812"
    assert [i["value"] for i in ack["lines"][2]["substitute_item_ids"]] == ["MS-8813", "10614141004659"]
    asn = ShipNotice.model_validate(answers.ship_notice(PO, scenario, plan.shipped, AT, "P-0310"))
    assert [i.value for i in asn.lines[2].item_ids] == ["MS-8813", "10614141004659"]
    # An ORDRSP has no substitute element: the line names the substitute as its item.
    edifact = answers.acknowledgement(PO, scenario, plan.acknowledged, AT, "P-0320", "EDIFACT")
    assert edifact["lines"][2]["item_ids"][0]["value"] == "MS-8813" and edifact["lines"][2]["substitute_item_ids"] == []


def test_the_dock_scans_what_arrived_with_the_lots_the_asn_announced() -> None:
    scenario = load_scenario("short-ship")
    plan = answers.plan(PO, scenario)
    asn = answers.ship_notice(PO, scenario, plan.shipped, AT, "P-0310")
    rows = answers.dock_scans(PO, asn, plan.received, AT, "P-0310", "CENTRAL-DOCK")
    assert [(r["Qty"], r["UOM"]) for r in rows] == [("2", "BX"), ("6", "BX"), ("2", "CA")]  # 4 shipped, 2 arrived
    lot = asn["lines"][0]["lots"][0]
    assert lot == {"lot_number": "L090001-1", "expiration_date": "2027-08-24"}  # 540 days after the ship date
    assert rows[0]["Barcode"] == "(01)10614141004413(17)270824(10)L090001-1"
    invoice = InvoiceDocument.model_validate(answers.invoice(PO, plan.invoiced, AT, "P-0310", asn["ship_date"]))
    assert invoice.lines[0].qty_invoiced == 4 and invoice.total_amount == Decimal("540.90")


def test_an_expired_lot_and_price_changes() -> None:
    plan = answers.plan(PO, load_scenario("expired-lot"))
    asn = answers.ship_notice(PO, load_scenario("expired-lot"), plan.shipped, AT, "P-0310")
    assert asn["lines"][1]["lots"][0]["expiration_date"] == "2026-02-20"  # ten days before shipping
    price = answers.plan(PO, load_scenario("price-change"))
    assert price.acknowledged[0].price == price.invoiced[0].price == Decimal("48.7080")  # 45.10 + 8 %
    variance = answers.plan(PO, load_scenario("invoice-price-variance"))
    assert variance.acknowledged[1].price == Decimal("38.75") and variance.invoiced[1].price == Decimal("40.6875")
    assert load_scenario("duplicate-invoice").invoice.copies == 2
