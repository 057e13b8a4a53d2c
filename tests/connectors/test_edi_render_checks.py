"""The render step checks every interchange before it leaves: a document the standard refuses
is a located render_error (the route sends it to its DLQ, nothing is sent and no control
number is spent); what a set cannot carry lands in the exchange's warnings (the trace)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.edi_out import EdiRenderOptions
from connectors.render import RENDERERS
from edi.common.control_numbers import INTERCHANGE, ControlNumbers, CounterKey
from hub.db import Base, Database
from hub.exchange import Exchange
from hub.partners import PartnerRegistry, read_partners_file
from hub.registry import RouteEnv, StepError, load_plugins
from tests.conftest import ROOT

EXAMPLES = ROOT / "hub" / "canonical" / "examples"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    load_plugins()
    monkeypatch.setenv("HUB_EDI_X12_ID", "HOSPITAL")
    db = Database(f"sqlite:///{tmp_path / 'hub.sqlite3'}")
    import hub.models  # noqa: F401

    Base.metadata.create_all(db.engine)
    PartnerRegistry(db).load(read_partners_file(ROOT / "routes" / "partners.yaml"))
    yield RouteEnv("asn-out", {"db": db})
    db.dispose()


def render(env: RouteEnv, document: dict) -> Exchange:
    ex = Exchange("m-1", document, "json", document["document_type"], "erp")
    spec = RENDERERS["x12.856"]
    spec.fn(document, EdiRenderOptions(partner="P-0042"), ex, env)
    return ex


def test_warnings_of_the_write_reach_the_exchange(env: RouteEnv) -> None:
    ex = render(env, json.loads((EXAMPLES / "ship_notice.json").read_text()))
    assert any(w.startswith("render x12.856: document 1 (ship_notice ASN778812): lines.0.lots:") for w in ex.warnings)


def test_an_invalid_document_is_a_located_render_error_and_spends_no_number(env: RouteEnv) -> None:
    doc = json.loads((EXAMPLES / "ship_notice.json").read_text())
    doc["lines"][0].update(uom="BOXES", lots=[])
    with pytest.raises(StepError) as caught:
        render(env, doc)
    assert caught.value.code == "render_error"
    assert ("render x12.856: 856 set of document 1 (ship_notice ASN778812): segment" in caught.value.reason
            and "(SN1), element 3 [lines[].uom]: 'BOXES' has 5 characters; 2 allowed" in caught.value.reason)
    key = CounterKey("X12", INTERCHANGE, "ZZ:HOSPITAL", "ZZ:ACMEMED", "")
    assert ControlNumbers(env.service("db")).peek(key) == 1
