"""The supplier EDI example routes through ``hub routes test`` (same result on every run, nothing
written to the hub's store), and the ``copy_to`` step they use."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from hub.app import Hub
from hub.config import Settings
from hub.exchange import Exchange
from hub.registry import STEPS, RouteEnv, StepError, load_plugins
from tests.conftest import ROOT

load_plugins()


def routes_test(data_dir: Path, *routes: str) -> subprocess.CompletedProcess:
    env = {"HUB_ROUTES_DIR": str(ROOT / "routes"), "HUB_DATA_DIR": str(data_dir), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-m", "hub", "routes", "test", *routes], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("route", ["supplier-x12", "supplier-edifact"])
def test_route_cases_pass_on_every_run_and_leave_the_store_alone(tmp_path: Path, route: str) -> None:
    for _ in range(2):  # a second run would see duplicates and later control numbers if state leaked
        result = routes_test(tmp_path / "data", route)
        assert result.returncode == 0, result.stdout + result.stderr
        assert " 0 failed" in result.stdout and "FAIL" not in result.stdout
    store = tmp_path / "data" / "hub.sqlite3"
    if store.exists():
        with sqlite3.connect(store) as conn:
            tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            for table in {"edi_interchanges", "edi_control_counters", "business_exceptions"} & tables:
                assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table


def test_route_case_expectations_say_what_each_case_proves() -> None:
    cases = ROOT / "routes" / "tests"
    held = cases / "supplier-x12" / "bad-gtin-held" / "expected"
    assert json.loads((held / "erp-supplier-documents.json").read_text()) == []
    assert "AK5*A~" in (held / "acme-acks.txt").read_text()  # the syntax ack still goes back
    refused = cases / "supplier-x12" / "unknown-sender-refused" / "expected"
    assert (refused / "acme-acks.txt").read_text() == "" and json.loads((refused / "erp-supplier-documents.json")
                                                                        .read_text()) == []
    contrl = (cases / "supplier-edifact" / "despatch-advice" / "expected" / "nordmed-acks.txt").read_text()
    assert "UCI+NM260312001+4012345000009:14+4012345999990:14+7'" in contrl
    asn = json.loads((cases / "supplier-edifact" / "despatch-advice" / "expected" / "warehouse-asn-folder.json")
                     .read_text())
    assert [d["document_type"] for d in asn] == ["ship_notice"]


def copy_to(env: RouteEnv, ex: Exchange, **config) -> Exchange:
    cls = STEPS["copy_to"]
    (out,) = cls(cls.Config(**config), env).process(ex)
    return out


def exchange(body: object) -> Exchange:
    return Exchange(message_id="m-1", body=body, format="json", doctype="-", sender="-")


def test_copy_to_adds_a_rendered_side_output_when_the_condition_holds(tmp_path: Path) -> None:
    hub = Hub(Settings(routes_dir=ROOT / "routes", data_dir=tmp_path))
    env = RouteEnv("r", {"hub": hub})
    when = {"path": "body.document_type", "op": "eq", "value": "ship_notice"}
    asn = copy_to(env, exchange({"document_type": "ship_notice", "asn_number": "ASN-1", "qty": "2.50"}),
                  endpoint="warehouse-asn-folder", when=when)
    (side,) = asn.side_outputs
    assert (side.endpoint, side.content_type, side.document_type, side.document_key) == (
        "warehouse-asn-folder", "application/json", "ship_notice", "ASN-1")
    assert json.loads(side.body)["qty"] == "2.50"
    invoice = copy_to(env, exchange({"document_type": "invoice", "invoice_number": "I-1"}),
                      endpoint="warehouse-asn-folder", when=when)
    assert invoice.side_outputs == []
    with pytest.raises(StepError, match="endpoint 'nowhere' is not defined"):
        copy_to(env, exchange({"document_type": "ship_notice"}), endpoint="nowhere")
    with pytest.raises(StepError, match="cannot render the document as raw"):
        copy_to(env, exchange({"document_type": "ship_notice"}), endpoint="acme-acks")
