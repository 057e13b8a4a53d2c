"""Supplier EDI end to end on the real RabbitMQ and PostgreSQL with a real worker and file-drop
process: an X12 856 and an EDIFACT DESADV dropped into their inbox folders become ShipNotices
at the ERP stub and in the warehouse folder, and the acknowledgement the supplier's registry
entry agrees (997 + TA1, CONTRL) lands in the supplier's outbox."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from sqlalchemy import select

from edi.common.interchanges import InterchangeRecord
from hub.business_exceptions import BusinessException
from hub.partners import PartnerRegistry
from hub.store import Message
from tests.backbone.conftest import HubEnv, wait_for
from tests.conftest import ROOT
from tests.x12.helpers import ACK_855, PO_850, interchange

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]

X12_ASN = ROOT / "examples" / "supplier-x12" / "acme-856-ship-notice.x12"
EDIFACT_ASN = ROOT / "examples" / "supplier-edifact" / "nordmed-desadv.edi"


def drop(env: HubEnv, channel: str, sample: Path) -> str:
    """Write the sample into the channel's inbox atomically; the id of the message stored for it."""
    inbox = Path(env.env["HUB_DATA_DIR"]) / "inbox" / channel
    inbox.mkdir(parents=True, exist_ok=True)
    staging = inbox.parent / f".{sample.name}"
    staging.write_bytes(sample.read_bytes())
    os.replace(staging, inbox / sample.name)

    def stored() -> str | None:
        with env.hub.db.session() as s:
            return s.scalars(select(Message.id).where(Message.filename == sample.name)).first()

    return wait_for(stored, 60, what=f"{sample.name} stored by the file drop")


def erp_document(env: HubEnv, message_id: str) -> dict:
    (erp,) = [d for d in env.deliveries(message_id) if d.endpoint == "erp-supplier-documents"]
    request = next(r for r in env.stub.requests if r.headers.get("Idempotency-Key") == erp.idempotency_key)
    assert request.path == "/supplier/documents"
    return json.loads(env.stub.applied[erp.idempotency_key])


def test_ship_notices_reach_erp_and_warehouse_and_acks_go_back_to_the_supplier(edi_hub: HubEnv) -> None:
    PartnerRegistry(edi_hub.hub.db).load_file(ROOT / "routes" / "partners.yaml")
    edi_hub.start_worker()
    edi_hub.spawn("filedrop", log="filedrop")
    outbox = edi_hub.root / "suppliers"

    # X12 856 from Acme (P-0042: 997 + TA1 agreed, acks to acme-acks).
    x12_id = drop(edi_hub, "supplier-x12", X12_ASN)
    deliveries = edi_hub.wait_delivered(x12_id, 3, timeout=90)
    assert sorted(d.endpoint for d in deliveries) == ["acme-acks", "erp-supplier-documents", "warehouse-asn-folder"]
    asn = erp_document(edi_hub, x12_id)
    assert (asn["document_type"], asn["asn_number"], asn["packs"][0]["sscc"]) == (
        "ship_notice", "ASN-260312-0042", "006141410000047116")
    assert asn["lines"][1]["lots"][0] == {"lot_number": "FC16-2291", "expiration_date": "2029-06-30"}
    warehouse = json.loads((edi_hub.warehouse / "asn" / "ship_notice-ASN-260312-0042.json").read_text())
    assert warehouse == asn
    (ack_file,) = (outbox / "acme").glob("997-*.x12")
    ack = ack_file.read_text()
    assert "*ZZ*GENHOSP        *ZZ*ACMEMED        *" in ack and "TA1*000004711*260312*1405*A*000~" in ack
    assert "AK1*SH*4711~" in ack and "AK2*856*0001~" in ack and "AK5*A~" in ack

    # EDIFACT DESADV from Nordmed asking for a CONTRL (UNB 0031 = 1; P-0107 agrees CONTRL too).
    edifact_id = drop(edi_hub, "supplier-edifact", EDIFACT_ASN)
    deliveries = edi_hub.wait_delivered(edifact_id, 3, timeout=90)
    assert sorted(d.endpoint for d in deliveries) == ["erp-supplier-documents", "nordmed-acks",
                                                      "warehouse-asn-folder"]
    desadv = erp_document(edi_hub, edifact_id)
    assert (desadv["asn_number"], desadv["packs"][0]["sscc"]) == ("DA-2026-0312-07", "340123450000009010")
    assert (edi_hub.warehouse / "asn" / "ship_notice-DA-2026-0312-07.json").exists()
    (contrl_file,) = (outbox / "nordmed").glob("CONTRL-*.edi")
    contrl = contrl_file.read_text()
    assert "UCI+NM260312001+4012345000009:14+4012345999990:14+7'" in contrl and "UCM+DES0001+" in contrl

    # Both interchanges and both acknowledgements are in the interchange log.
    with edi_hub.hub.db.session() as s:
        logged = {(r.standard, r.direction, r.sender_id, r.control_number)
                  for r in s.scalars(select(InterchangeRecord).where(InterchangeRecord.message_id.in_(
                      [x12_id, edifact_id])))}
    assert ("X12", "in", "ACMEMED", "000004711") in logged and ("EDIFACT", "in", "4012345000009",
                                                                "NM260312001") in logged
    assert {(std, direction) for std, direction, _, _ in logged} >= {("X12", "out"), ("EDIFACT", "out")}


