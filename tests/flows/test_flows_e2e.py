"""Contract to item master, replenishment, implant usage and recall end to end, on the real
RabbitMQ and PostgreSQL with a worker and a file-drop process, from the example files a
hospital's systems would drop: the contract prices everything after it, the par breaches become
a transfer, an expedited PO and a PO, the implants used become stock movements, charges,
valuations and a bill-only PO the supplier's invoice is then matched against, and the recall
finds the lot received at the dock, used on two cases and still on the shelf — and quarantines it."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from hub.partners import PartnerRegistry
from hub.simulator.numbers import PartnerNumbers
from hub.simulator.wire import ReceivedOrder, business_documents
from hub.store import Message
from hub.stubs import ErpStub
from tests.backbone.conftest import HubEnv, erp_stub, wait_for  # noqa: F401 - fixtures
from tests.conftest import ROOT
from tests.edi_e2e.conftest import edi_hub  # noqa: F401 - fixture

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]

ENDPOINTS = {"ERP_ITEM_MASTER_URL": "/items", "INVENTORY_REPLENISHMENT_URL": "/inventory/replenishment",
             "ERP_REQUISITIONS_URL": "/purchase/requisitions", "BILLING_CHARGES_URL": "/billing/charges",
             "QUALITY_RECALLS_URL": "/quality/recalls", "ERP_GOODS_RECEIPTS_URL": "/goods/receipts"}


@pytest.fixture
def flows_hub(request: pytest.FixtureRequest, erp_stub: ErpStub, tmp_path: Path,  # noqa: F811
              monkeypatch: pytest.MonkeyPatch) -> HubEnv:
    for name, path in ENDPOINTS.items():
        monkeypatch.setenv(name, f"{erp_stub.url}{path}")
    monkeypatch.setenv("INVENTORY_DIR", str(tmp_path / "inventory"))
    return request.getfixturevalue("edi_hub")


def drop(env: HubEnv, channel: str, name: str, data: bytes) -> str:
    inbox = Path(env.env["HUB_DATA_DIR"]) / "inbox" / channel
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox.parent / f".{name}").write_bytes(data)
    os.replace(inbox.parent / f".{name}", inbox / name)

    def stored() -> str | None:
        with env.hub.db.session() as s:
            return s.scalars(select(Message.id).where(Message.filename == name)).first()

    return wait_for(stored, 60, what=f"{name} stored by the file drop")


def example(path: str) -> bytes:
    return (ROOT / "examples" / path).read_bytes()


def posted(env: HubEnv, path: str) -> list[dict]:
    return [json.loads(r.body) for r in env.stub.requests if r.path == path and r.status == 200]


def test_contract_replenishment_implant_usage_and_recall(flows_hub: HubEnv) -> None:
    env = flows_hub
    PartnerRegistry(env.hub.db).load_file(ROOT / "routes" / "partners.yaml")
    env.start_worker()
    env.spawn("filedrop", log="filedrop")
    inventory = env.root / "inventory"

    # The contract: 4 items and 4 contract prices to the ERP, the items to the inventory system.
    contract = drop(env, "contract-prices", "meridian-2026.csv", example("contracts/meridian-2026.csv"))
    env.wait_delivered(contract, 12, timeout=90)
    assert sorted(p["document_type"] for p in posted(env, "/items")) == ["item"] * 4 + ["price_catalog_entry"] * 4
    assert len(list((inventory / "items").glob("item-*.json"))) == 4

    # Replenishment: the sites' stock, then three par breaches.
    stock = drop(env, "site-stock", "site-stock.csv", example("replenishment/site-stock.csv"))
    env.wait_status(stock, "processed", timeout=60)
    breaches = drop(env, "par-breaches", "par-breaches.csv", example("replenishment/par-breaches.csv"))
    env.wait_delivered(breaches, 6, timeout=90)
    decisions = {d["rule"]: d for d in posted(env, "/inventory/replenishment")}
    assert {rule: (d["method"], d["qty"], d["uom"]) for rule, d in decisions.items()} == {
        "transfer-from-a-site-with-stock": ("TRANSFER", "37", "EA"),
        "expedite-critical": ("EXPEDITED_PO", "1", "BX"), "contract-po": ("STANDARD_PO", "2", "CA")}
    assert decisions["expedite-critical"]["expected_receipt_date"] == "2026-12-08"
    pos = {p["po_number"]: p for p in posted(env, "/purchase/requisitions")}
    assert {p["lines"][0]["unit_price"] for p in pos.values()} == {"45.10", "64.00"}  # the contract's prices
    (transfer,) = (inventory / "transfers").glob("transfer_order-*.json")
    assert json.loads(transfer.read_text())["from_location_id"] == "HOSP2-CENTRAL"

    # The dock receives three of lot KT24A into the OR's implant cabinet.
    scans = (b"Scanned At,Location,PO,ASN,Supplier,Barcode,Qty,UOM\n2026-12-05T09:10:00+00:00,HOSP1-OR-CABINET,"
             b"4500090077,,P-0310,(01)10614141005007(17)290630(10)KT24A,3,EA\n")
    receipt = drop(env, "dock-scans", "dock-cabinet.csv", scans)
    env.wait_delivered(receipt, 1, timeout=60)

    # Implant usage: one consigned, one owned, both of lot KT24A.
    usage = drop(env, "or-implant-log", "or-implant-log.csv", example("implant-usage/or-implant-log.csv"))
    env.wait_delivered(usage, 7, timeout=90)
    charges = posted(env, "/billing/charges")
    assert [(c["charge_code"], c["qty"], c["amount"]) for c in charges] == [("2780011", "1", "4200.00")] * 2
    assert not {"case_id", "procedure_code", "performer_ref", "encounter_id"} & {k for c in charges for k in c}
    valuations = [d for d in posted(env, "/inventory/adjustments") if d["document_type"] == "inventory_adjustment"]
    assert {(v["type"], v["extended_value"]) for v in valuations} == {
        ("CONSIGNMENT_CONSUMPTION", "-1450.00"), ("ISSUE_TO_PATIENT", "-1450.00")}
    (bill_only,) = [p for p in posted(env, "/purchase/requisitions") if p["po_type"] == "BILL_ONLY"]
    assert bill_only["lines"][0]["serial_numbers"] == ["SN-000912"] and bill_only["lines"][0]["unit_price"] == "1450.00"

    # Meridian bills the consigned implant: an 810 naming the lot and serial, matched without a receipt.
    invoice = {"document_type": "invoice", "invoice_number": "INV-BO-912", "supplier_partner_id": "P-0310",
               "invoice_type": "INVOICE", "invoice_date": "2026-12-09", "po_number": bill_only["po_number"],
               "currency": "USD", "total_amount": "1450.00", "lines": [
                   {"line_number": "1", "item_ids": bill_only["lines"][0]["item_ids_sent"], "qty_invoiced": "1",
                    "uom": "EA", "unit_price": "1450.00", "lot_numbers": ["KT24A"], "serial_numbers": ["SN-000912"]}]}
    order = ReceivedOrder("X12", {}, {"sender_id": "GENHOSP", "sender_qualifier": "ZZ"}, "bill-only")
    partner = PartnerRegistry(env.hub.db).by_id("P-0310")
    numbers = PartnerNumbers(env.root / "meridian.numbers.json")
    out = business_documents(partner, order, [invoice], numbers, datetime(2026, 12, 9, 8, 0, tzinfo=UTC))
    billed = drop(env, "meridian-x12", "MERIDIANSURG-810-bill-only.x12", out.data)
    env.wait_delivered(billed, 2, timeout=90)  # the invoice to the ERP, the 997 back
    (matched,) = [p for p in posted(env, "/supplier/documents") if p.get("invoice_number") == "INV-BO-912"]
    assert matched["match_status"] == "MATCHED"

    # The recall: three received into the cabinet, two used on cases in two ORs, one on the shelf.
    recall = drop(env, "recall-notices", "recall-notice.json", example("recall/recall-notice.json"))
    env.wait_delivered(recall, 3, timeout=60)  # the recall and its quarantine to quality, the quarantine to inventory
    (found,) = [p for p in posted(env, "/quality/recalls") if p["document_type"] == "recall"]
    assert found["status"] == "QUARANTINED"
    assert sorted(h["kind"] for h in found["hits"]) == ["ON_HAND", "RECEIVED", "USED", "USED"]
    (quarantine,) = (inventory / "movements").glob("inventory_adjustment-RCL-2026-0042-Q1.json")
    assert json.loads(quarantine.read_text())["qty"] == "1"  # the ORs took theirs from the cabinet (inferred)
    traced = env.hub_cli("recall", "trace", "--item", "10614141005007", "--lot", "KT24A").stdout
    assert "received" in traced and "case CASE-2026-0311" in traced and "case CASE-2026-0314" in traced
    assert "ACCT-TOKEN" not in traced  # used on which case, never whose account
    trail = env.hub_cli("documents", "trail", "RCL-2026-0042").stdout
    assert "recall" in trail and "inventory_adjustment" in trail and "RCL-2026-0042-Q1" in trail
