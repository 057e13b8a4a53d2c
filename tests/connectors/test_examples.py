"""The connector examples work: the route samples pass ``hub routes test``, the partner route
file loads once its variables are set (and says which are missing), the sample PO is valid."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from hub.canonical import PurchaseOrder
from hub.routes import testing
from hub.routes.loader import RouteSet
from tests.conftest import ROOT

EXAMPLES = ROOT / "examples" / "connectors"
CONNECTOR_ROUTES = ("xml-orders", "cycle-counts-fixed", "cycle-counts-to-legacy-wms")
PARTNER_VARIABLES = {"ACME_SFTP_HOST": "sftp.acme.test", "ACME_SFTP_HOST_KEY": "SHA256:" + "A" * 43,
                     "NORDMED_SFTP_HOST": "sftp.nordmed.test", "ERP_PO_ACK_URL": "https://erp.test/po-acks",
                     "ERP_TOKEN_URL": "https://login.test/token"}


@pytest.mark.parametrize("route", CONNECTOR_ROUTES)
def test_example_routes_pass_their_samples(route: str) -> None:
    routes = RouteSet.load(ROOT / "routes")
    cases = testing.discover(routes, route)
    assert len(cases) >= 1
    results = [testing.run_case(routes, name, case) for name, case in cases]
    assert all(r.ok for r in results), "\n".join(r.report() for r in results)


def partner_folder(tmp_path: Path) -> Path:
    for f in (ROOT / "routes" / "partners.yaml", ROOT / "routes" / "endpoints.yaml",
              EXAMPLES / "routes" / "partner-exchange.yaml"):
        shutil.copy(f, tmp_path)
    return tmp_path


def test_partner_route_file_loads_with_its_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in PARTNER_VARIABLES.items():
        monkeypatch.setenv(name, value)
    routes = RouteSet.load(partner_folder(tmp_path))
    assert routes.problems == []
    assert routes.channels["acme-sftp-in"].sftp.poll_interval == 30
    erp = routes.endpoints["erp-po-acks"].http
    assert erp.auth.oauth2.scope == "purchasing.write" and erp.max_concurrency == 4
    assert (erp.rate_limit.per_second, routes.endpoints["erp-po-acks"].circuit.probe_max) == (10, 60)


def test_partner_route_file_names_missing_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PARTNER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    problems = [str(p) for p in RouteSet.load(partner_folder(tmp_path)).problems]
    for name in PARTNER_VARIABLES:
        assert any(f"environment variable {name} is not set" in p for p in problems), name


def test_sample_purchase_order_is_valid_for_acme() -> None:
    po = PurchaseOrder.model_validate(json.loads((EXAMPLES / "purchase-order.json").read_text()))
    assert po.supplier_partner_id == "P-0042"
