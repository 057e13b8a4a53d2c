"""The test lane through the broker: a partner in testing (status ONBOARDING) sends test
interchanges, which are acknowledged and reach the ERP's *test* endpoint, never production; its
production interchanges are refused with a reason that says so; `hub partners promote` moves it
to production in one recorded command."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from hub.partners import PartnerRegistry
from tests.backbone.conftest import HubEnv, wait_for
from tests.edi_e2e.test_supplier_edi import business_exceptions, drop
from tests.x12.helpers import ACK_855, interchange

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]


def _acme_in_testing(env: HubEnv) -> Path:
    """The hub's own routes folder copy, with Acme (P-0042) back in testing."""
    registry = Path(env.env["HUB_ROUTES_DIR"]) / "partners.yaml"
    text = registry.read_text()
    start = text.index("id: P-0042")
    status_at = text.index("status: ACTIVE", start)
    registry.write_text(text[:status_at] + "status: ONBOARDING" + text[status_at + len("status: ACTIVE"):])
    PartnerRegistry(env.hub.db).load_file(registry)
    return registry


def _855(samples: Path, name: str, control: str, usage: str) -> Path:
    path = samples / name
    path.write_bytes(interchange([("855", ACK_855)], functional_id="PR", sender="ACMEMED", receiver="GENHOSP",
                                 control=control, usage=usage))
    return path


def test_a_partner_in_testing_reaches_test_endpoints_only_until_it_is_promoted(edi_hub: HubEnv) -> None:
    env = edi_hub
    registry = _acme_in_testing(env)
    env.env["ERP_SUPPLIER_DOCUMENTS_TEST_URL"] = f"{env.stub.url}/test/supplier/documents"
    env.start_worker()
    env.spawn("filedrop", log="filedrop")
    samples = env.root / "samples"
    samples.mkdir()

    # A test interchange: acknowledged, and its 855 goes to the ERP's test system only.
    test_id = drop(env, "supplier-x12", _855(samples, "acme-855-test.x12", "000007001", "T"))
    deliveries = env.wait_delivered(test_id, 2, timeout=90)
    assert sorted(d.endpoint for d in deliveries) == ["acme-acks", "erp-supplier-documents-test"]
    assert [r.path for r in env.stub.requests] == ["/test/supplier/documents"]
    env.wait_status(test_id, "delivered")

    # A production interchange from a partner in testing: refused whole, with the reason.
    prod_id = drop(env, "supplier-x12", _855(samples, "acme-855-prod.x12", "000007002", "P"))
    env.wait_status(prod_id, "refused", timeout=90)
    (refusal,) = business_exceptions(env, prod_id)
    assert refusal.kind == "usage_mismatch" and "partner P-0042 is in testing" in refusal.message
    assert "hub partners promote P-0042" in refusal.message
    assert env.deliveries(prod_id) == []

    # Promotion: one command, recorded; production interchanges now reach production.
    out = env.hub_cli("partners", "promote", "P-0042", "--reason", "test cycle passed on 2026-12-06")
    assert "P-0042 is ACTIVE" in out.stdout
    assert "status: ACTIVE" in registry.read_text()[registry.read_text().index("id: P-0042"):][:400]
    audit = env.hub_cli("audit", "--action", "promote_partner").stdout
    assert "P-0042" in audit and "test cycle passed" in audit
    again_id = drop(env, "supplier-x12", _855(samples, "acme-855-prod-again.x12", "000007003", "P"))
    deliveries = wait_for(lambda: (ds := env.deliveries(again_id)) and all(d.status == "delivered" for d in ds)
                          and len(ds) == 2 and ds, 90, what="the production 855 delivered")
    assert sorted(d.endpoint for d in deliveries) == ["acme-acks", "erp-supplier-documents"]
    assert [r.path for r in env.stub.requests][-1] == "/supplier/documents"
