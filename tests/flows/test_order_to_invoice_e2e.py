"""Order to invoice end to end (routes/order-to-invoice.yaml, hub simulate order-to-invoice).

On the real RabbitMQ and PostgreSQL, with a worker and a file-drop process: every scenario the
simulator ships runs its whole cycle — the ERP's PO out as an X12 850 (Meridian, P-0310) or an
EDIFACT ORDERS (Hanse, P-0320), the simulated supplier's answers, the dock scan, the matching
and the SLA clocks — and the hub records exactly the exceptions the scenario planted; the clean
cycle ends matched with the invoice at the ERP. Then the command itself on a fresh embedded data
dir: it starts what it needs (file drop, worker, demo ERP) and prints the summary object."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from hub.simulator.cycle import Cycle
from hub.simulator.scenarios import load_scenario, scenario_files
from hub.stubs import ErpStub
from tests.backbone.conftest import HubEnv, erp_stub  # noqa: F401 - fixtures
from tests.conftest import ROOT
from tests.edi_e2e.conftest import edi_hub  # noqa: F401 - fixture

FULL_TRAIL = ["purchase_order", "purchase_order_ack", "ship_notice", "goods_receipt", "invoice"]


@pytest.fixture
def cycle_hub(request: pytest.FixtureRequest, erp_stub: ErpStub, monkeypatch: pytest.MonkeyPatch) -> HubEnv:  # noqa: F811
    """The supplier EDI end-to-end hub (the project's routes on RabbitMQ and PostgreSQL, a schema
    of its own, the suppliers' mailboxes under the test's folder), goods receipts at the stub too."""
    monkeypatch.setenv("ERP_GOODS_RECEIPTS_URL", f"{erp_stub.url}/goods/receipts")
    return request.getfixturevalue("edi_hub")


@pytest.mark.rabbitmq
@pytest.mark.postgres
def test_every_scenario_through_rabbitmq_raises_what_it_planted(cycle_hub: HubEnv) -> None:
    cycle_hub.start_worker()
    cycle_hub.spawn("filedrop", log="filedrop")
    lines: list[str] = []
    summaries = {}
    for n, name in enumerate(sorted(scenario_files())):
        partner = ("P-0310", "P-0320")[n % 2]  # X12 and EDIFACT in turn
        cycle = Cycle(cycle_hub.hub, load_scenario(name), partner, day=0, timeout=60, log=lines.append)
        summary = summaries[name] = cycle.run()
        assert cycle.processes.procs == []  # the running file drop took the order: nothing was started
        assert summary["as_expected"], (name, partner, summary["exceptions"], summary["exception_details"])
        assert set(summary["exceptions"]) == set(load_scenario(name).raises)
    clean = summaries["clean"]
    assert clean["matched"] and clean["exceptions"] == [] and clean["documents"] == FULL_TRAIL
    assert clean["functional_ack"] == "accepted"
    rejected = summaries["rejected"]
    assert (rejected["documents"], rejected["functional_ack"], rejected["matched"]) == (
        ["purchase_order"], "rejected", False)
    assert summaries["no-ack"]["functional_ack"] == "pending" and summaries["no-ack"]["documents"] == FULL_TRAIL
    # The clean cycle's invoice reached the ERP matched; its receipt too, from the dock.
    invoices = [json.loads(body) for body in cycle_hub.stub.applied.values() if b'"invoice_number"' in body]
    matched = [i for i in invoices if i["po_number"] == clean["po_number"]]
    assert [i["match_status"] for i in matched] == ["MATCHED"]
    assert any(b'"goods_receipt"' in body and clean["po_number"].encode() in body
               for body in cycle_hub.stub.applied.values())
    assert f"sent 997 for {clean['po_number']}" in "\n".join(lines) or f"sent CONTRL for {clean['po_number']}" in \
        "\n".join(lines)


def test_the_command_runs_a_cycle_on_a_fresh_embedded_data_dir(tmp_path: Path) -> None:
    """No hub is running and nothing answers at the ERP's address: the command starts a file
    drop, a worker and the demo ERP, and the clean cycle ends matched."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update({"HUB_DATA_DIR": str(tmp_path / "hub"), "HUB_INBOX_STABLE_SECONDS": "0.3",
                "HUB_INBOX_POLL_INTERVAL": "0.2", "HUB_RELAY_INTERVAL": "0.5", "PYTHONPATH": str(ROOT),
                "ERP_SUPPLIER_DOCUMENTS_URL": f"http://127.0.0.1:{port}/supplier/documents",
                "ERP_GOODS_RECEIPTS_URL": f"http://127.0.0.1:{port}/goods/receipts",
                "ERP_INVENTORY_URL": f"http://127.0.0.1:{port}/inventory", "SUPPLIER_OUTBOX_DIR": str(tmp_path / "out"),
                "WAREHOUSE_DIR": str(tmp_path / "warehouse")})
    done = subprocess.run([sys.executable, "-m", "hub", "simulate", "order-to-invoice", "--scenario", "clean",
                           "--json", "--day", "0"], check=False, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=240)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["documents"], summary["exceptions"], summary["matched"]) == (FULL_TRAIL, [], True)
    assert summary["po_number"].startswith("45") and len(summary["po_number"]) == 10
    assert "starting a file drop and a worker" in done.stderr and f"127.0.0.1:{port}: started the demo ERP" in done.stderr
    assert list((tmp_path / "hub" / "demo-erp").iterdir())  # the ERP applied what the routes delivered
