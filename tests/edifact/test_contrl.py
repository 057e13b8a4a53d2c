"""CONTRL: what the hub sends reports exactly what it found; inbound CONTRL / APERAK are read
and matched to what the hub sent (interchange log on PostgreSQL)."""

from __future__ import annotations

import secrets
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from edi.common.interchanges import InterchangeRecord
from edi.edifact.contrl import (
    acknowledge_file,
    aperak_result,
    build_contrl,
    contrl_due,
    contrl_result,
    record_aperak,
    record_contrl,
    register_sent,
)
from edi.edifact.engine import map_message
from edi.edifact.model import ReadInterchange
from edi.edifact.profile import EdifactProfile
from edi.edifact.reader import read
from edi.edifact.writer import PreviewNumbers, write_documents
from hub.db import Database
from tests.conftest import corpus_files
from tests.edifact.test_mapping import HEALTHCARE_DESADV, gs1

AGREED = EdifactProfile(sender_id="-", receiver_id="-", contrl=True)
NOW = datetime(2024, 5, 6, 7, 8)
FILES = [p for p in corpus_files("malformed") + corpus_files("edifact") if b"UNB" in p.read_bytes()[:400]]


def _per_message(pairs) -> list[tuple[str, list]]:
    return sorted((ref, sorted(Counter(errors).items(), key=repr)) for ref, errors in pairs)


def found_errors(interchange: ReadInterchange) -> list[tuple[str, list]]:
    """Per message reference, the errors the hub found: (0085 code, element, component)."""
    return _per_message((m.reference_number, [(d.ack_code or "18", d.element_position, d.component_position)
                                              for d in m.errors]) for m in interchange.messages)


def reported_errors(result: dict) -> list[tuple[str, list]]:
    """Per UCM of a re-read CONTRL, the errors it reports (UCM, UCS and UCD codes)."""
    return _per_message(
        (acked["control_number"], [(e.get("element_code") or e.get("segment_code"), e.get("element_position"),
                                    e.get("component_position")) for e in acked["errors"]
                                   if e.get("element_code") or e.get("segment_code")])
        for group in result["groups"] for acked in group["sets"])


@pytest.mark.corpus
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_contrl_reports_exactly_the_errors_found(path: Path) -> None:
    data = path.read_bytes()
    file = read(data)
    answered = [ic for ic in file.interchanges if contrl_due(ic, AGREED)]
    contrl = acknowledge_file(data, AGREED, now=NOW)
    if not answered:
        # Only CONTRL inside (never answered with a CONTRL), or no sender/reference to answer.
        assert contrl == b"" and all(all(m.type == "CONTRL" for m in ic.messages) or not ic.reference
                                     for ic in file.interchanges)
        return
    reply = read(contrl)
    assert reply.errors == []  # the hub's CONTRL is itself valid EDIFACT
    results = [contrl_result(m) for m in reply.messages()]
    assert len(results) == len(answered)
    for interchange, result in zip(answered, results, strict=True):
        for message in interchange.messages:
            map_message(message)
        assert result["interchange_control_number"] == interchange.reference
        assert result["interchange_status"] == ("REJECTED" if interchange.errors else "ACCEPTED")
        assert result.get("note_code") == (interchange.errors[0].ack_code if interchange.errors else None)
        assert reported_errors(result) == found_errors(interchange)


def test_contrl_structure_for_segment_and_element_errors() -> None:
    paths = [p for p in FILES if p.name == "invoic_staedi_bad_1.edi"]
    if not paths:
        pytest.skip("corpus absent")
    text = acknowledge_file(paths[0].read_bytes(), AGREED, now=NOW).decode()
    assert "UNH+1+CONTRL:D:3:UN'" in text
    assert "UCI+00000000000778+005435656:1+006415160:1+7'" in text  # interchange fine: acknowledged
    assert "UCM+00000000000117+INVOIC:D:97B:UN+4'" in text  # the message rejected
    assert "UCS+10'\nUCD+37+1:2'" in text  # QTY 1020A: segment 10 of the message, element 1:2
    assert "UCS+21+35'" in text  # second UNS+S


def test_contrl_only_when_asked_and_in_the_senders_syntax() -> None:
    plain = HEALTHCARE_DESADV
    assert acknowledge_file(plain) == b""  # no UNB 0031 = 1, no agreement
    asked = plain.replace(b"+240301:0800+77'", b"+240301:0800+77++++1'")
    text = acknowledge_file(asked, now=NOW).decode()
    hub, supplier = gs1("541234500001"), gs1("541073800000")
    assert text.startswith(f"UNA:+.? '\nUNB+UNOC:3+{hub}:14+{supplier}:14+240506:0708+1'")  # parties swapped
    assert f"UCI+77+{supplier}:14+{hub}:14+7'" in text
    file = read(asked)
    assert file.interchanges[0].ack_requested
    ucm = [line for line in text.splitlines() if line.startswith("UCM")]
    assert ucm == ["UCM+1+DESADV:D:96A:UN:EAN005+7'"]
    v4 = asked.replace(b"UNOC:3", b"UNOC:4").replace(b"240301:0800", b"20240301:0800")
    assert b"UNH+1+CONTRL:4:1:UN'" in acknowledge_file(v4, now=NOW)


