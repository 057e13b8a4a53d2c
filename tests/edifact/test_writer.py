"""Writing EDIFACT: canonical → ORDERS / ORDRSP / DESADV / INVOIC (→ read → the same documents),
RECADV, partner syntax and delimiters, charset checks, references from the shared allocator."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from edi.common.control_numbers import ControlNumbers
from edi.common.diagnostics import Diagnostic
from edi.edifact.engine import translate
from edi.edifact.profile import EdifactProfile
from edi.edifact.reader import read
from edi.edifact.writer import AllocatedNumbers, PreviewNumbers, WriteError, write_documents
from tests.conftest import corpus_files
from tests.edifact.test_mapping import HEALTHCARE_DESADV, NOT_TRANSLATED

EXAMPLES = Path(__file__).resolve().parents[2] / "hub" / "canonical" / "examples"
NOW = datetime(2024, 5, 6, 7, 8)
ROUND_TRIP_TYPES = {"purchase_order", "purchase_order_ack", "ship_notice", "invoice"}


def documents(data: bytes) -> list[dict[str, Any]]:
    items = list(translate(data))
    errors = [str(i) for i in items if isinstance(i, Diagnostic) and i.is_error]
    assert not errors, errors
    return [i for i in items if isinstance(i, dict)]


def strip_envelope(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in d.items() if k != "envelope"} for d in docs]


def profile_like(envelope: dict[str, Any], **changes: Any) -> EdifactProfile:
    """Re-send in the same envelope parties (the supplier id may come from UNB)."""
    return EdifactProfile(sender_id=envelope["sender_id"], sender_qualifier=envelope["sender_qualifier"] or None,
                          receiver_id=envelope["receiver_id"], receiver_qualifier=envelope["receiver_qualifier"] or None,
                          syntax_id="UNOW", **changes)


# Corpus files whose documents carry a value no EDIFACT element can take (the reader only warns
# about over-long values): written back they are refused at their place, never sent.
NOT_RESENDABLE = {
    "desadv_phpedifact_1.edi": r"DESADV message of document 1 \(ship_notice Y02197250\): segment 2 \(BGM\), element 3 "
                               r"\[purpose_raw\]: '700101' has 6 characters; 1 to 3 allowed",
    "orders_phpedifact_1.edi": r"ORDERS message of document 1 \(purchase_order 2019265563\): segment 16 \(QTY\), "
                               r"element 1, component 3 .*'GBND' has 4 characters; 1 to 3 allowed",
}
# Corpus files holding ORDERS, ORDRSP, DESADV or INVOIC messages that translate.
ROUND_TRIP_FILES = [p for p in corpus_files("edifact") if p.name.split("_")[0] in ("orders", "ordrsp", "desadv", "invoic")
                    and p.name not in NOT_TRANSLATED and p.name not in NOT_RESENDABLE]


@pytest.mark.corpus
@pytest.mark.parametrize("name", sorted(NOT_RESENDABLE))
def test_corpus_documents_with_values_edifact_cannot_hold_are_refused_at_their_place(name: str) -> None:
    path = next((p for p in corpus_files("edifact") if p.name == name), None)
    if path is None:
        pytest.skip("../shared/corpus is absent")
    docs = [i for i in translate(path.read_bytes()) if isinstance(i, dict)]
    with pytest.raises(WriteError, match=NOT_RESENDABLE[name]):
        write_documents(strip_envelope(docs), profile_like(docs[0]["envelope"]), PreviewNumbers(), now=NOW)


@pytest.mark.corpus
@pytest.mark.parametrize("path", ROUND_TRIP_FILES, ids=lambda p: p.name)
def test_corpus_documents_round_trip(path: Path) -> None:
    items = [i for i in translate(path.read_bytes()) if isinstance(i, dict)]
    docs = [d for d in items if d["document_type"] in ROUND_TRIP_TYPES]
    assert docs
    profile = profile_like(docs[0]["envelope"])
    written = write_documents(strip_envelope(docs), profile, PreviewNumbers(), now=NOW)
    assert strip_envelope(documents(written.data)) == strip_envelope(docs)


def test_round_trip_corpus_present_or_skipped() -> None:
    if not ROUND_TRIP_FILES:
        pytest.skip("../shared/corpus is absent: corpus round trips not run")
    assert {p.name.split("_")[0] for p in ROUND_TRIP_FILES} == {"orders", "ordrsp", "desadv", "invoic"}


def test_healthcare_desadv_round_trip_keeps_lots_expiry_and_ssccs() -> None:
    (asn,) = strip_envelope(documents(HEALTHCARE_DESADV))
    written = write_documents([asn], EdifactProfile(sender_id="S", receiver_id="R"), PreviewNumbers(), now=NOW)
    (back,) = strip_envelope(documents(written.data))
    assert back == asn
    text = written.data.decode("latin-1")
    assert "DTM+36:20270930:102'" in text and "GIN+BJ+" in text and "PIA+1+SN-0001:SN+SN-0002:SN'" in text


@pytest.mark.parametrize(
    ("name", "message"),
    [("purchase_order", "ORDERS"), ("purchase_order_ack", "ORDRSP"), ("ship_notice", "DESADV"), ("invoice", "INVOIC")],
)
def test_canonical_examples_are_written(name: str, message: str) -> None:
    """Examples written from X12-shaped data: EDIFACT qualifiers replace X12 ones, the business
    content survives the trip."""
    doc = json.loads((EXAMPLES / f"{name}.json").read_text())
    profile = EdifactProfile(sender_id="HOSPITAL", receiver_id="SUPPLIER", directory="D01B")
    written = write_documents([doc], profile, PreviewNumbers(), now=NOW)
    assert f"UNH+1+{message}:D:01B:UN".encode() in written.data
    (back,) = documents(written.data)
    lines = "lines"
    assert len(back[lines]) == len(doc[lines])
    key = {"purchase_order": "po_number", "purchase_order_ack": "po_number", "ship_notice": "asn_number",
           "invoice": "invoice_number"}[name]
    assert back[key] == doc[key]
    gtins = lambda d: sorted(i["value"] for line in d[lines] for i in line.get("item_ids", line.get("item_ids_sent", []))
                             if i["scheme"] == "GTIN")
    assert gtins(back) == gtins(doc)


def test_partner_syntax_delimiters_and_decimal_comma() -> None:
    (asn,) = strip_envelope(documents(HEALTHCARE_DESADV))
    asn["lines"][0]["description"] = "Foley catheter 16Fr: 30'ml + valve?"
    profile = EdifactProfile(sender_id="S", receiver_id="R", syntax_id="UNOC", syntax_version="4", component="=",
                             element="*", decimal=",", release="?", repetition="^", terminator="~", line_break=False)
    written = write_documents([asn], profile, PreviewNumbers(), now=NOW)
    text = written.data.decode("latin-1")
    assert text.startswith("UNA=*,?^~UNB*UNOC=4*S*R*20240506=0708*1~UNH*1*DESADV=D=96A=UN=EAN005~")
    assert "MEA*PD*AAB*KGM=120,5~" in text
    assert "Foley catheter 16Fr: 30'ml + valve??" in text  # only this syntax's delimiters are escaped
    (back,) = strip_envelope(documents(written.data))
    assert back == asn


def test_release_escapes_default_delimiters() -> None:
    (asn,) = strip_envelope(documents(HEALTHCARE_DESADV))
    asn["lines"][0]["description"] = "A+B:C'D?E"
    written = write_documents([asn], EdifactProfile(sender_id="S", receiver_id="R"), PreviewNumbers(), now=NOW)
    assert b"IMD+F++:::A?+B?:C?'D??E'" in written.data
    assert strip_envelope(documents(written.data))[0]["lines"][0]["description"] == "A+B:C'D?E"


def test_characters_outside_the_syntax_are_refused_with_their_place() -> None:
    (asn,) = strip_envelope(documents(HEALTHCARE_DESADV))
    asn["lines"][0]["description"] = "Müller"
    with pytest.raises(WriteError, match=r"segment \d+ \(IMD\), element 3, component 4: character 'ü' .* UNOB"):
        write_documents([asn], EdifactProfile(sender_id="S", receiver_id="R", syntax_id="UNOB"), PreviewNumbers())
    with pytest.raises(WriteError, match=r"segment \d+ \(NAD\), element 4, component 1: character 'e' .* UNOA"):
        write_documents([asn], EdifactProfile(sender_id="S", receiver_id="R", syntax_id="UNOA"), PreviewNumbers())


def test_what_a_message_cannot_carry_is_refused() -> None:
    order = json.loads((EXAMPLES / "purchase_order.json").read_text())
    order["po_type"], order["po_type_raw"] = "BILL_ONLY", None
    with pytest.raises(WriteError, match="po_type BILL_ONLY has no EDIFACT order type code"):
        write_documents([order], EdifactProfile(sender_id="S", receiver_id="R"), PreviewNumbers())
    with pytest.raises(WriteError, match="document 1: no EDIFACT message for document type 'item'"):
        write_documents([{"document_type": "item"}], EdifactProfile(sender_id="S", receiver_id="R"), PreviewNumbers())


def test_recadv_from_a_goods_receipt() -> None:
    receipt = json.loads((EXAMPLES / "goods_receipt.json").read_text())
    written = write_documents([receipt], EdifactProfile(sender_id="HOSP", receiver_id="SUP"), PreviewNumbers(), now=NOW)
    file = read(written.data)
    assert file.errors == []
    (message,) = file.interchanges[0].messages
    tags = [s.tag for s in message.segments]
    assert message.type == "RECADV" and message.association == "EAN003"
    assert tags[:2] == ["BGM", "DTM"] and "QTY" in tags and tags[-1] == "CNT" and "UNS" not in tags  # D96A: no UNS
    assert tags.index("CPS") < tags.index("LIN")  # every LIN sits in a CPS group
    qty = [s.elements[0] for s in message.segments if s.tag == "QTY"]
    assert [q[:2] for q in qty if q[0] == "48"] == [["48", "1"], ["48", "1"]]  # 2 BX in two batches of 1


def test_references_come_from_the_shared_allocator(pg_db) -> None:
    profile = EdifactProfile(sender_id="HUB-W", receiver_id="PARTNER-W", sender_qualifier="ZZZ")
    (asn,) = strip_envelope(documents(HEALTHCARE_DESADV))

    def write_once(_: int) -> str:
        return write_documents([asn, asn], profile, AllocatedNumbers(ControlNumbers(pg_db), profile), now=NOW).reference

    with ThreadPoolExecutor(max_workers=4) as pool:
        references = list(pool.map(write_once, range(8)))
    assert sorted(int(r) for r in references) == list(range(1, 9))  # no reference reused or skipped
    last = write_documents([asn, asn], profile, AllocatedNumbers(ControlNumbers(pg_db), profile), now=NOW)
    file = read(last.data)
    assert [m.reference_number for m in file.interchanges[0].messages] == ["17", "18"]


def test_lots_with_their_own_expiry_and_quantity_travel_as_pci_groups() -> None:
    doc = json.loads((EXAMPLES / "ship_notice.json").read_text())
    written = write_documents([doc], EdifactProfile(sender_id="S", receiver_id="R"), PreviewNumbers(), now=NOW)
    assert b"PCI+36E'\nDTM+36:20270930:102'\nQTY+12:1:BX'\nGIN+BX+A1234'" in written.data
    (back,) = documents(written.data)
    assert back["lines"][0]["lots"] == doc["lines"][0]["lots"]
