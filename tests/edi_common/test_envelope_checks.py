"""The envelope checks of ``ack: auto`` (real PostgreSQL): a transaction set / message the
sender's registry entry does not list in ``inbound_documents``, and a group / message in another
version than the entry's (domain.md C #6), are rejected in the acknowledgement, recorded as
business exceptions at their place and not split out; a test interchange where production is
expected, or the reverse (C #5), is refused as a whole, recorded, and gets no acknowledgement."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import select

from edi.common.interchanges import InterchangeRecord
from edi.common.route_steps import AckConfig, AckStep
from edi.common.settings import EdiSettings
from edi.x12.plugin import X12Adapter
from hub.db import Database
from hub.exchange import Exchange
from hub.partners import PartnerConfig
from hub.registry import SPLITTERS, RouteEnv, load_plugins
from tests.edi_common.partners import trading_partner
from tests.edi_common.test_partner_profiles import desadv, exceptions, exchange
from tests.x12.helpers import ACK_855, PO_850, interchange

load_plugins()
pytestmark = pytest.mark.postgres
SUPPLIER_DOCUMENTS = ["855", "856", "810"]


def acknowledge(ex: Exchange, db: Database, **config: str) -> list[str]:
    """Run ``ack: auto``; the segments of the one reply, or [] when nothing goes back."""
    AckStep(AckConfig(endpoint="acks", **config), RouteEnv("supplier-in", {"db": db})).process(ex)
    if not ex.side_outputs:
        return []
    (reply,) = ex.side_outputs
    terminator = "'" if reply.document_type == "CONTRL" else "~"
    return [s.strip() for s in reply.body.decode().split(terminator) if s.strip()]


def split(ex: Exchange) -> list:
    return SPLITTERS["transaction"].fn(ex.body, ex)


def x12_supplier(db: Database, **x12: object) -> PartnerConfig:
    return trading_partner(db, x12={"isa_qualifier": "ZZ", "isa_id": f"S{secrets.token_hex(4)}", **x12},
                           inbound_documents=SUPPLIER_DOCUMENTS)


def x12_from(partner: PartnerConfig, sets: list[tuple[str, list[str]]], **kw: str) -> Exchange:
    return exchange(interchange(sets, functional_id="PR", sender=partner.x12.isa_id, **kw), "x12")


def edifact_supplier(db: Database, documents: list[str], **edifact: str) -> PartnerConfig:
    return trading_partner(db, edifact={"unb_id": f"S{secrets.token_hex(4)}", "unb_qualifier": "ZZZ",
                                        "acks": [{"kind": "CONTRL"}], **edifact}, inbound_documents=documents)


def logged(db: Database, message_id: str) -> list[InterchangeRecord]:
    with db.session() as s:
        return list(s.scalars(select(InterchangeRecord).where(InterchangeRecord.message_id == message_id)))


# -- C #6: unsupported document ------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "version", "result"), [("997", "004010", "AK5"), ("999", "005010", "IK5")])
def test_a_set_not_in_inbound_documents_is_rejected_with_code_1_recorded_and_not_split(
        pg_db: Database, kind: str, version: str, result: str) -> None:
    partner = x12_supplier(pg_db, version=version, acks=[{"kind": kind}])
    ex = x12_from(partner, [("850", PO_850), ("855", ACK_855)], version=version)
    ack = acknowledge(ex, pg_db)
    set_acks = [s for s in ack if s.startswith(("AK2", result, "AK9"))]
    # Transaction Set Not Supported (AK502 / IK502 1); the 855 beside it is accepted.
    assert set_acks == ["AK2*850*0001", f"{result}*R*1", "AK2*855*0002", f"{result}*A", "AK9*P*2*2*1"]
    assert not any(s.startswith(("AK3", "IK3")) for s in ack)  # rejected unread: no mapping errors
    (row,) = exceptions(pg_db, ex.message_id)
    assert (row.kind, row.severity, row.partner_id, row.offending_value) == (
        "unsupported_document", "BLOCK", partner.id, "850")
    assert row.message == (f"segment 3 (ST), element 1: transaction set 850 is not in partner {partner.id}'s "
                           "inbound_documents [855, 856, 810]")
    assert row.detail["location"] == "segment 3 (ST), element 1" and row.detail["parts"] == ["850 0001"]
    (part,) = split(ex)
    assert part.set_id == "855"
    assert [(e["kind"], e.get("set")) for e in ex.exceptions] == [("unsupported_document", None),
                                                                  ("unsupported_document", "850 0001")]


def test_a_message_not_in_inbound_documents_is_rejected_in_the_contrl(pg_db: Database) -> None:
    partner = edifact_supplier(pg_db, ["ORDRSP", "INVOIC"])
    ex = exchange(desadv(partner.edifact.unb_id), "edifact")
    contrl = acknowledge(ex, pg_db)
    assert contrl[3].startswith("UCI+77+") and contrl[3].endswith("+7")  # the interchange itself is fine
    # The message: rejected (0083 4), no agreement (0085 17) for UNH (0013) S009 0065 (S011 2:1).
    assert "UCM+1+DESADV:D:96A:UN:EAN005+4+17+UNH+2:1" in contrl
    (row,) = exceptions(pg_db, ex.message_id)
    assert (row.kind, row.offending_value, row.detail["location"]) == (
        "unsupported_document", "DESADV", "segment 3 (UNH), element 2, component 1")
    assert row.message.endswith(f"message DESADV is not in partner {partner.id}'s inbound_documents [ORDRSP, INVOIC]")
    assert split(ex) == [] and ex.exceptions[-1]["message_ref"] == "DESADV 1"


def test_an_empty_inbound_documents_list_takes_every_document(pg_db: Database) -> None:
    partner = trading_partner(pg_db, x12={"isa_qualifier": "ZZ", "isa_id": f"S{secrets.token_hex(4)}"})
    ex = x12_from(partner, [("850", PO_850)])
    assert "AK5*A" in acknowledge(ex, pg_db) and len(split(ex)) == 1 and exceptions(pg_db, ex.message_id) == []


# -- C #6: unsupported version -------------------------------------------------------------------


def test_a_group_in_another_version_is_rejected_with_ak9_code_2(pg_db: Database) -> None:
    partner = x12_supplier(pg_db)  # x12.version 004010, the default
    ex = x12_from(partner, [("855", ACK_855)], version="005010")
    ack = acknowledge(ex, pg_db)
    # Functional Group Version Not Supported (AK905 2); the set on its own had no error.
    assert [s for s in ack if s.startswith(("AK5", "AK9"))] == ["AK5*A", "AK9*R*1*1*1*2"]
    (row,) = exceptions(pg_db, ex.message_id)
    assert (row.kind, row.offending_value, row.detail["parts"]) == ("unsupported_version", "005010", ["855 0001"])
    assert row.message == (f"segment 2 (GS), element 8: functional group 1 is version 005010, not partner "
                           f"{partner.id}'s x12.version 004010")
    assert split(ex) == [] and ex.exceptions[-1] == {**ex.exceptions[0], "set": "855 0001"}


def test_versions_warn_only_warns(pg_db: Database) -> None:
    partner = x12_supplier(pg_db)
    ex = x12_from(partner, [("855", ACK_855)], version="005010")
    assert "AK9*A*1*1*1" in acknowledge(ex, pg_db, versions="warn")
    assert ex.warnings[-1].startswith("segment 2 (GS), element 8: functional group 1 is version 005010")
    assert len(split(ex)) == 1 and exceptions(pg_db, ex.message_id) == []


def test_an_industry_identifier_after_the_version_matches_and_ack_groups_are_exempt() -> None:
    partner = PartnerConfig.model_validate({"id": "P-1", "name": "x", "roles": ["SUPPLIER"], "inbound_documents": [],
                                            "x12": {"isa_qualifier": "ZZ", "isa_id": "S1", "version": "004010"}})
    adapter = X12Adapter()
    vics = adapter.interchanges(exchange(interchange([("855", ACK_855)], version="004010VICS"), "x12").body)[0]
    ack999 = adapter.interchanges(exchange(interchange(
        [("999", ["AK1*PO*1*005010", "AK9*A*1*1*1"])], functional_id="FA", version="005010X231A1"), "x12").body)[0]
    assert adapter.agreement(vics, partner) == [] and adapter.agreement(ack999, partner) == []


def test_a_message_in_another_directory_is_rejected_in_the_contrl(pg_db: Database) -> None:
    partner = edifact_supplier(pg_db, ["DESADV"], version="D01B")
    ex = exchange(desadv(partner.edifact.unb_id), "edifact")
    assert "UCM+1+DESADV:D:96A:UN:EAN005+4+17+UNH+2:2" in acknowledge(ex, pg_db)  # S009 0052: the version
    (row,) = exceptions(pg_db, ex.message_id)
    assert (row.kind, row.offending_value, row.detail["location"]) == (
        "unsupported_version", "D96A", "segment 3 (UNH), element 2, component 2")
    assert row.message.endswith(f"message 1 (DESADV) is directory D96A, not partner {partner.id}'s edifact.version D01B")
    assert split(ex) == []


# -- C #5: test/production mismatch --------------------------------------------------------------


def test_a_test_interchange_into_production_is_refused_without_an_ack(pg_db: Database) -> None:
    partner = x12_supplier(pg_db, acks=[{"kind": "997"}, {"kind": "TA1"}])
    ex = x12_from(partner, [("855", ACK_855)], usage="T", ack="1")  # even though ISA14 asks for a TA1
    assert acknowledge(ex, pg_db) == [] and split(ex) == []
    (row,) = exceptions(pg_db, ex.message_id)
    assert (row.kind, row.severity, row.partner_id, row.offending_value) == ("usage_mismatch", "BLOCK", partner.id, "T")
    assert row.detail == {"location": "segment 1 (ISA), element 15", "expected": "production",
                          "sender": f"ZZ:{partner.x12.isa_id}"}
    assert row.message.startswith("segment 1 (ISA), element 15: interchange 000000001 from ZZ:")
    assert "is a test interchange (usage indicator 'T') but production is expected" in row.message
    assert logged(pg_db, ex.message_id) == []  # not logged: corrected and sent again, it is no duplicate
    assert [e["kind"] for e in ex.exceptions] == ["usage_mismatch", "usage_mismatch"]  # the refusal, then the set


def test_usage_any_takes_both_and_usage_test_refuses_production(pg_db: Database) -> None:
    partner = x12_supplier(pg_db)
    test_file = x12_from(partner, [("855", ACK_855)], usage="T")
    assert "AK5*A" in acknowledge(test_file, pg_db, usage="any") and len(split(test_file)) == 1
    production = x12_from(partner, [("855", ACK_855)], control="000000002")
    assert acknowledge(production, pg_db, usage="test") == [] and split(production) == []
    (row,) = exceptions(pg_db, production.message_id)
    assert row.kind == "usage_mismatch" and row.detail["expected"] == "test" and row.offending_value == "P"


def test_the_expected_usage_comes_from_hub_edi_usage_else_hub_edi_test(pg_db: Database,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    assert EdiSettings().inbound_usage == "production"
    monkeypatch.setenv("HUB_EDI_TEST", "true")  # a hub that sends test interchanges is a test system
    assert EdiSettings().inbound_usage == "test"
    monkeypatch.setenv("HUB_EDI_USAGE", "production")
    assert EdiSettings().inbound_usage == "production"
    monkeypatch.setenv("HUB_EDI_USAGE", "test")
    partner = x12_supplier(pg_db)
    ex = x12_from(partner, [("855", ACK_855)])  # ISA15 P
    assert acknowledge(ex, pg_db) == [] and exceptions(pg_db, ex.message_id)[0].kind == "usage_mismatch"


def test_an_edifact_test_interchange_into_production_is_refused(pg_db: Database) -> None:
    partner = edifact_supplier(pg_db, ["DESADV"])
    data = desadv(partner.edifact.unb_id, contrl_asked=True).replace(b"+77++++1'", b"+77++++1++1'")  # 0035 = 1
    ex = exchange(data, "edifact")
    assert acknowledge(ex, pg_db) == [] and split(ex) == []  # no CONTRL, although UNB 0031 asks
    (row,) = exceptions(pg_db, ex.message_id)
    assert (row.kind, row.offending_value, row.detail["location"]) == (
        "usage_mismatch", "1", "segment 2 (UNB), element 11")


# -- C #4, the receiver side: an interchange addressed to another party -----------------------------


def test_an_interchange_for_another_receiver_is_refused_without_an_ack(pg_db: Database,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_EDI_X12_ID", "HOSPITAL")
    partner = x12_supplier(pg_db, acks=[{"kind": "997"}, {"kind": "TA1"}])
    ours = x12_from(partner, [("855", ACK_855)], receiver="HOSPITAL")
    assert "AK5*A" in acknowledge(ours, pg_db) and len(split(ours)) == 1
    misrouted = x12_from(partner, [("855", ACK_855)], receiver="OTHERHOSP", control="000000002", ack="1")
    assert acknowledge(misrouted, pg_db) == [] and split(misrouted) == []
    (row,) = exceptions(pg_db, misrouted.message_id)
    assert (row.kind, row.offending_value, row.detail["location"], row.detail["expected"]) == (
        "unknown_partner", "ZZ:OTHERHOSP", "segment 1 (ISA), element 8", "HOSPITAL")
    assert "is addressed to ZZ:OTHERHOSP, not to this hub (HOSPITAL)" in row.message
    assert logged(pg_db, misrouted.message_id) == []
    # The refusal and the refused set travel under the recorded kind.
    assert [e["kind"] for e in misrouted.exceptions] == ["unknown_partner", "unknown_partner"]
    assert "addressed to ZZ:OTHERHOSP, not to this hub" in misrouted.exceptions[1]["message"]
    anyone = x12_from(partner, [("855", ACK_855)], receiver="OTHERHOSP", control="000000003")
    assert "AK5*A" in acknowledge(anyone, pg_db, receiver="any") and len(split(anyone)) == 1


def test_an_edifact_interchange_for_another_recipient_is_refused(pg_db: Database,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    partner = edifact_supplier(pg_db, ["DESADV"])
    data = desadv(partner.edifact.unb_id, contrl_asked=True)
    unb = data[data.index(b"UNB+"):].split(b"'")[0]
    recipient = unb.split(b"+")[3].split(b":")[0].decode()  # UNB S003 0010 of the sample
    monkeypatch.setenv("HUB_EDI_EDIFACT_ID", "5400000000003")
    ex = exchange(data, "edifact")
    assert acknowledge(ex, pg_db) == [] and split(ex) == []
    (row,) = exceptions(pg_db, ex.message_id)
    assert (row.kind, row.detail["location"]) == ("unknown_partner", "segment 2 (UNB), element 3, component 1")
    assert recipient in row.offending_value
    monkeypatch.setenv("HUB_EDI_EDIFACT_ID", recipient)
    again = exchange(data, "edifact")
    assert acknowledge(again, pg_db) != [] and len(split(again)) == 1