def test_duplicate_interchange_gets_uci_4_error_26() -> None:
    interchange = read(HEALTHCARE_DESADV).interchanges[0]
    written = build_contrl(interchange, EdifactProfile.reply_to(interchange), PreviewNumbers(), duplicate=True, now=NOW)
    result = contrl_result(read(written.data).interchanges[0].messages[0])
    assert (result["interchange_status"], result["note_code"]) == ("REJECTED", "26")


def test_inbound_contrl_file_from_the_corpus_is_read() -> None:
    paths = [p for p in FILES if p.name == "contrl_edifabric_nosyntaxver_1.txt"]
    if not paths:
        pytest.skip("corpus absent")
    file = read(paths[0].read_bytes())
    results = [contrl_result(m) for m in file.messages()]
    assert [(r["interchange_control_number"], r["interchange_status"]) for r in results] == [("131", "RECEIVED")] * 2


def _sent_orders(pg_db: Database, partner: str) -> tuple[bytes, EdifactProfile]:
    """The hub sends an ORDERS interchange to ``partner`` and logs it."""
    from tests.edifact.test_writer import EXAMPLES

    import json

    order = json.loads((EXAMPLES / "purchase_order.json").read_text())
    profile = EdifactProfile(sender_id="HUB", sender_qualifier="ZZZ", receiver_id=partner, receiver_qualifier="14",
                             request_contrl=True)
    written = write_documents([order], profile, PreviewNumbers(), now=NOW)
    with pg_db.session() as session:
        register_sent(session, written, profile, message_id="out-1")
    return written.data, profile


@pytest.mark.postgres
def test_partner_contrl_is_matched_to_what_the_hub_sent(pg_db: Database) -> None:
    partner = f"P{secrets.token_hex(4)}"
    sent, _ = _sent_orders(pg_db, partner)
    # The partner answers with a CONTRL rejecting our message: build it from its side.
    inbound = read(sent).interchanges[0]
    inbound.messages[0].diagnostics.append(inbound.messages[0].finding(
        "error", "control_count", "test rejection", "29", position=inbound.messages[0].position, tag="UNT", element=1))
    reply = build_contrl(inbound, EdifactProfile.reply_to(inbound), PreviewNumbers(), now=NOW)
    contrl_file = read(reply.data)
    result = contrl_result(contrl_file.interchanges[0].messages[0])
    with pg_db.session() as session:
        match = record_contrl(session, contrl_file.interchanges[0], result, message_id="in-contrl")
        assert match.matched and not match.unmatched
        record = session.get(InterchangeRecord, match.interchange_ids[0])
        assert record.ack_status == "REJECTED" and record.ack_message_id == "in-contrl"
        (group,) = record.groups
        assert group.functional_id == "ORDERS" and group.sets[0]["ack_status"] == "REJECTED"


@pytest.mark.postgres
def test_partner_aperak_is_attached_to_the_order_it_names(pg_db: Database) -> None:
    partner = f"P{secrets.token_hex(4)}"
    _sent_orders(pg_db, partner)
    aperak = (f"UNB+UNOC:3+{partner}:14+HUB:ZZZ+240507:0900+A1'UNH+9+APERAK:D:96A:UN'BGM+305+AP1+9+27'"
              f"DTM+137:20240507:102'RFF+ON:4500012345'ERC+P01'FTX+AAO+++unknown item'UNT+7+9'UNZ+1+A1'").encode()
    file = read(aperak)
    assert file.errors == []
    message = file.interchanges[0].messages[0]
    result = aperak_result(message)
    assert result["errors"] == [{"code": "P01", "text": "unknown item"}] and result["response"] == "27"
    with pg_db.session() as session:
        matched = record_aperak(session, file.interchanges[0], result, message_id="in-aperak")
        assert len(matched) == 1
        record = session.get(InterchangeRecord, matched[0])
        assert record.detail["aperak"][0]["errors"][0]["code"] == "P01"
        assert record.detail["documents"][0]["key"] == "4500012345"
        others = session.scalars(select(InterchangeRecord).where(InterchangeRecord.receiver_id == "NOBODY")).all()
        assert others == []
