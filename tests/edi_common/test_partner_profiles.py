"""Partner registry → engine profiles, sender identification and ack routing in ``ack: auto``
(real PostgreSQL): an unknown sender is refused and recorded (domain.md C #4); a known one gets
the acknowledgement its registry entry agrees, through its own outbound endpoint."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import select

from edi.common.route_steps import AckConfig, AckStep
from edi.edifact.profile import EdifactProfile
from edi.x12.profile import X12Profile
from hub.app import Hub
from hub.business_exceptions import BusinessException
from hub.config import Settings
from hub.db import Database
from hub.exchange import Exchange
from hub.partners import read_partners_file
from hub.registry import PARSERS, SPLITTERS, TRANSFORMS, RouteEnv, StepError, load_plugins
from tests.conftest import ROOT
from tests.edi_common.partners import trading_partner
from tests.edifact.test_mapping import HEALTHCARE_DESADV, gs1
from tests.x12.helpers import PO_850, interchange

load_plugins()
pytestmark = pytest.mark.postgres
ACME, NORDMED = read_partners_file(ROOT / "routes" / "partners.yaml")[:2]


def exchange(raw: bytes, fmt: str) -> Exchange:
    ex = Exchange(message_id=f"m-{secrets.token_hex(4)}", body=raw, format=fmt, doctype="-", sender="-")
    ex.body = PARSERS[fmt].fn(raw, None, ex)
    return ex


def exceptions(db: Database, message_id: str) -> list[BusinessException]:
    with db.session() as s:
        return list(s.scalars(select(BusinessException).where(BusinessException.message_id == message_id)))


def desadv(sender: str, *, contrl_asked: bool = False) -> bytes:
    data = HEALTHCARE_DESADV.replace(f"UNB+UNOC:3+{gs1('541073800000')}:14".encode(), f"UNB+UNOC:3+{sender}:ZZZ".encode())
    return data.replace(b"+240301:0800+77'", b"+240301:0800+77++++1'") if contrl_asked else data


def test_x12_profile_from_the_registry_entry() -> None:
    profile = X12Profile.from_partner(ACME, our_id="HOSPITAL", our_gs_id="HOSPGS")
    assert (profile.receiver_qualifier, profile.receiver_id, profile.gs_receiver_id) == ("ZZ", "ACMEMED", "ACMEMED")
    assert (profile.sender_id, profile.group_sender, profile.version) == ("HOSPITAL", "HOSPGS", "004010")
    assert (profile.element_separator, profile.component_separator, profile.segment_terminator) == ("*", ">", "~")
    assert profile.ack_kind == "997" and profile.always_ta1 and profile.request_ta1
    assert profile.ack_within_seconds == 86400 and profile.ack_endpoint == "acme-acks"
    with pytest.raises(ValueError, match="no X12 identity"):
        X12Profile.from_partner(NORDMED, our_id="HOSPITAL")


def test_edifact_profile_from_the_registry_entry() -> None:
    partner = NORDMED.model_copy(update={"outbound_endpoints": {"ack": "nordmed-acks"}})
    profile = EdifactProfile.from_partner(partner, our_id="5412345000013", our_qualifier="14")
    assert (profile.receiver_id, profile.receiver_qualifier, profile.directory) == ("4012345000009", "14", "D96A")
    assert (profile.syntax_id, profile.syntax_version, profile.decimal) == ("UNOC", "3", ".")
    assert profile.contrl and profile.request_contrl and profile.ack_within_seconds == 86400
    assert profile.ack_endpoint == "nordmed-acks"


def test_unknown_x12_sender_is_refused_and_recorded_at_its_place(pg_db: Database) -> None:
    sender = f"U{secrets.token_hex(4)}"
    ex = exchange(interchange([("850", PO_850)], sender=sender), "x12")
    AckStep(AckConfig(endpoint="acks"), RouteEnv("po-in", {"db": pg_db})).process(ex)
    assert ex.side_outputs == []  # nothing goes back to a party nobody knows
    assert SPLITTERS["transaction"].fn(ex.body, ex) == []
    (row,) = exceptions(pg_db, ex.message_id)
    assert (row.kind, row.severity, row.offending_value) == ("unknown_partner", "BLOCK", f"ZZ:{sender}")
    assert row.message.startswith(f"segment 1 (ISA), element 6: sender ZZ:{sender} of interchange 000000001 is not")
    assert [e["kind"] for e in ex.exceptions] == ["unknown_partner", "unknown_partner"]  # the refusal, then the set


def test_unknown_sender_can_be_accepted_with_a_warning(pg_db: Database) -> None:
    ex = exchange(interchange([("850", PO_850)], sender=f"U{secrets.token_hex(4)}"), "x12")
    AckStep(AckConfig(endpoint="acks", unknown_sender="accept"), RouteEnv("po-in", {"db": pg_db})).process(ex)
    assert [o.document_type for o in ex.side_outputs] == ["997"]
    assert "is not in the partner registry" in ex.warnings[-1] and exceptions(pg_db, ex.message_id) == []


def test_known_x12_partner_gets_its_agreed_acks_through_its_endpoints(pg_db: Database) -> None:
    sender = f"K{secrets.token_hex(4)}"
    partner = trading_partner(pg_db, x12={"isa_qualifier": "ZZ", "isa_id": sender, "version": "005010",
                                          "acks": [{"kind": "999"}, {"kind": "TA1"}]},
                              endpoints={"999": "supplier-999", "TA1": "supplier-ta1"})
    ex = exchange(interchange([("850", PO_850)], sender=sender, version="005010"), "x12")  # its own version
    AckStep(AckConfig(endpoint="fallback"), RouteEnv("po-in", {"db": pg_db})).process(ex)
    (reply,) = ex.side_outputs
    # The agreed TA1 and 999 travel in one interchange; its kind is the functional ack.
    assert (reply.endpoint, reply.document_type) == ("supplier-999", "999")
    assert b"TA1*000000001*" in reply.body and b"ST*999*" in reply.body and b"IK5*A~" in reply.body
    (part,) = SPLITTERS["transaction"].fn(ex.body, ex)
    doc_ex = ex.derive(part, part=0)
    TRANSFORMS["x12.850_to_purchase_order"].fn(part, doc_ex)
    assert doc_ex.headers["partner_id"] == partner.id


def test_known_edifact_partner_gets_the_agreed_contrl_without_asking(pg_db: Database) -> None:
    sender = f"K{secrets.token_hex(4)}"
    partner = trading_partner(pg_db, edifact={"unb_id": sender, "unb_qualifier": "ZZZ", "acks": [{"kind": "CONTRL"}]},
                              endpoints={"CONTRL": "supplier-contrl"}, default_currency="EUR")
    ex = exchange(desadv(sender), "edifact")  # UNB 0031 empty: the agreement alone asks for CONTRL
    AckStep(AckConfig(), RouteEnv("asn-in", {"db": pg_db})).process(ex)
    (reply,) = ex.side_outputs
    assert (reply.endpoint, reply.document_type) == ("supplier-contrl", "CONTRL") and b"UCI+77+" in reply.body
    (part,) = SPLITTERS["transaction"].fn(ex.body, ex)
    doc_ex = ex.derive(part, part=0)
    TRANSFORMS["edifact.desadv_to_ship_notice"].fn(part, doc_ex)
    assert doc_ex.headers["partner_id"] == partner.id


def test_unknown_edifact_sender_is_refused_even_when_it_asks_for_a_contrl(pg_db: Database) -> None:
    sender = f"U{secrets.token_hex(4)}"
    ex = exchange(desadv(sender, contrl_asked=True), "edifact")
    AckStep(AckConfig(endpoint="acks"), RouteEnv("asn-in", {"db": pg_db})).process(ex)
    assert ex.side_outputs == [] and SPLITTERS["transaction"].fn(ex.body, ex) == []
    (row,) = exceptions(pg_db, ex.message_id)
    assert row.kind == "unknown_partner" and row.detail["location"] == "segment 2 (UNB), element 2, component 1"


def test_an_ack_endpoint_no_route_file_defines_is_a_located_step_error(pg_db: Database, pg_schema_url: str) -> None:
    sender = f"K{secrets.token_hex(4)}"
    trading_partner(pg_db, x12={"isa_qualifier": "ZZ", "isa_id": sender}, endpoints={"ack": "no-such-endpoint"})
    hub = Hub(Settings(routes_dir=ROOT / "routes", database_url=pg_schema_url))
    ex = exchange(interchange([("850", PO_850)], sender=sender), "x12")
    with pytest.raises(StepError, match=r"endpoint 'no-such-endpoint' for the 997 acknowledgement is not defined"):
        AckStep(AckConfig(), RouteEnv("po-in", {"db": pg_db, "hub": hub})).process(ex)
