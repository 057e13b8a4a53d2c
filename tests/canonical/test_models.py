"""Canonical documents: lossless round trips, lookups, and the rules the models enforce."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from hub.canonical import (
    DOCUMENT_CLASSES,
    DOCUMENT_MODELS,
    DOCUMENT_TYPES,
    GoodsReceipt,
    InventoryAdjustment,
    PurchaseOrder,
    ShipNotice,
    UsageEvent,
    get_model,
    parse_document,
)
from hub.canonical.uom import convert_price, convert_qty, from_base, to_base

EXAMPLES = Path(__file__).resolve().parents[2] / "hub" / "canonical" / "examples"


def example(name: str) -> dict:
    return json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))


def errors_of(cls, data: dict) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        cls.model_validate(data)
    return {".".join(str(p) for p in err["loc"]): err["msg"] for err in caught.value.errors()}


@pytest.mark.parametrize("document_type", sorted(DOCUMENT_TYPES))
def test_example_round_trips_byte_identical(document_type: str) -> None:
    text = (EXAMPLES / f"{document_type}.json").read_text(encoding="utf-8")
    model = parse_document(json.loads(text))
    assert type(model) is DOCUMENT_TYPES[document_type]
    assert model.canonical_json() == text
    # and through the class' own JSON parser as well
    assert type(model).from_json(text).canonical_json() == text


def test_every_document_type_has_an_example() -> None:
    assert {p.stem for p in EXAMPLES.glob("*.json")} == set(DOCUMENT_TYPES)


def test_models_resolve_by_type_and_class_name() -> None:
    for cls in DOCUMENT_CLASSES:
        assert DOCUMENT_MODELS[cls.type_name()] is cls
        assert get_model(cls.__name__) is cls
        # Minor versions add optional fields (InventoryAdjustment 1.1: valuation, recall_id); a
        # document says the version it was written in.
        assert cls.SCHEMA_VERSION == ("1.1" if cls.type_name() == "inventory_adjustment" else "1.0")
        assert cls.model_fields["schema_version"].default == cls.SCHEMA_VERSION
    assert get_model("ship_notice") is ShipNotice


def test_unknown_model_lists_valid_names() -> None:
    with pytest.raises(KeyError) as caught:
        get_model("shipnotice")
    assert "ship_notice" in str(caught.value) and "ShipNotice" in str(caught.value)


def test_document_type_must_match_the_class() -> None:
    data = example("ship_notice") | {"document_type": "invoice"}
    assert "document_type" in errors_of(ShipNotice, data)


def test_schema_version_major_is_checked() -> None:
    assert ShipNotice.model_validate(example("ship_notice") | {"schema_version": "1.7"}).schema_version == "1.7"
    assert "2.0" in errors_of(ShipNotice, example("ship_notice") | {"schema_version": "2.0"})["schema_version"]


def test_unknown_fields_are_errors() -> None:
    data = example("invoice")
    data["lines"][0]["qty_invoced"] = "2"
    assert "lines.0.qty_invoced" in errors_of(get_model("invoice"), data)


def test_bad_identifier_error_names_the_field_path() -> None:
    data = example("purchase_order")
    data["lines"][0]["item_ids_sent"][2]["value"] = "10612345678905"
    errors = errors_of(PurchaseOrder, data)
    assert "check digit" in errors["lines.0.item_ids_sent.2.value"]


def test_gln_on_a_party_is_checked() -> None:
    data = example("ship_notice")
    data["ship_to"]["identifiers"][1]["value"] = "0614141000037"
    assert "GLN" in errors_of(ShipNotice, data)["ship_to.identifiers.1.value"]


def test_sscc_is_checked() -> None:
    data = example("ship_notice")
    data["packs"][0]["sscc"] = "000614141234567896"
    assert "SSCC" in errors_of(ShipNotice, data)["packs.0.sscc"]


def test_ndc_is_normalised_on_the_way_in() -> None:
    po = PurchaseOrder.model_validate(example("purchase_order"))
    assert po.lines[1].item_ids_sent[0].value == "00409488802"


def test_lot_quantities_must_add_up() -> None:
    data = example("ship_notice")
    data["lines"][0]["lots"][1]["qty"] = "2"
    assert "add up to 3" in errors_of(ShipNotice, data)["lines.0.lots"]


def test_lots_without_qty_cover_the_line() -> None:
    data = example("ship_notice")
    for lot in data["lines"][0]["lots"]:
        del lot["qty"]
    assert ShipNotice.model_validate(data).lines[0].lots[0].qty is None


def test_lot_qty_all_or_none() -> None:
    data = example("ship_notice")
    del data["lines"][0]["lots"][0]["qty"]
    assert "give every lot a qty or none" in errors_of(ShipNotice, data)["lines.0.lots"]


def test_floats_and_naive_datetimes_are_refused_in_documents() -> None:
    data = example("ship_notice")
    data["lines"][0]["qty_shipped"] = 2.0
    data["ship_date"] = "2025-03-12T17:30:00"
    errors = errors_of(ShipNotice, data)
    assert "not floats" in errors["lines.0.qty_shipped"]
    assert "no time zone" in errors["ship_date"]


def test_cycle_count_rules() -> None:
    data = example("inventory_adjustment")
    assert InventoryAdjustment.model_validate(data).type == "CYCLE_COUNT"
    assert "counted quantity" in errors_of(InventoryAdjustment, data | {"qty": "-1"})[""]
    missing_location = {k: v for k, v in data.items() if k != "location_id"}
    assert "location_id" in errors_of(InventoryAdjustment, missing_location)[""]
    no_item = {k: v for k, v in data.items() if k != "item_ids"}
    assert "item_id" in errors_of(InventoryAdjustment, no_item)[""]


def test_receipt_line_names_its_item_by_id_or_by_codes() -> None:
    data = example("goods_receipt")
    line = data["lines"][0]
    by_code = line | {"item_id": None, "item_ids": [{"scheme": "GTIN", "value": "00612345678907"}]}
    assert GoodsReceipt.model_validate(data | {"lines": [by_code]}).lines[0].item_id is None  # crosswalk fills it
    neither = {k: v for k, v in line.items() if k not in ("item_id", "item_ids")}
    assert "item_id" in errors_of(GoodsReceipt, data | {"lines": [neither]})["lines.0"]


def test_transfer_needs_both_locations() -> None:
    data = example("inventory_adjustment") | {"type": "TRANSFER", "from_location_id": "A"}
    assert "to_location_id" in errors_of(InventoryAdjustment, data)[""]


def test_phi_stays_out_of_repr_and_errors() -> None:
    usage = UsageEvent.model_validate(example("usage_event"))
    assert "ENC-TOKEN" not in repr(usage)
    data = example("usage_event") | {"patient_ref": 12345}
    with pytest.raises(ValidationError) as caught:
        UsageEvent.model_validate(data)
    assert "12345" not in str(caught.value)


def test_catalog_price_required_unless_delete() -> None:
    cls = get_model("price_catalog_entry")
    data = {k: v for k, v in example("price_catalog_entry").items() if k != "price"}
    assert "price is required" in errors_of(cls, data)[""]
    assert cls.model_validate(data | {"action": "DELETE"}).price is None


# ----------------------------------------------------------------- UoM arithmetic

factors = st.decimals(min_value=Decimal("0.001"), max_value=Decimal("100000"), places=3)
quantities = st.decimals(min_value=Decimal("0"), max_value=Decimal("1000000"), places=4)


@given(qty=quantities, factor=factors)
def test_there_and_back_is_identity(qty: Decimal, factor: Decimal) -> None:
    assert from_base(to_base(qty, factor), factor) == qty


@given(qty=quantities, ca_in_bx=st.integers(1, 500), bx_in_ea=st.integers(1, 500))
def test_factors_compose(qty: Decimal, ca_in_bx: int, bx_in_ea: int) -> None:
    bx = Decimal(bx_in_ea)
    ca = Decimal(ca_in_bx * bx_in_ea)
    ea = Decimal(1)
    via_bx = convert_qty(convert_qty(qty, ca, bx), bx, ea)
    assert via_bx == convert_qty(qty, ca, ea) == qty * ca


def test_prices_convert_inversely() -> None:
    assert convert_price(Decimal("45.10"), Decimal(10), Decimal(1)) == Decimal("4.51")
    assert convert_price(Decimal("4.51"), Decimal(1), Decimal(100)) == Decimal("451.00")
