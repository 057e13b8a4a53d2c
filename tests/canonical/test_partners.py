"""Partner registry: YAML validation with file:line errors, the store, lookups and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.partners import AckExpectation, PartnerRegistry, read_partners_file
from hub.partners_cli import partners_app
from hub.yamlfile import DataFileError

from .conftest import ROOT

GOOD = ROOT / "routes" / "partners.yaml"
runner = CliRunner()

MINIMAL = """\
partners:
  - id: P-1
    name: One
    roles: [SUPPLIER]
    x12: {isa_qualifier: ZZ, isa_id: ONE}
"""


def problems_of(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "partners.yaml"
    path.write_text(text)
    with pytest.raises(DataFileError) as caught:
        read_partners_file(path)
    return [p.replace(str(path), "F") for p in caught.value.problems]


def test_good_file_loads() -> None:
    partners = read_partners_file(GOOD)
    acme = partners[0]
    assert acme.id == "P-0042" and acme.x12.isa_id == "ACMEMED" and acme.timezone == "America/Chicago"
    assert [a.seconds for a in acme.x12.acks] == [86400, 7200]
    assert acme.auth.private_key_env == "ACME_SFTP_KEY"
    assert partners[1].edifact.unb_qualifier == "14"


def test_inline_secret_is_rejected_with_its_line(tmp_path: Path) -> None:
    text = MINIMAL + "    auth:\n      password: hunter2\n"
    [problem] = problems_of(tmp_path, text)
    assert problem.startswith("F:7: partners.0.auth.password: inline secret")
    assert "password_env" in problem and "hunter2" not in problem


def test_inline_secret_anywhere_is_rejected(tmp_path: Path) -> None:
    text = MINIMAL + "    outbound_endpoints: {purchase_order: x}\n    sftp: {api_key: abc}\n"
    [problem] = problems_of(tmp_path, text)
    assert problem.startswith("F:7: partners.0.sftp.api_key: inline secret")


def test_env_reference_must_be_a_variable_name(tmp_path: Path) -> None:
    [problem] = problems_of(tmp_path, MINIMAL + "    auth:\n      api_key_env: 'sk-live-123'\n")
    assert problem.startswith("F:7: partners.0.auth.api_key_env:") and "environment variable" in problem and "sk-live" not in problem


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("    roles: []\n", "F:4: partners.0.roles:"),
        ("    timezone: Mars/Olympus\n", "F:6: partners.0.timezone: Value error, unknown time zone"),
        ("    identifiers:\n      - {scheme: GLN, value: '0614141000013'}\n", "F:7: partners.0.identifiers.0.value: Value error, GLN"),
        ("    preferred_standard: EDIFACT\n", "F:2: partners.0: Value error, preferred_standard EDIFACT needs an edifact section"),
        ("    colour: blue\n", "F:6: partners.0.colour: Extra inputs are not permitted"),
        ("    x12: {isa_qualifier: ZZ, isa_id: ONE, acks: [{kind: '997', within: soon}]}\n", "F:5: partners.0.x12.acks.0.within:"),
    ],
)
def test_bad_files_name_line_and_reason(tmp_path: Path, extra: str, expected: str) -> None:
    lines = MINIMAL.splitlines(keepends=True)
    if extra.startswith("    roles") or extra.startswith("    x12"):
        key = extra.split(":")[0]
        lines = [line for line in lines if not line.startswith(key + ":")]
        lines.insert(3 if key.strip() == "roles" else 4, extra)
        text = "".join(lines)
    else:
        text = MINIMAL + extra
    found = problems_of(tmp_path, text)
    assert any(p.startswith(expected) for p in found), found


def test_duplicate_ids_and_envelope_identities(tmp_path: Path) -> None:
    text = MINIMAL + MINIMAL.split("\n", 1)[1] + MINIMAL.split("\n", 1)[1].replace("P-1", "P-2")
    found = problems_of(tmp_path, text)
    assert any(p.startswith("F:6: partners.1.id: partner 'P-1' is already defined") for p in found), found
    assert any(p.startswith("F:10: partners.2: identifier ISA_ID ZZ:ONE already belongs to 'P-1'") for p in found), found


def test_yaml_syntax_error_has_a_line(tmp_path: Path) -> None:
    [problem] = problems_of(tmp_path, "partners:\n  - id: [unclosed\n")
    assert problem.startswith("F:3: YAML syntax error")


def test_registry_lookups(db) -> None:
    registry = PartnerRegistry(db)
    assert registry.load_file(GOOD) == 4  # Acme, Nordmed and the order-to-invoice suppliers
    assert registry.by_isa("ZZ", "ACMEMED        ").id == "P-0042"
    assert registry.by_isa("01", "ACMEMED") is None
    assert registry.by_gs("ACMEMED").id == "P-0042"
    assert registry.by_unb("4012345000009", "14").id == "P-0107"
    assert registry.by_id("P-0107").default_currency == "EUR"
    assert registry.by_identifier("GLN", "0614141000029").id == "P-0042"
    assert registry.by_id("nobody") is None
    # loading again replaces, it does not duplicate
    assert registry.load_file(GOOD) == 4 and len(registry.all()) == 4


def test_cli(db, tmp_path: Path) -> None:
    result = runner.invoke(partners_app, ["validate", str(GOOD)])
    assert result.exit_code == 0 and "4 partner(s) OK" in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(MINIMAL + "    auth: {token: abc}\n")
    result = runner.invoke(partners_app, ["validate", str(bad)])
    assert result.exit_code == 1 and f"{bad}:6: partners.0.auth.token: inline secret" in result.output
    assert "Traceback" not in result.output
    assert runner.invoke(partners_app, ["load", str(GOOD), "--database-url", db.url]).exit_code == 0
    listing = runner.invoke(partners_app, ["list", "--database-url", db.url]).output
    assert "P-0042\tACTIVE\tDISTRIBUTOR,SUPPLIER\tAcme Medical Distribution\tISA ZZ:ACMEMED" in listing
    shown = runner.invoke(partners_app, ["show", "P-0107", "--json", "--database-url", db.url])
    assert json.loads(shown.output)["edifact"]["unb_id"] == "4012345000009"
    readable = runner.invoke(partners_app, ["show", "P-0107", "--database-url", db.url])
    assert readable.exit_code == 0 and '"unb_id": "4012345000009"' in readable.output
    assert "traffic, last 30 days (last received never)" in readable.output
    missing = runner.invoke(partners_app, ["show", "P-9", "--database-url", db.url])
    assert missing.exit_code == 1 and "no partner 'P-9'" in missing.output


def test_ack_expectation_duration() -> None:
    assert AckExpectation(kind="997", within="30m").seconds == 1800


def test_unreachable_database_is_one_clear_line(tmp_path: Path) -> None:
    url = "postgresql://nobody@127.0.0.1:1/none"
    result = runner.invoke(partners_app, ["list", "--database-url", url])
    assert result.exit_code == 1
    assert result.output.startswith("error: listing partners: database error:") and "Traceback" not in result.output


def test_load_on_a_fresh_data_dir_makes_the_tables_first(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"  # nothing has run on it yet: no tables
    result = runner.invoke(partners_app, ["load", str(GOOD), "--database-url", url])
    assert result.exit_code == 0 and "4 partner(s) loaded" in result.output, result.output
    listing = runner.invoke(partners_app, ["list", "--database-url", url]).output
    assert "P-0042\tACTIVE" in listing
