"""The simulated partner on the wire, read back by the hub's own EDI engines: its 997 and CONTRL
accept or reject the order's interchange and set; its 855/ORDRSP, 856/DESADV and 810/INVOIC
say what the scenario planted; its control numbers never repeat, across instances."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from edi.common.control_numbers import PreviewNumbers
from edi.detect import open_engine
from edi.edifact.contrl import contrl_result
from edi.edifact.profile import EdifactProfile
from edi.edifact.reader import read
from edi.edifact.writer import write_documents as write_edifact
from edi.x12.engine import translate as translate_x12
from edi.x12.profile import X12Profile
from edi.x12.writer import write_documents as write_x12
from hub.partners import read_partners_file
from hub.simulator import answers, wire
from hub.simulator.numbers import PartnerNumbers
from hub.simulator.scenarios import load_scenario
from tests.conftest import ROOT

PARTNERS = {p.id: p for p in read_partners_file(ROOT / "routes" / "partners.yaml")}
PO = json.loads((Path(answers.__file__).parent / "example-order.json").read_text())
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def x12_order() -> wire.ReceivedOrder:
    raw = write_x12([PO], X12Profile(sender_id="GENHOSP", receiver_id="MERIDIANSURG", gs_receiver_id="MERIDIANSURG"),
                    PreviewNumbers()).data
    return wire.read_order(raw, "850-4500090001.x12")


def edifact_order() -> wire.ReceivedOrder:
    po = {**PO, "supplier_partner_id": "P-0320", "currency": "EUR"}
    raw = write_edifact([po], EdifactProfile(sender_id="4012345999990", sender_qualifier="14",
                                             receiver_id="4098765000003", receiver_qualifier="14"), PreviewNumbers()).data
    return wire.read_order(raw, "ORDERS-4500090001.edi")


def test_the_order_is_read_as_the_partner_reads_it() -> None:
    order = x12_order()
    assert (order.standard, order.po_number, order.envelope["sender_id"]) == ("X12", "4500090001", "GENHOSP")
    assert [line["qty"] for line in order.po["lines"]] == ["4", "6", "2"]
    assert edifact_order().standard == "EDIFACT"
    with pytest.raises(wire.WireError, match="garbage.x12: expected one purchase order, found nothing readable"):
        wire.read_order(b"ISA*00*nonsense~", "garbage.x12")


@pytest.mark.parametrize(("rejected", "set_status", "group"), [(False, "ACCEPTED", "A*1*1*1"), (True, "REJECTED", "R*1*1*0")])
def test_the_997_accepts_or_rejects_the_850(rejected: bool, set_status: str, group: str) -> None:
    order = x12_order()
    out = wire.functional_ack(PARTNERS["P-0310"], order, PreviewNumbers(), rejected=rejected, code="5", now=NOW)
    text = out.data.decode()
    assert "*ZZ*MERIDIANSURG   *ZZ*GENHOSP        *" in text and f"AK9*{group}~" in text
    assert ("AK5*R*5~" in text) is rejected
    (result,) = [d for d in translate_x12(out.data) if isinstance(d, dict)]
    acked = result["groups"][0]
    assert (acked["functional_id"], acked["control_number"], acked["sets"][0]["set_id"]) == ("PO", "1", "850")
    assert acked["sets"][0]["status"] == set_status


@pytest.mark.parametrize("rejected", [False, True])
def test_the_contrl_acknowledges_or_rejects_the_orders(rejected: bool) -> None:
    order = edifact_order()
    out = wire.functional_ack(PARTNERS["P-0320"], order, PreviewNumbers(), rejected=rejected, code="18", now=NOW)
    (message,) = read(out.data).interchanges[0].messages
    result = contrl_result(message)
    assert result["interchange_control_number"] == "1"
    assert result["groups"][0]["sets"][0]["set_id"] == "ORDERS"
    assert result["interchange_status"] == ("REJECTED" if rejected else "ACCEPTED")
    assert ("UCM+1+ORDERS:D:96A:UN:EAN008+4+18'" in out.data.decode()) is rejected


@pytest.mark.parametrize("order", [x12_order, edifact_order])
def test_a_backorder_and_a_price_change_survive_the_wire(order) -> None:
    received = order()
    partner = PARTNERS["P-0310" if received.standard == "X12" else "P-0320"]
    for name, line, check in (("backorder", 1, lambda line: line["status"] == "BACKORDERED" or line.get("qty_backordered") == "6"),
                              ("price-change", 0, lambda line: line["unit_price"] == "48.708")):
        scenario = load_scenario(name)
        plan = answers.plan(received.po, scenario)
        ack = answers.acknowledgement(received.po, scenario, plan.acknowledged, NOW, partner.id, received.standard)
        out = wire.business_documents(partner, received, [ack], PreviewNumbers(), NOW)
        engine, stream = open_engine(io.BytesIO(out.data))
        (read_back,) = [d for d in engine.translate(stream) if isinstance(d, dict)]
        assert read_back["po_number"] == "4500090001"
        assert check(read_back["lines"][line]), (name, read_back["lines"][line])


def test_control_numbers_are_the_partners_own_and_never_repeat(tmp_path: Path) -> None:
    path = tmp_path / "P-0310.numbers.json"
    first = PartnerNumbers(path)
    assert first.take("interchange", "") == [1] and first.take("interchange", "", 2) == [2, 3]
    assert PartnerNumbers(path).take("interchange", "") == [4]  # a second run goes on from the file
    assert PartnerNumbers(path).take("group", "PR") == [1]
    order = x12_order()
    numbers = PartnerNumbers(path)
    one = wire.functional_ack(PARTNERS["P-0310"], order, numbers, rejected=False, code="5", now=NOW)
    two = wire.functional_ack(PARTNERS["P-0310"], order, numbers, rejected=False, code="5", now=NOW)
    assert (one.control_number, two.control_number) == ("000000005", "000000006")
