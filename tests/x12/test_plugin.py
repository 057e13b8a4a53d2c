"""Route components on the real PostgreSQL: parse: x12, split: transaction, ack: auto (with the
interchange log and duplicates), x12.* transforms and the duplicate_check step."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import select

from edi.common.route_steps import AckConfig, AckStep, DuplicateCheckConfig, DuplicateCheckStep
from edi.x12.plugin import X12ParseConfig
from edi.x12.reader import ParsedX12, TransactionSet
from hub.business_exceptions import BusinessException
from hub.canonical import PurchaseOrder
from hub.db import Database
from hub.exchange import Exchange
from hub.registry import PARSERS, SPLITTERS, TRANSFORMS, RouteEnv, StepError, load_plugins
from tests.edi_common.partners import trading_partner
from tests.x12.helpers import PO_850, interchange

load_plugins()


def exchange(body: object) -> Exchange:
    return Exchange(message_id=f"m-{secrets.token_hex(4)}", body=body, format="x12", doctype="850", sender="SUPPLIER")


def unique_interchange(sender: str | None = None, **kw) -> bytes:
    # A sender of its own per test: the interchange log is shared by the session's tests.
    return interchange([("850", PO_850)], sender=sender or f"S{secrets.token_hex(4)}", **kw)


def parse(raw: bytes, ex: Exchange | None = None, **config) -> ParsedX12:
    return PARSERS["x12"].fn(raw, X12ParseConfig(**config), ex or exchange(raw))


def test_parser_gives_interchanges_and_warnings() -> None:
    ex = exchange(b"")
    parsed = parse(b"\xef\xbb\xbf" + unique_interchange().replace(b"CUR*BY*USD~", b"CUR*BY*USD"), ex)
    assert isinstance(parsed, ParsedX12) and len(list(parsed.transactions())) == 1
    assert ex.warnings == ["segment 5 (CUR): segment terminator missing before a line break; read as 2 segments "
                           "(CUR, N1)"]


def test_parser_refuses_envelope_errors_with_their_location() -> None:
    bad = unique_interchange().replace(b"SE*13*0001", b"SE*99*0001")
    with pytest.raises(StepError) as info:
        parse(bad)
    assert info.value.location == "segment 15 (SE), element 1" and info.value.reason == "count 99 but 13 segments"
    kept = parse(bad, envelope_errors="keep")
    assert kept.errors()[0].code == "se_count"
    with pytest.raises(StepError, match="EBCDIC"):
        parse("ISA*00*".encode("cp037") * 20)


def test_split_and_transforms_keep_the_envelope() -> None:
    ex = exchange(b"")
    parsed = parse(interchange([("850", PO_850), ("850", PO_850)]), ex)
    parts = SPLITTERS["transaction"].fn(parsed, ex)
    assert [p.control_number for p in parts] == ["0001", "0002"] and all(isinstance(p, TransactionSet) for p in parts)
    doc = TRANSFORMS["x12.850_to_purchase_order"].fn(parts[0], ex)
    assert isinstance(doc, PurchaseOrder) and doc.po_number == "PO-1001"
    assert ex.headers["envelope"]["transaction_control_number"] == "0001"
    assert TRANSFORMS["x12.to_canonical"].fn(parts[1], ex).lines[1].item_ids_sent[1].value == "00409488801"
    with pytest.raises(StepError, match="maps transaction set 856, got 850"):
        TRANSFORMS["x12.856_to_ship_notice"].fn(parts[0], ex)


def test_mapping_errors_in_a_transform_are_located() -> None:
    ex = exchange(b"")
    bad = [s.replace("20240115", "2024011") if s.startswith("BEG") else s for s in PO_850]
    (part,) = SPLITTERS["transaction"].fn(parse(interchange([("850", bad)]), ex), ex)
    with pytest.raises(StepError) as info:
        TRANSFORMS["x12.to_canonical"].fn(part, ex)
    assert info.value.location == "segment 4 (BEG), element 5" and "'2024011' is not a CCYYMMDD date" in info.value.reason


@pytest.mark.postgres
def test_ack_step_sends_997_then_refuses_the_duplicate_with_ta1_025(pg_db: Database) -> None:
    sender = f"S{secrets.token_hex(4)}"
    trading_partner(pg_db, x12={"isa_qualifier": "ZZ", "isa_id": sender})
    raw = unique_interchange(sender)
    env = RouteEnv("x12-inbound", services={"db": pg_db})
    step = AckStep(AckConfig(endpoint="partner-acks"), env)

    first = exchange(parse(raw))
    step.process(first)
    (out,) = first.side_outputs
    assert out.endpoint == "partner-acks" and out.document_type == "997" and b"AK5*A~" in out.body
    assert len(SPLITTERS["transaction"].fn(first.body, first)) == 1

    again = exchange(parse(raw))
    step.process(again)
    (refusal,) = again.side_outputs
    assert refusal.document_type == "TA1" and b"TA1*000000001*240115*1200*R*025~" in refusal.body
    assert SPLITTERS["transaction"].fn(again.body, again) == []
    assert [e["kind"] for e in again.exceptions] == ["duplicate_interchange", "duplicate_interchange"]
    # Control numbers of the replies come from the shared allocator, per partner pair.
    assert int(refusal.document_key) == int(out.document_key) + 1
    with pg_db.session() as s:
        kinds = s.scalars(select(BusinessException.kind).where(BusinessException.message_id == again.message_id)).all()
    assert kinds == ["duplicate_interchange"]


def test_ack_step_without_an_endpoint_says_what_to_configure() -> None:
    step = AckStep(AckConfig(), RouteEnv("r"))
    with pytest.raises(StepError, match=r"set 'ack: \{endpoint: ...\}'"):
        step.process(exchange(parse(unique_interchange())))


@pytest.mark.postgres
def test_duplicate_invoice_is_held_and_recorded(pg_db: Database) -> None:
    env = RouteEnv("x12-invoices", services={"db": pg_db})
    step = DuplicateCheckStep(DuplicateCheckConfig(), env)
    invoice_number = f"INV-{secrets.token_hex(3)}"
    doc = {"document_type": "invoice", "supplier_partner_id": "ACME", "invoice_number": invoice_number}
    first, second = exchange(doc), exchange(dict(doc))
    step.process(first)
    step.process(second)
    assert not first.held and not first.exceptions
    assert second.held and second.exceptions[0]["kind"] == "duplicate_document"
    with pg_db.session() as s:
        row = s.scalars(select(BusinessException).where(BusinessException.document_key == invoice_number)).one()
    assert row.kind == "duplicate_document" and row.message_id == second.message_id
    assert row.detail["first_message_id"] == first.message_id


@pytest.mark.postgres
def test_inbound_997_is_matched_to_the_sent_interchange_and_a_rejection_recorded(pg_db: Database) -> None:
    from edi.common.interchanges import InterchangeRecord
    from edi.x12.writer import AllocatedNumbers, write_documents
    from edi.common.control_numbers import ControlNumbers
    from edi.x12.profile import X12Profile
    from tests.x12.test_roundtrip import PO

    hospital, supplier = f"H{secrets.token_hex(4)}", f"A{secrets.token_hex(4)}"
    trading_partner(pg_db, x12={"isa_qualifier": "ZZ", "isa_id": supplier})
    profile = X12Profile(sender_id=hospital, receiver_id=supplier)
    written = write_documents([PO], profile, AllocatedNumbers(ControlNumbers(pg_db), profile))
    with pg_db.session() as s:
        from edi.common.interchanges import Party, register_outbound

        sent = register_outbound(s, standard="X12", sender=Party("ZZ", hospital), receiver=Party("ZZ", supplier),
                                 control_number=written.interchange_control_number, groups=written.groups,
                                 ack_expected="997").id
    (group,) = written.groups
    ack = (f"ISA*00*          *00*          *ZZ*{supplier.ljust(15)}*ZZ*{hospital.ljust(15)}*250311*1200*U*00401*"
           f"000000077*0*P*>~GS*FA*{supplier}*{hospital}*20250311*1200*77*X*004010~ST*997*0001~"
           f"AK1*PO*{group.control_number}~AK2*850*{group.sets[0][1]}~AK3*PO1*9**8~AK4*2**6*X~AK5*R*5~"
           f"AK9*R*1*1*0~SE*8*0001~GE*1*77~IEA*1*000000077~").encode()
    ex = exchange(parse(ack))
    AckStep(AckConfig(endpoint="acks"), RouteEnv("acks-in", services={"db": pg_db})).process(ex)
    assert ex.side_outputs == []  # acks are never acknowledged
    assert [e["kind"] for e in ex.exceptions] == ["ack_missing_or_negative"]
    with pg_db.session() as s:
        record = s.get(InterchangeRecord, sent)
        assert record.ack_status == "REJECTED" and record.groups[0].sets[0]["ack_codes"] == ["5"]
