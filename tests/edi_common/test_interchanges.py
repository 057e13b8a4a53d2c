"""Interchange log on the real PostgreSQL: duplicate interchanges, duplicate documents, ack matching."""

from __future__ import annotations

import secrets
import threading
from datetime import timedelta

import pytest

from edi.common.ack_results import AckedGroup, AckedSet, AckResult, AckStatus
from edi.common.interchanges import (
    GroupInfo,
    Party,
    record_ack,
    register_document,
    register_inbound,
    register_outbound,
)
from hub.db import Database
from hub.store.models import utcnow

pytestmark = pytest.mark.postgres


def _parties() -> tuple[Party, Party]:
    return Party("ZZ", f"SUP{secrets.token_hex(4)}"), Party("ZZ", "HOSPITAL")


def test_same_sender_receiver_and_control_number_is_a_duplicate_within_the_window(pg_db: Database) -> None:
    sender, receiver = _parties()
    with pg_db.session() as s:
        first = register_inbound(s, standard="X12", sender=sender, receiver=receiver, control_number="000000042")
    with pg_db.session() as s:
        again = register_inbound(s, standard="X12", sender=sender, receiver=receiver, control_number="000000042")
        other = register_inbound(s, standard="X12", sender=sender, receiver=receiver, control_number="000000043")
    assert not first.duplicate
    assert again.duplicate and again.duplicate_of == first.id and again.status == "duplicate"
    assert not other.duplicate


def test_the_same_message_run_again_is_not_a_duplicate_of_itself(pg_db: Database) -> None:
    sender, receiver = _parties()
    with pg_db.session() as s:
        first = register_inbound(s, standard="X12", sender=sender, receiver=receiver, control_number="9",
                                 message_id="msg-a")
    with pg_db.session() as s:  # the route ran again for msg-a (retry after a crash, or a replay)
        rerun = register_inbound(s, standard="X12", sender=sender, receiver=receiver, control_number="9",
                                 message_id="msg-a")
        resent = register_inbound(s, standard="X12", sender=sender, receiver=receiver, control_number="9",
                                  message_id="msg-b")
    assert rerun.id == first.id and not rerun.duplicate
    assert resent.duplicate and resent.duplicate_of == first.id


def test_outside_the_retention_window_it_is_not_a_duplicate(pg_db: Database) -> None:
    sender, receiver = _parties()
    long_ago = utcnow() - timedelta(days=45)
    with pg_db.session() as s:
        register_inbound(s, standard="X12", sender=sender, receiver=receiver, control_number="7", now=long_ago)
    with pg_db.session() as s:
        late = register_inbound(s, standard="X12", sender=sender, receiver=receiver, control_number="7")
        strict = register_inbound(s, standard="X12", sender=sender, receiver=receiver, control_number="7",
                                  retention=timedelta(days=60))
    assert not late.duplicate
    assert strict.duplicate


def test_concurrent_receipt_of_one_interchange_accepts_it_once(pg_schema_url: str) -> None:
    sender, receiver = _parties()
    flags: list[bool] = []
    barrier = threading.Barrier(4)

    def receive() -> None:
        db = Database(pg_schema_url)
        try:
            barrier.wait()
            with db.session() as s:
                flags.append(register_inbound(s, standard="X12", sender=sender, receiver=receiver,
                                              control_number="000000099").duplicate)
        finally:
            db.dispose()

    threads = [threading.Thread(target=receive) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(flags) == [False, True, True, True]


def test_duplicate_business_document_is_reported_with_the_first_sighting(pg_db: Database) -> None:
    partner = f"SUP{secrets.token_hex(4)}"
    with pg_db.session() as s:
        assert register_document(s, document_type="invoice", partner=partner, key="INV-1", message_id="m1") is None
    with pg_db.session() as s:
        earlier = register_document(s, document_type="invoice", partner=partner, key="INV-1", message_id="m2")
        assert earlier is not None and earlier.message_id == "m1" and earlier.times_seen == 2
        assert register_document(s, document_type="invoice", partner=partner, key="INV-2") is None
    with pg_db.session() as s:  # the first message's route run again (retry, replay): not its own duplicate
        assert register_document(s, document_type="invoice", partner=partner, key="INV-1", message_id="m1") is None


def test_997_is_matched_to_the_sent_group_and_ta1_to_the_interchange(pg_db: Database) -> None:
    hospital, supplier = Party("ZZ", f"HOSP{secrets.token_hex(3)}"), Party("ZZ", "SUPPLIER")
    with pg_db.session() as s:
        sent = register_outbound(s, standard="X12", sender=hospital, receiver=supplier, control_number="000000321",
                                 ack_expected="997", groups=[GroupInfo("PO", "321", hospital.identifier, "SUPPLIER",
                                                                       "004010", (("850", "0001"), ("850", "0002")))])
        sent_id = sent.id
    ack = AckResult(standard="X12", ack_kind="997", groups=[AckedGroup(
        functional_id="PO", control_number="000321", status=AckStatus.PARTIALLY_ACCEPTED, status_raw="P",
        sets=[AckedSet(set_id="850", control_number="0001", status=AckStatus.ACCEPTED, status_raw="A"),
              AckedSet(set_id="850", control_number="0002", status=AckStatus.REJECTED, status_raw="R",
                       codes=["5"])])])
    with pg_db.session() as s:
        match = record_ack(s, ack, ack_sender=supplier, ack_receiver=hospital)
        assert match.matched and match.interchange_ids == [sent_id] and not match.unmatched
    ta1 = AckResult(standard="X12", ack_kind="TA1", interchange_control_number="321",
                    interchange_status=AckStatus.ACCEPTED, interchange_status_raw="A", note_code="000")
    with pg_db.session() as s:
        assert record_ack(s, ta1, ack_sender=supplier, ack_receiver=hospital).interchange_ids == [sent_id]
    with pg_db.session() as s:
        from edi.common.interchanges import InterchangeRecord

        record = s.get(InterchangeRecord, sent_id)
        assert record.ack_status == "PARTIALLY_ACCEPTED"
        sets = {e["control_number"]: e for e in record.groups[0].sets}
        assert sets["0001"]["ack_status"] == "ACCEPTED" and sets["0002"]["ack_codes"] == ["5"]


def test_an_ack_for_something_never_sent_is_unmatched(pg_db: Database) -> None:
    ack = AckResult(standard="X12", ack_kind="997",
                    groups=[AckedGroup(functional_id="PO", control_number="999", status=AckStatus.ACCEPTED)])
    with pg_db.session() as s:
        match = record_ack(s, ack, ack_sender=Party("ZZ", "NOBODY"), ack_receiver=Party("ZZ", "US"))
    assert not match.matched and match.unmatched == ["group PO 999"]
