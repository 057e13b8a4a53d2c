"""`hub schema export|check|docs`: breaking changes are caught, additive ones pass."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import pytest
from pydantic import Field
from typer.testing import CliRunner

from hub.canonical import DOCUMENT_TYPES, ShipNotice
from hub.canonical.cli import schema_app
from hub.canonical.docs import render
from hub.canonical.schema import compare_dirs, document_schema, export_schemas, schema_text

runner = CliRunner()


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    old, new = tmp_path / "old", tmp_path / "new"
    export_schemas(old)
    export_schemas(new)
    return old, new


def edit(directory: Path, document_type: str, change) -> None:
    path = directory / f"{document_type}.schema.json"
    schema = json.loads(path.read_text())
    change(schema)
    path.write_text(schema_text(schema))


def check(old: Path, new: Path):
    return runner.invoke(schema_app, ["check", str(old), str(new)])


def test_export_writes_one_file_per_document_type(tmp_path: Path) -> None:
    result = runner.invoke(schema_app, ["export", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert {p.name.removesuffix(".schema.json") for p in tmp_path.iterdir()} == set(DOCUMENT_TYPES)
    schema = json.loads((tmp_path / "ship_notice.schema.json").read_text())
    assert schema["x-schema-version"] == "1.0" and "asn_number" in schema["required"]


def test_identical_schemas_pass(dirs) -> None:
    result = check(*dirs)
    assert result.exit_code == 0, result.output
    assert "0 breaking" in result.output


def test_removed_field_is_breaking(dirs) -> None:
    old, new = dirs
    edit(new, "ship_notice", lambda s: s["$defs"]["ShipNoticeLine"]["properties"].pop("qty_ordered"))
    result = check(old, new)
    assert result.exit_code == 1
    assert "BREAKING: ship_notice $.lines[].qty_ordered: field removed" in result.output


def test_newly_required_field_is_breaking(dirs) -> None:
    old, new = dirs
    edit(new, "invoice", lambda s: s["required"].append("po_number"))
    result = check(old, new)
    assert result.exit_code == 1
    assert "BREAKING: invoice $.po_number: field is now required" in result.output


def test_added_required_field_is_breaking(dirs) -> None:
    old, new = dirs

    def add(schema):
        schema["properties"]["priority"] = {"type": "string"}
        schema["required"].append("priority")

    edit(new, "invoice", add)
    assert "BREAKING: invoice $.priority: required field added" in check(old, new).output


def test_narrowed_type_is_breaking(dirs) -> None:
    old, new = dirs
    edit(new, "goods_receipt", lambda s: s["$defs"]["ReceiptLine"]["properties"]["qty_received"].update(type="integer"))
    result = check(old, new)
    assert result.exit_code == 1
    assert "$.lines[].qty_received: type changed string → integer" in result.output


def test_enum_value_removed_is_breaking(dirs) -> None:
    old, new = dirs
    edit(new, "purchase_order_ack", lambda s: s["$defs"]["AckLineStatus"]["enum"].remove("SUBSTITUTED"))
    result = check(old, new)
    assert result.exit_code == 1
    assert "$.lines[].status: enum values removed: SUBSTITUTED" in result.output


def test_nullable_dropped_is_breaking(dirs) -> None:
    old, new = dirs
    edit(new, "ship_notice", lambda s: s["properties"].update(carrier_scac={"type": "string"}))
    assert "$.carrier_scac: no longer accepts null" in check(old, new).output


def test_removed_document_type_is_breaking(dirs) -> None:
    old, new = dirs
    (new / "recall.schema.json").unlink()
    result = check(old, new)
    assert result.exit_code == 1 and "recall $: document type removed" in result.output


class ShipNoticeV11(ShipNotice):
    """A later minor version: one new optional field, one new enum value elsewhere."""

    SCHEMA_VERSION = "1.1"
    document_type: Literal["ship_notice"] = "ship_notice"
    temperature_log_ref: str | None = Field(None, description="New in 1.1")


def test_additive_change_passes(dirs) -> None:
    old, new = dirs
    (new / "ship_notice.schema.json").write_text(schema_text(document_schema(ShipNoticeV11)))
    edit(new, "purchase_order_ack", lambda s: s["$defs"]["AckLineStatus"]["enum"].append("FORWARDED"))
    (new / "new_thing.schema.json").write_text(schema_text({"type": "object", "properties": {}}))
    result = check(old, new)
    assert result.exit_code == 0, result.output
    assert "additive: ship_notice $.temperature_log_ref: optional field added" in result.output
    assert "additive: purchase_order_ack $.lines[].status: enum values added: FORWARDED" in result.output
    assert "additive: new_thing $: document type added" in result.output
    assert "0 breaking, 3 additive" in result.output


def test_compare_reports_json_paths_for_nested_definitions(dirs) -> None:
    old, new = dirs
    edit(new, "ship_notice", lambda s: s["$defs"]["ShipNoticeLineLot"]["properties"]["expiration_date"]["anyOf"][0].update(format="date-time"))
    findings = [f for f in compare_dirs(old, new) if f.breaking]
    assert [(f.path, f.message) for f in findings] == [("$.lines[].lots[].expiration_date", "format changed 'date' → 'date-time'")]


def test_bad_schema_dir_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(schema_app, ["check", str(tmp_path / "missing"), str(tmp_path)])
    assert result.exit_code == 2
    assert "not a directory" in result.output


def test_docs_cover_every_document_and_example(tmp_path: Path) -> None:
    target = tmp_path / "canonical-model.md"
    result = runner.invoke(schema_app, ["docs", "--output", str(target)])
    assert result.exit_code == 0, result.output
    text = target.read_text()
    for name, cls in DOCUMENT_TYPES.items():
        assert f"## {cls.__name__}" in text
        assert f'"document_type": "{name}"' in text
    assert "### AckLineStatus" in text and "`BACKORDERED`" in text


def test_committed_docs_are_current() -> None:
    committed = Path(__file__).resolve().parents[2] / "docs" / "canonical-model.md"
    assert committed.read_text(encoding="utf-8") == render(), "run `hub schema docs` to regenerate docs/canonical-model.md"


def test_unwritable_export_dir_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = runner.invoke(schema_app, ["export", str(blocker / "sub")])
    assert result.exit_code == 1 and result.output.startswith("error: writing schemas to")
