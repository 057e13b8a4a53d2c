"""Acks report syntax only. A well-formed set or message with a business problem — an 850 whose
only item id is an ISBN, an INVOIC without lines, a withdrawn currency (DEM), a CTT/CNT total
that disagrees — gets a positive 997/999/CONTRL; the problem becomes a business exception of
the review queue (recorded by ``ack: auto``, real PostgreSQL), and the part is not split out.
Real syntax errors are still rejected in the ack."""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from pathlib import Path

import pytest

from edi.common.diagnostics import Diagnostic
from edi.edifact.contrl import acknowledge_file as contrl_for
from edi.edifact.engine import translate as translate_edifact
from edi.edifact.profile import EdifactProfile
from edi.x12.acks import acknowledge_file as x12_ack_for
from edi.x12.engine import translate as translate_x12
from edi.x12.profile import X12Profile
from hub.db import Database
from tests.edi_common.partners import trading_partner
from tests.edi_common.test_envelope_checks import acknowledge, split
from tests.edi_common.test_partner_profiles import exceptions, exchange
from tests.x12.helpers import PO_850, interchange

P997 = X12Profile(sender_id="HOSPITAL", receiver_id="SUPPLIER", ack_kind="997")
AGREED = EdifactProfile(sender_id="-", receiver_id="-", contrl=True)
NOW = datetime(2026, 3, 13, 9, 0)
# The only item identifier of the line is an ISBN (IB): valid X12, but no scheme of the hub's.
ISBN_850 = [s for s in PO_850 if not s.startswith(("PO1", "PID", "CTT"))] + ["PO1*1*2*BX*45.10*PE*IB*9780306406157",
                                                                              "CTT*1"]
INVOIC = (Path(__file__).resolve().parents[2] / "examples" / "supplier-edifact" / "nordmed-invoic.edi").read_bytes()
INVOIC_WITHOUT_LINES = re.sub(rb"LIN\+.*?(?=UNS\+S)", b"", INVOIC, flags=re.DOTALL).replace(b"UNT+29+", b"UNT+19+")
INVOIC_IN_DEM = INVOIC.replace(b"CUX+2:EUR:4", b"CUX+2:DEM:4")


def diagnostics(items: list) -> list[Diagnostic]:
    return [i for i in items if isinstance(i, Diagnostic) and i.is_error]


def x12_ack(data: bytes) -> list[str]:
    return [s.strip() for s in x12_ack_for(data, P997).decode().split("~") if s.strip().startswith(("AK", "IK"))]


def contrl(data: bytes) -> list[str]:
    return [s.strip() for s in contrl_for(data, AGREED, now=NOW).decode().split("'") if s.strip().startswith("UC")]


# -- the engines: the ack is positive, translation names the business problem -------------------


def test_an_850_whose_only_item_id_is_an_isbn_is_accepted_by_the_997() -> None:
    data = interchange([("850", ISBN_850)])
    assert x12_ack(data) == ["AK1*PO*1", "AK2*850*0001", "AK5*A", "AK9*A*1*1*1"]  # was AK3 + AK5*R*5
    (problem,) = diagnostics(list(translate_x12(data)))
    assert str(problem).startswith("segment 11 (PO1): no usable item identifier on the line")
    assert problem.extra["exception_kind"] == "unmappable_document" and problem.ack_code == ""


def test_a_ctt_count_that_disagrees_is_a_totals_exception_not_an_ak4() -> None:
    data = interchange([("850", [s if s != "CTT*2" else "CTT*3" for s in PO_850])])
    assert x12_ack(data)[-2:] == ["AK5*A", "AK9*A*1*1*1"]
    (problem,) = diagnostics(list(translate_x12(data)))
    assert (problem.code, problem.extra["exception_kind"]) == ("control_total", "totals_do_not_reconcile")


def test_x12_syntax_errors_are_still_rejected() -> None:
    data = interchange([("850", [s.replace("20240115", "20241345") if s.startswith("BEG") else s for s in PO_850])])
    assert x12_ack(data)[1:4] == ["AK2*850*0001", "AK3*BEG*2**8", "AK4*5**8*20241345"]
    assert x12_ack(data)[4] == "AK5*R*5"


