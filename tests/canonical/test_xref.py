"""Crosswalk tables, lookups and `hub xref load|show` against the real PostgreSQL."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.canonical.xref import ConversionMissing, Crosswalk
from hub.canonical.xref_cli import xref_app
from hub.canonical.xref_files import read_xref_file
from hub.yamlfile import DataFileError

from .conftest import ROOT

EXAMPLES = ROOT / "examples" / "xref"
runner = CliRunner()


def load(db, path: Path, *extra: str):
    return runner.invoke(xref_app, ["load", str(path), "--database-url", db.url, *extra])


@pytest.fixture
def crosswalk(db) -> Crosswalk:
    result = load(db, EXAMPLES / "crosswalk.yaml")
    assert result.exit_code == 0, result.output
    return Crosswalk(db)


def test_example_yaml_loads(crosswalk: Crosswalk) -> None:
    assert crosswalk.base_uom("ST-10022") == "EA"
    assert len(crosswalk.rows("item_identifiers")) == 5


def test_item_resolves_by_any_scheme(crosswalk: Crosswalk) -> None:
    assert crosswalk.resolve_item([("GTIN", "10612345678904")], "P-0042").item_id == "ST-10022"
    assert crosswalk.resolve_item([("GTIN", "10612345678904")], "P-0042").uom_hint == "BX"
    assert crosswalk.resolve_item([("BUYER_ITEM", "778899")], None).item_id == "ST-10022"
    assert crosswalk.resolve_item([("VENDOR_PART", "12345")], "P-0042").item_id == "ST-10022"


def test_vendor_part_numbers_are_scoped_to_their_partner(crosswalk: Crosswalk) -> None:
    assert crosswalk.resolve_item([("VENDOR_PART", "12345")], "P-0999").item_id is None


def test_conflicting_identifiers_are_reported(crosswalk: Crosswalk) -> None:
    result = crosswalk.resolve_item([("VENDOR_PART", "GL-M-100"), ("BUYER_ITEM", "778899")], "P-0042")
    assert result.item_id is None and result.is_conflict
    assert set(result.conflicts) == {"ST-10022", "GLV-200"}


def test_partner_uom_crosswalk_then_canonical(crosswalk: Crosswalk) -> None:
    assert crosswalk.canonical_uom("P-0042", "cs") == "CA"
    assert crosswalk.canonical_uom("P-0999", "CS") is None  # CS is not case in X12 355
    assert crosswalk.canonical_uom("P-0999", "BX") == "BX"


def test_conversions_chain_and_vendor_specific(crosswalk: Crosswalk) -> None:
    assert crosswalk.factor("ST-10022", "EA") == 1
    assert crosswalk.factor("ST-10022", "BX") == 10
    assert crosswalk.factor("ST-10022", "CA") == 100  # 10 BX × 10 EA (PO4 style)
    assert crosswalk.factor("GLV-200", "BX", "P-0042", date(2025, 6, 1)) == 100
    with pytest.raises(ConversionMissing, match="no conversion from BX"):
        crosswalk.factor("GLV-200", "BX", "P-0042", date(2024, 6, 1))  # before valid_from
    with pytest.raises(ConversionMissing, match="no conversion from BX"):
        crosswalk.factor("GLV-200", "BX", "P-0999")  # another vendor's box is unknown
    with pytest.raises(ConversionMissing, match="no base unit"):
        crosswalk.factor("NOPE", "BX")


def test_to_base_and_inverse_prices(crosswalk: Crosswalk) -> None:
    assert crosswalk.to_base("ST-10022", Decimal("3"), "CA") == (Decimal("300"), "EA")
    assert crosswalk.convert_price("ST-10022", Decimal("45.10"), "BX", "EA") == Decimal("4.51")
    assert crosswalk.convert_price("ST-10022", Decimal("4.51"), "EA", "CA") == Decimal("451")


def test_location_lookup_prefers_partner_accounts(crosswalk: Crosswalk) -> None:
    assert crosswalk.resolve_location([("ACCOUNT_AT_PARTNER", "778812")], "P-0042") == "HOSP1-CR"
    assert crosswalk.resolve_location([("ACCOUNT_AT_PARTNER", "778812")], "P-0999") is None
    assert crosswalk.resolve_location([("GLN", "0614141000036")], "P-0999") == "HOSP1-CR"


def test_csv_files_load_by_name_and_update_rows(crosswalk: Crosswalk, db) -> None:
    result = load(db, EXAMPLES / "conversions.csv")
    assert result.exit_code == 0, result.output
    assert "conversions: 3 row(s) loaded" in result.output
    # Acme's own case of 12 boxes overrides the general 10-box case during 2025
    assert crosswalk.factor("ST-10022", "CA", "P-0042", date(2025, 6, 1)) == 120
    assert crosswalk.factor("ST-10022", "CA", "P-0042", date(2026, 6, 1)) == 100
    assert load(db, EXAMPLES / "uom_crosswalk.csv").exit_code == 0
    assert crosswalk.canonical_uom("P-0042", "EACH") == "EA"


def test_show_lists_rows(crosswalk: Crosswalk, db) -> None:
    result = runner.invoke(xref_app, ["show", "--kind", "uom_crosswalk", "--database-url", db.url])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == 'uom_crosswalk {"canonical_code": "CA", "partner_code": "CS", "partner_id": "P-0042"}'


def test_bad_yaml_rows_name_file_line_and_field(tmp_path: Path, db) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "items:\n"
        "  - {item_id: A, base_uom: EA}\n"
        "conversions:\n"
        "  - item_id: A\n"
        "    uom: BX\n"
        "    factor_to_base: 2.5\n"
        "    source: MANUAL\n"
        "item_identifiers:\n"
        "  - {item_id: A, scheme: GTIN, value: '00612345678900'}\n"
        "colours: []\n"
    )
    result = load(db, bad)
    assert result.exit_code == 1
    assert f"{bad}:6: conversions.0.factor_to_base: " in result.output and "not floats" in result.output
    assert f"{bad}:9: item_identifiers.0.value: " in result.output and "check digit" in result.output
    assert f"{bad}:10: unknown kind 'colours'" in result.output
    assert Crosswalk(db).rows("items") == []  # all or nothing


def test_bad_csv_rows_name_line(tmp_path: Path) -> None:
    bad = tmp_path / "locations.csv"
    bad.write_text("location_id,scheme,value\nL1,GLN,0614141000036\nL2,GLN,0614141000037\nL3,PLANET,x\n")
    with pytest.raises(DataFileError) as caught:
        read_xref_file(bad)
    assert caught.value.problems[0].startswith(f"{bad}:3: locations.value: ")
    assert caught.value.problems[1].startswith(f"{bad}:4: locations.scheme: ")


def test_csv_kind_must_be_known(tmp_path: Path, db) -> None:
    odd = tmp_path / "stuff.csv"
    odd.write_text("a,b\n1,2\n")
    result = load(db, odd)
    assert result.exit_code == 1 and "pass --kind" in result.output
    result = load(db, odd, "--kind", "conversions")
    assert result.exit_code == 1 and "unknown column(s) a, b" in result.output


def test_conversion_needs_factor_or_contents(tmp_path: Path, db) -> None:
    bad = tmp_path / "c.yaml"
    bad.write_text("conversions:\n  - {item_id: A, uom: BX, source: MANUAL}\n")
    result = load(db, bad)
    assert result.exit_code == 1 and "give factor_to_base or contains_uom + contains_qty" in result.output
