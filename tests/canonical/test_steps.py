"""crosswalk and uom_convert steps on real PostgreSQL: resolve, convert, and never lose or
silently pass a document whose master data is missing."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from hub.business_exceptions import BusinessException
from hub.canonical import PurchaseOrder, ShipNotice
from hub.canonical.steps import CrosswalkStep, UomConvertStep
from hub.canonical.xref_cli import xref_app
from hub.exchange import Exchange
from hub.partners import PartnerRegistry, read_partners_file
from hub.registry import STEPS, RouteEnv, StepError

from .conftest import ROOT

EXAMPLES = ROOT / "hub" / "canonical" / "examples"


@pytest.fixture
def env(db) -> RouteEnv:
    result = CliRunner().invoke(xref_app, ["load", str(ROOT / "examples" / "xref" / "crosswalk.yaml"), "--database-url", db.url])
    assert result.exit_code == 0, result.output
    PartnerRegistry(db).load(read_partners_file(ROOT / "routes" / "partners.yaml"))
    return RouteEnv(route_name="asn-in", services={"db": db})


def example(name: str) -> dict:
    return json.loads((EXAMPLES / f"{name}.json").read_text())


def exchange(body) -> Exchange:
    return Exchange(message_id="msg-0001", body=body, format="x12", doctype="856", sender="P-0042")


def run(kind: str, env: RouteEnv, ex: Exchange, **config) -> list[Exchange]:
    cls = STEPS[kind]
    return cls(cls.Config(**config), env).process(ex)


def records(db) -> list[BusinessException]:
    with db.session() as session:
        return list(session.scalars(select(BusinessException).order_by(BusinessException.created_at)))


def test_steps_are_registered_with_shorthand() -> None:
    assert STEPS["crosswalk"] is CrosswalkStep and STEPS["uom_convert"] is UomConvertStep
    assert CrosswalkStep.shorthand == "on_exception"
    assert CrosswalkStep.Config(on_exception="forward").on_exception == "forward"


def test_known_item_resolves_and_converts(env: RouteEnv, db) -> None:
    ex = exchange(example("ship_notice"))
    [ex] = run("crosswalk", env, ex)
    [ex] = run("uom_convert", env, ex)
    line = ex.body["lines"][0]
    assert line["item_id"] == "ST-10022"
    assert (line["uom_canonical"], line["base_qty"], line["base_uom"]) == ("BX", "20", "EA")
    assert ex.body["ship_to"]["location_id"] == "HOSP1-CR"
    assert ex.body["ship_from"]["partner_id"] == "P-0042"  # GLN of the supplier in the registry
    assert not ex.held and ex.exceptions == [] and records(db) == []
    ShipNotice.model_validate(ex.body)  # still a valid canonical document


def test_model_bodies_stay_models_and_partner_uom_is_crosswalked(env: RouteEnv) -> None:
    data = example("purchase_order")
    data["lines"] = data["lines"][:1]
    data["lines"][0]["uom"] = "CS"
    data["lines"][0]["qty"] = "3"
    ex = exchange(ShipNotice.model_validate(example("ship_notice")))
    [ex] = run("crosswalk", env, ex)
    assert isinstance(ex.body, ShipNotice)
    po = exchange(PurchaseOrder.model_validate(data))
    [po] = run("crosswalk", env, po)
    [po] = run("uom_convert", env, po)
    line = po.body.lines[0]
    assert (line.uom, line.uom_canonical, line.base_qty, line.base_uom) == ("CS", "CA", Decimal("300"), "EA")


def test_unknown_item_is_recorded_and_held(env: RouteEnv, db) -> None:
    data = example("ship_notice")
    data["lines"][0]["item_ids"] = [{"scheme": "VENDOR_PART", "value": "NO-SUCH-PART", "qualifier": "VP"}]
    data["lines"][0]["line_status"] = "ACCEPTED"
    original = json.loads(json.dumps(data))
    ex = exchange(data)
    [out] = run("crosswalk", env, ex)
    assert out.held is True
    [problem] = out.exceptions
    assert problem["kind"] == "unknown_item" and problem["field_path"] == "lines.0.item_ids"
    assert problem["offending_value"] == "VENDOR_PART:NO-SUCH-PART"
    assert problem["document_key"] == "ASN778812" and problem["message_id"] == "msg-0001" and problem["route"] == "asn-in"
    [row] = records(db)
    assert (row.kind, row.severity, row.status, row.partner_id) == ("unknown_item", "HOLD", "open", "P-0042")
    # nothing lost: the document is the one that came in, plus what could be resolved
    assert out.body["lines"][0]["item_ids"] == original["lines"][0]["item_ids"]
    assert out.body["lines"][0]["lots"] == original["lines"][0]["lots"]
    # uom_convert on the same exchange does not record the same line twice
    [out] = run("uom_convert", env, out)
    assert len(records(db)) == 1 and "base_qty" not in out.body["lines"][0]


def test_forward_passes_the_document_on_with_the_record(env: RouteEnv, db) -> None:
    data = example("purchase_order")
    data["lines"][1]["uom"] = "ZZ"
    data["lines"][1]["item_ids_sent"] = [{"scheme": "BUYER_ITEM", "value": "778899"}]
    [out] = run("crosswalk", env, exchange(data), on_exception="forward")
    [out] = run("uom_convert", env, out, on_exception="forward")
    assert out.held is False
    [problem] = out.exceptions
    assert (problem["kind"], problem["field_path"], problem["offending_value"]) == ("unknown_uom", "lines.1.uom", "ZZ")
    assert out.body["lines"][0]["base_qty"] == "20"  # the other line still converted
    assert [r.kind for r in records(db)] == ["unknown_uom"]


def test_missing_conversion(env: RouteEnv, db) -> None:
    data = example("purchase_order")
    data["lines"] = [data["lines"][0] | {"uom": "PK"}]
    [out] = run("crosswalk", env, exchange(data))
    [out] = run("uom_convert", env, out)
    assert out.held
    [row] = records(db)
    assert row.kind == "missing_conversion" and "no conversion from PK" in row.message
    assert row.detail == {"step": "uom_convert", "item_id": "ST-10022", "uom": "PK"}


def test_conflicting_identifiers(env: RouteEnv, db) -> None:
    data = example("purchase_order")
    data["lines"][0]["item_ids_sent"].append({"scheme": "VENDOR_PART", "value": "GL-M-100"})
    data["lines"][0]["item_ids_sent"] = data["lines"][0]["item_ids_sent"][1:]
    [out] = run("crosswalk", env, exchange(data))
    kinds = {e["kind"] for e in out.exceptions}
    assert "conflicting_item_identifiers" in kinds
    assert "item_id" not in out.body["lines"][0]


def test_unknown_ship_to_account(env: RouteEnv, db) -> None:
    data = example("purchase_order")
    data["lines"] = data["lines"][:1]
    data["ship_to"]["identifiers"] = [{"scheme": "ACCOUNT_AT_PARTNER", "value": "000001", "qualifier": "92"}]
    [out] = run("crosswalk", env, exchange(data), on_exception="forward")
    assert [(e["kind"], e["field_path"]) for e in out.exceptions] == [("unknown_location", "ship_to.identifiers")]


def test_eancom_quantity_takes_the_unit_of_the_gtin(env: RouteEnv) -> None:
    data = example("ship_notice")
    line = data["lines"][0]
    line["item_ids"] = [{"scheme": "GTIN", "value": "10612345678904", "qualifier": "SRV"}]
    del line["uom"]
    for lot in line["lots"]:
        del lot["uom"]
    [out] = run("crosswalk", env, exchange(data))
    [out] = run("uom_convert", env, out)
    assert (out.body["lines"][0]["uom_canonical"], out.body["lines"][0]["base_qty"]) == ("BX", "20")


def test_cycle_count_adjustment_flow(env: RouteEnv) -> None:
    data = example("inventory_adjustment")
    data["item_ids"] = [{"scheme": "BUYER_ITEM", "value": "778899"}]
    data["uom"] = "BX"
    [out] = run("crosswalk", env, exchange(data))
    [out] = run("uom_convert", env, out)
    assert (out.body["item_id"], out.body["base_qty"], out.body["base_uom"]) == ("ST-10022", "370", "EA")
    assert not out.held


def test_bad_body_is_a_step_error_naming_the_place(env: RouteEnv) -> None:
    data = example("ship_notice")
    data["lines"][0]["qty_shipped"] = "two"
    with pytest.raises(StepError) as caught:
        run("crosswalk", env, exchange(data))
    assert caught.value.location == "body.lines.0.qty_shipped"
    with pytest.raises(StepError, match="document_type"):
        run("crosswalk", env, exchange({"asn_number": "1"}))
    with pytest.raises(StepError, match="expected a canonical document"):
        run("crosswalk", env, exchange(b"ISA*00*"))
