"""Built-in steps: parse (csv, json, text), transform, validate, filter, split, set_header."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from hub.exchange import Exchange
from hub.registry import STEPS, StepError, load_plugins

load_plugins()


def run(kind: str, value, body, **headers):
    step = STEPS[kind](STEPS[kind].configure(value), None)
    return step.process(Exchange("m", body, "csv", "x", "s", headers=dict(headers)))


CSV_MAP = {"csv": {"columns": {
    "item": {"column": "Item"},
    "qty": {"column": "Qty", "type": "decimal"},
    "when": {"column": "When", "type": "date", "format": "%d/%m/%Y", "required": False},
    "uom": {"column": "UOM", "default": "EA"},
}}}


def test_csv_maps_columns_by_header_name_with_types_and_defaults() -> None:
    (out,) = run("parse", CSV_MAP, b"\xef\xbb\xbfQty,Item,UOM,When\n1.50,A-1,,31/12/2026\n\n2,B-2,BX,\n")
    assert out.body == [
        {"_line": 2, "item": "A-1", "qty": Decimal("1.50"), "uom": "EA", "when": __import__("datetime").date(2026, 12, 31)},
        {"_line": 4, "item": "B-2", "qty": Decimal("2"), "uom": "BX", "when": None},
    ]


def test_csv_reports_every_bad_cell_with_line_and_column() -> None:
    with pytest.raises(StepError) as err:
        run("parse", CSV_MAP, b"Item,Qty,UOM,When\n,1,EA,\nA,1e,EA,\nB,2,EA,2026-12-31\nC,1,000,EA,\n")
    msg = str(err.value)
    assert msg.startswith("csv: 4 errors: ")
    assert "line 2, column 'Item': value is missing" in msg
    assert "line 3, column 'Qty': '1e' is not a number" in msg
    assert "line 4, column 'When': '2026-12-31' is not a date (%d/%m/%Y)" in msg
    assert "line 5: 5 fields, but the header has 4" in msg


def test_csv_missing_header_column_names_what_was_found() -> None:
    with pytest.raises(StepError) as err:
        run("parse", CSV_MAP, b"Item,Quantity\nA,1\n")
    assert str(err.value) == "line 1: csv: header lacks column(s) 'Qty' (found: 'Item', 'Quantity')"


def test_csv_refuses_ambiguous_decimal_commas() -> None:
    with pytest.raises(StepError, match="'1,5' is not a number"):
        run("parse", CSV_MAP, b'Item,Qty\nA,"1,5"\n')


def test_parse_config_errors_name_the_option() -> None:
    with pytest.raises(ValidationError) as err:
        STEPS["parse"].configure({"csv": {"columns": {"qty": {"column": "Q", "type": "money"}}}})
    assert err.value.errors()[0]["loc"][:4] == ("csv", "columns", "qty", "type")
    with pytest.raises(ValueError, match="unknown parser 'yaml'"):
        STEPS["parse"].configure("yaml")


def test_json_keeps_decimals_and_locates_errors() -> None:
    (out,) = run("parse", "json", b'{"qty": 1.10, "n": 3}')
    assert out.body == {"qty": Decimal("1.10"), "n": 3}
    with pytest.raises(StepError, match=r"^line 2, column 8: Expecting value"):
        run("parse", "json", b'{"a": 1,\n  "b": ]}')


def test_text_reports_bad_bytes_with_position() -> None:
    with pytest.raises(StepError, match=r"^line 2, byte offset 3: bytes are not valid utf-8: invalid start byte"):
        run("parse", {"text": {"encoding": "utf-8"}}, b"ok\n\xff")


def test_filter_conditions() -> None:
    cond = {"all": [{"path": "body.qty", "op": "gt", "value": 0}, {"not": {"path": "headers.test", "op": "eq", "value": "yes"}}]}
    assert run("filter", cond, {"qty": "5"}) != []
    assert run("filter", cond, {"qty": "0"}) == []
    assert run("filter", cond, {"qty": "5"}, test="yes") == []
    assert run("filter", {"path": "body.code", "op": "in", "value": ["IA", "IB"]}, {"code": "IB"}) != []
    assert run("filter", {"path": "body.missing", "op": "missing"}, {}) != []
    with pytest.raises(ValidationError, match="either"):
        STEPS["filter"].configure({"path": "body.x", "op": "eq", "any": []})
    with pytest.raises(ValidationError, match="starts with '_'"):
        STEPS["filter"].configure({"path": "body.__class__", "op": "exists"})


def test_split_and_set_header() -> None:
    parts = run("split", "body.lines", {"lines": [{"n": 1}, {"n": 2}]})
    assert [p.body for p in parts] == [{"n": 1}, {"n": 2}] and [p.part for p in parts] == [(0,), (1,)]
    with pytest.raises(StepError, match="is a dict, not a list"):
        run("split", "body", {"a": 1})
    (out,) = run("set_header", {"name": "po", "from": "body.po_number"}, {"po_number": "4500012345"})
    assert out.headers["po"] == "4500012345"


def test_transform_failure_is_a_step_error() -> None:
    from hub.registry import transform

    @transform("test.divide")
    def divide(body, ex):
        return 1 / body

    with pytest.raises(StepError, match="transform test.divide failed: ZeroDivisionError"):
        run("transform", "test.divide", 0)


def test_validate_names_document_field_and_source() -> None:
    doc = {"document_type": "inventory_adjustment", "adjustment_id": "a1", "type": "CYCLE_COUNT",
           "item_ids": [{"scheme": "GTIN", "value": "00614141000012"}], "qty": "1.5", "uom": "EA",
           "location_id": "L1", "reason_code": "CYCLE_COUNT", "occurred_at": "2026-11-20T10:00:00+00:00",
           "meta": {"source_ref": "counts.csv line 7"}}
    (out,) = run("validate", "InventoryAdjustment", doc)
    assert out.body.qty == Decimal("1.5")
    bad = dict(doc, occurred_at="2026-11-20T10:00:00")
    with pytest.raises(StepError, match=r"^InventoryAdjustment from counts.csv line 7 is invalid: occurred_at: "):
        run("validate", "InventoryAdjustment", bad)
    assert STEPS["validate"].problems(STEPS["validate"].configure({"model": "ShipNotice", "schema_version": "2.0"}))