def test_a_po_number_is_followed_from_ack_to_ship_notice_to_invoice(edi_hub: HubEnv) -> None:
    """Acme's 855, 856 and 810 for PO 4500012345, dropped as files: `hub documents trail`
    lists the three documents in arrival order with where each was delivered."""
    PartnerRegistry(edi_hub.hub.db).load_file(ROOT / "routes" / "partners.yaml")
    edi_hub.start_worker()
    edi_hub.spawn("filedrop", log="filedrop")
    ids = []
    # ERP + the 997 back; ship notices also to the warehouse folder.
    for name, documents in (("acme-855-po-ack.x12", 2), ("acme-856-ship-notice.x12", 3), ("acme-810-invoice.x12", 2)):
        ids.append(drop(edi_hub, "supplier-x12", ROOT / "examples" / "supplier-x12" / name))
        edi_hub.wait_delivered(ids[-1], documents, timeout=90)

    out = edi_hub.hub_cli("documents", "trail", "4500012345").stdout.splitlines()
    assert out[0] == "4500012345: 3 document(s)"
    kinds = [line.split()[2] for line in out[1:]]
    assert kinds == ["purchase_order_ack", "ship_notice", "invoice"]
    for line, message_id in zip(out[1:], ids, strict=True):
        assert f"message {message_id}" in line and "erp-supplier-documents delivered" in line
    assert "as po_number" in out[2] and "ASN-260312-0042" in out[2]
    entries = json.loads(edi_hub.hub_cli("documents", "trail", "INV-2026-00871", "--json").stdout)
    assert [(e["document_type"], e["fields"]) for e in entries] == [("invoice", ["invoice_number"])]
    assert "no document carries 'PO-NOPE'" in edi_hub.hub_cli("documents", "trail", "PO-NOPE").stdout


def test_envelope_checks_reject_what_the_partner_may_not_send_end_to_end(edi_hub: HubEnv) -> None:
    """domain.md C #6 and #5 through the broker: Acme (P-0042: 855/856/810/832/997) sends an 855
    and an 850 in one group — the 855 reaches the ERP, the 850 does not and the 997 says AK5 R 1;
    then a test interchange (ISA15 T) into this production hub — refused whole, nothing goes back."""
    PartnerRegistry(edi_hub.hub.db).load_file(ROOT / "routes" / "partners.yaml")
    edi_hub.start_worker()
    edi_hub.spawn("filedrop", log="filedrop")
    samples = edi_hub.root / "samples"
    samples.mkdir()

    mixed = samples / "acme-855-and-850.x12"
    mixed.write_bytes(interchange([("855", ACK_855), ("850", PO_850)], functional_id="PR", sender="ACMEMED",
                                  receiver="GENHOSP", control="000009001"))
    mixed_id = drop(edi_hub, "supplier-x12", mixed)
    deliveries = edi_hub.wait_delivered(mixed_id, 2, timeout=90)
    assert sorted((d.endpoint, d.document_type) for d in deliveries) == [
        ("acme-acks", "997"), ("erp-supplier-documents", "purchase_order_ack")]
    ack = next(d for d in deliveries if d.endpoint == "acme-acks").payload.decode().replace("\n", "")
    assert "AK2*855*0001~AK5*A~AK2*850*0002~AK5*R*1~AK9*P*2*2*1~" in ack
    assert [(e.kind, e.offending_value) for e in business_exceptions(edi_hub, mixed_id)] == [
        ("unsupported_document", "850")]
    edi_hub.wait_status(mixed_id, "partially_delivered")  # the 855 went out, the 850 beside it was refused

    test_file = samples / "acme-855-test.x12"
    test_file.write_bytes(interchange([("855", ACK_855)], functional_id="PR", sender="ACMEMED", receiver="GENHOSP",
                                      control="000009002", usage="T"))
    test_id = drop(edi_hub, "supplier-x12", test_file)
    edi_hub.wait_status(test_id, "refused", timeout=90)
    assert edi_hub.deliveries(test_id) == []
    (refused,) = business_exceptions(edi_hub, test_id)
    assert (refused.kind, refused.partner_id, refused.detail["location"]) == (
        "usage_mismatch", "P-0042", "segment 1 (ISA), element 15")


def business_exceptions(env: HubEnv, message_id: str) -> list[BusinessException]:
    with env.hub.db.session() as s:
        return list(s.scalars(select(BusinessException).where(BusinessException.message_id == message_id)))