@pytest.mark.parametrize(("data", "reason"), [
    (INVOIC_WITHOUT_LINES, "invoice lines (LIN) is missing"),  # was UCM 4/13
    (INVOIC_IN_DEM, "currency"),  # was UCS+13+12 (CUX DEM: withdrawn from ISO 4217)
], ids=["invoic-without-lines", "currency-DEM"])
def test_an_invoic_with_a_business_problem_is_acknowledged_by_the_contrl(data: bytes, reason: str) -> None:
    assert contrl(data) == ["UCI+NM260313002+4012345000009:14+4012345999990:14+7",
                            "UCM+INV0001+INVOIC:D:96A:UN:EAN008+7"]
    (problem,) = diagnostics(list(translate_edifact(data)))
    assert reason in problem.reason and problem.extra["exception_kind"] == "unmappable_document"
    assert problem.segment_position is not None and problem.ack_code == ""


def test_edifact_syntax_errors_are_still_rejected() -> None:
    data = INVOIC.replace(b"QTY+47:60'", b"QTY+47:6O'")  # a letter O in a numeric element
    assert contrl(data)[1:] == ["UCM+INV0001+INVOIC:D:96A:UN:EAN008+4", "UCS+12", "UCD+37+1:2"]


# -- the route: ack: auto records the business exception, split leaves the part out ------------


@pytest.mark.postgres
def test_ack_auto_records_the_isbn_line_as_a_business_exception_and_splits_the_rest(pg_db: Database) -> None:
    partner = trading_partner(pg_db, x12={"isa_qualifier": "ZZ", "isa_id": f"S{secrets.token_hex(4)}"},
                              inbound_documents=["850"])
    ex = exchange(interchange([("850", ISBN_850), ("850", PO_850)], sender=partner.x12.isa_id), "x12")
    ack = acknowledge(ex, pg_db)
    assert [s for s in ack if s.startswith(("AK2", "AK3", "AK5", "AK9"))] == [
        "AK2*850*0001", "AK5*A", "AK2*850*0002", "AK5*A", "AK9*A*2*2*2"]
    (row,) = exceptions(pg_db, ex.message_id)
    assert (row.kind, row.severity, row.partner_id, row.document_key) == (
        "unmappable_document", "BLOCK", partner.id, "000000001")
    assert row.message.startswith("segment 11 (PO1): no usable item identifier on the line")
    assert (row.detail["location"], row.detail["part"], row.detail["code"]) == (
        "segment 11 (PO1)", "850 0001", "element_invalid")
    (part,) = split(ex)
    assert part.control_number == "0002"
    assert [(e["kind"], e.get("set")) for e in ex.exceptions][-1] == ("unmappable_document", "850 0001")


@pytest.mark.postgres
def test_ack_auto_records_a_withdrawn_currency_and_sends_a_positive_contrl(pg_db: Database) -> None:
    sender = f"S{secrets.token_hex(4)}"
    partner = trading_partner(pg_db, edifact={"unb_id": sender, "unb_qualifier": "14", "acks": [{"kind": "CONTRL"}]},
                              inbound_documents=["INVOIC"])
    data = INVOIC_IN_DEM.replace(b"UNB+UNOC:3+4012345000009:14", f"UNB+UNOC:3+{sender}:14".encode())
    ex = exchange(data, "edifact")
    reply = acknowledge(ex, pg_db)
    assert [s for s in reply if s.startswith("UC")] == [f"UCI+NM260313002+{sender}:14+4012345999990:14+7",
                                                        "UCM+INV0001+INVOIC:D:96A:UN:EAN008+7"]
    (row,) = exceptions(pg_db, ex.message_id)
    assert (row.kind, row.partner_id, row.detail["part"]) == ("unmappable_document", partner.id, "INVOIC INV0001")
    assert "currency" in row.message and row.message.startswith("segment ")
    assert split(ex) == [] and ex.exceptions[-1]["message_ref"] == "INVOIC INV0001"
