"""Inbound RECADV → goods_receipt: the fixture, write → read round trips, the rules the message
leaves open (receipt time, lot quantities) and located refusals; the CLI and the transform."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from edi.cli import app
from edi.edifact.plugin import EdifactParseConfig
from edi.edifact.profile import EdifactProfile
from edi.edifact.writer import PreviewNumbers, WriteError, write_documents
from hub.canonical import GoodsReceipt
from hub.exchange import Exchange
from hub.registry import PARSERS, SPLITTERS, TRANSFORMS, load_plugins
from tests.edifact.test_mapping import FIXTURES, run
from tests.edifact.test_writer import EXAMPLES, NOW, documents, strip_envelope

RECADV = FIXTURES / "recadv_receipt.edi"
PROFILE = EdifactProfile(sender_id="HOSP", receiver_id="SUP")


def fixture(**replace: str) -> bytes:
    """The fixture with segments replaced (a new text may hold several segments, or none) and
    UNT counting what is left."""
    text = RECADV.read_text()
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    segments = [s for s in text.split("\n") if s]
    count = segments.index("UNT+33+1'") - next(i for i, s in enumerate(segments) if s.startswith("UNH")) + 1
    return text.replace("UNT+33+1'", f"UNT+{count}+1'").encode()


def test_fixture_translates_to_a_goods_receipt() -> None:
    (receipt,), diagnostics = run(RECADV.read_bytes())
    assert receipt.pop("envelope")["message_type"] == "RECADV"
    assert receipt == {
        "document_type": "goods_receipt", "schema_version": "1.0", "receipt_id": "GR-2024-0042",
        "receipt_datetime": "2024-03-05T00:00:00+00:00", "receiving_location_id": "5412345000020",
        "supplier_partner_id": "5410738000008", "asn_number": "ASN-9001", "source": "DOCK_SCAN",
        "lines": [
            {"line_number": "1", "po_number": "PO-4500012345", "po_line_number": "10",
             "item_ids": [{"scheme": "GTIN", "value": "05410738000152", "qualifier": "SRV"},
                          {"scheme": "VENDOR_PART", "value": "CATH-16F", "qualifier": "SA"}],
             "qty_received": "40", "uom": "EA", "qty_accepted": "38", "qty_rejected": "2", "reject_reason": "DME",
             "location_id": "5412345000020",
             "lot_allocations": [{"lot_number": "LOT2024A", "expiration_date": "2027-09-30", "qty_base": "40"}]},
            {"line_number": "2", "po_number": "PO-4500012399", "po_line_number": "20",
             "item_ids": [{"scheme": "GTIN", "value": "05410738000169", "qualifier": "SRV"}],
             "qty_received": "2", "uom": "EA", "qty_accepted": "2", "location_id": "5412345000020",
             "lot_allocations": [{"serial_number": "SN-0001", "qty_base": "1"},
                                 {"serial_number": "SN-0002", "qty_base": "1"}]},
            {"line_number": "3", "po_number": "PO-4500012345",  # the header's order: the line has none
             "item_ids": [{"scheme": "GTIN", "value": "05410738000176", "qualifier": "SRV"}],
             "qty_received": "5", "uom": "BX", "location_id": "OR-CABINET-1", "lot_allocations": []},
        ],
    }
    # DTM+50:202403051410:203 — the time is dropped and the date taken at midnight UTC, both said.
    assert [(d.code, d.segment_id, d.set_position) for d in diagnostics] == [
        ("time_dropped", "DTM", 4), ("receipt_time_assumed", "DTM", 4)]
    assert GoodsReceipt.model_validate(receipt).lines[0].item_id is None  # the crosswalk step fills it


def test_quantities_reasons_and_locations_the_message_may_vary() -> None:
    data = fixture(**{"NAD+DP+5412345000020::9++Central Receiving'": "LOC+7+DOCK-2'",
                      "QVR++AF+DME'": "QVR++AF'", "QTY+194:2:EA'": "QTY+195:1:EA'\nQTY+196:1'",
                      "DTM+50:202403051410:203'": "DTM+50:20240305:102'"})
    (receipt,), diagnostics = run(data)
    first, second, _ = receipt["lines"]
    assert receipt["receiving_location_id"] == "DOCK-2" and first["location_id"] == "DOCK-2"
    assert first["reject_reason"] == "AF"  # no 4295 reason: the 4221 discrepancy
    assert second["qty_rejected"] == "2"  # returned + destroyed
    assert {d.code for d in diagnostics} == {"receipt_time_assumed", "rejected_quantities_added"}


def receipt_to_send() -> dict[str, Any]:
    """The example receipt as a RECADV carries it: items by code, one batch, one unit per
    quantity, the receipt at midnight UTC, every line at the receiving location."""
    receipt = json.loads((EXAMPLES / "goods_receipt.json").read_text())
    for field in ("erp_posting",):
        receipt.pop(field)
    receipt["receipt_datetime"] = "2025-03-14T00:00:00+00:00"
    line = receipt["lines"][0]
    for field in ("item_id", "bin", "uom_canonical", "base_qty", "base_uom"):
        line.pop(field)
    line["item_ids"] = [{"scheme": "GTIN", "value": "00612345678907", "qualifier": "SRV"}]
    line.update(qty_accepted="1", qty_rejected="1", reject_reason="PE")
    line["lot_allocations"] = [{"lot_number": "A1234", "expiration_date": "2027-09-30", "qty_base": "2"}]
    serials = {"line_number": "2", "po_number": "4500012345", "po_line_number": "2",
               "item_ids": [{"scheme": "GTIN", "value": "05410738000169", "qualifier": "SRV"}],
               "qty_received": "2", "uom": "EA", "location_id": "HOSP1-CR",
               "lot_allocations": [{"lot_number": "B7", "serial_number": s, "expiration_date": "2028-01-31",
                                    "qty_base": "1"} for s in ("SN-1", "SN-2")]}
    receipt["lines"].append(serials)
    return receipt


def test_a_goods_receipt_round_trips_through_recadv() -> None:
    receipt = receipt_to_send()
    written = write_documents([receipt], PROFILE, PreviewNumbers(), now=NOW)
    assert written.data.count(b"B7:NB") == 1  # one batch of two serials: one PIA NB
    (back,) = strip_envelope(documents(written.data))
    assert back == GoodsReceipt.model_validate(receipt).canonical_dict()


def test_an_item_sent_by_its_hub_id_comes_back_as_the_buyers_item_number() -> None:
    receipt = receipt_to_send()
    line = receipt["lines"][0]
    line["item_id"] = line.pop("item_ids")[0]["value"]
    (back,) = documents(write_documents([receipt], PROFILE, PreviewNumbers(), now=NOW).data)
    assert "item_id" not in back["lines"][0]
    assert back["lines"][0]["item_ids"] == [{"scheme": "BUYER_ITEM", "value": line["item_id"], "qualifier": "IN"}]


def test_a_receipt_time_comes_back_as_its_utc_day() -> None:
    receipt = receipt_to_send()
    receipt["receipt_datetime"] = "2025-03-14T22:30:00-05:00"  # 03:30 UTC the next day
    (back,) = documents(write_documents([receipt], PROFILE, PreviewNumbers(), now=NOW).data)
    assert back["receipt_datetime"] == "2025-03-15T00:00:00+00:00"


@pytest.mark.parametrize(
    ("replace", "code", "segment", "position", "reason"),
    [
        ({"BGM+632+GR-2024-0042+9'": "BGM+632++9'"}, "missing_segment", "UNH", 1, "receipt number (BGM 1004)"),
        ({"DTM+50:202403051410:203'": "DTM+17:20240305:102'"}, "missing_segment", "UNH", 1,
         "goods receipt date (DTM+50)"),
        ({"DTM+50:202403051410:203'": "DTM+50:20240230:102'"}, "missing_segment", "UNH", 1,
         "goods receipt date (DTM+50)"),  # not a date: warned, then missing
        ({"NAD+DP+5412345000020::9++Central Receiving'": "NAD+DP+++Central Receiving'"}, "missing_segment", "UNH", 1,
         "receiving location (NAD+DP)"),
        ({"QTY+48:40:EA'": "QTY+48:40'"}, "unit_mismatch", "QTY", 16,
         "QTY+194 counts in EA but QTY+48 in units of the GTIN"),
        ({"QTY+48:40:EA'": "QTY+12:40:EA'"}, "missing_quantity", "LIN", 12, "no received quantity"),
        ({"QTY+194:38:EA'": "QTY+194:38:BX'"}, "unit_mismatch", "QTY", 16, "QTY+194 counts in BX but QTY+48 in EA"),
        ({"GIN+BX+LOT2024A'": "GIN+BX+LOT2024A+LOT2024B'"}, "unsplit_batches", "LIN", 12,
         "2 batches (LOT2024A, LOT2024B) and no quantity per batch"),
        ({"LIN+3++05410738000176:SRV'": "LIN+3'"}, "missing_item", "LIN", 28, "names no item"),
        ({"CNT+2:3'": "CNT+2:4'"}, "control_total", "CNT", 32, "CNT+2 says 4 line items"),
    ],
)
def test_what_a_receipt_cannot_do_without_is_refused_with_its_place(replace, code, segment, position, reason) -> None:
    docs, diagnostics = run(fixture(**replace))
    (error,) = [d for d in diagnostics if d.is_error]
    assert not docs
    assert (error.code, error.segment_id, error.set_position) == (code, segment, position)
    assert error.segment_position is not None and reason in error.reason


def test_a_quantity_without_unit_counts_units_of_the_gtin() -> None:
    """EANCOM leaves 6411 out when the quantity counts units of the line's GTIN: the line keeps
    uom None (as ship notice lines do), for uom_convert to take the GTIN's packaging level."""
    docs, diagnostics = run(fixture(**{"QTY+48:40:EA'": "QTY+48:40'", "QTY+194:38:EA'": "QTY+194:38'",
                                       "QTY+195:2:EA'": "QTY+195:2'"}))
    assert not [d for d in diagnostics if d.is_error]
    (receipt,) = docs
    line = receipt["lines"][0]
    assert "uom" not in line and (line["qty_received"], line["qty_accepted"], line["qty_rejected"]) == ("40", "38", "2")


def test_a_recadv_without_lines_is_refused_at_unh() -> None:
    text = RECADV.read_text()
    lines = text[text.index("LIN+1"):text.index("UNS+S'")]
    docs, diagnostics = run(fixture(**{lines: "", "CNT+2:3'\n": ""}))
    (error,) = [d for d in diagnostics if d.is_error]
    assert not docs and (error.code, error.segment_id, error.set_position) == ("missing_segment", "UNH", 1)
    assert "receipt lines (LIN) is missing" in error.reason


def test_two_batches_of_a_line_travel_as_one_lin_group_each_with_its_quantity() -> None:
    """RECADV gives a line one batch: the example's two batches (10 EA each of 2 BX = 20 EA)
    become two LIN groups of 1 BX, each with its batch and expiry, and read back as such."""
    receipt = json.loads((EXAMPLES / "goods_receipt.json").read_text())
    written = write_documents([receipt], PROFILE, PreviewNumbers(), now=NOW)
    assert any("2 batches are sent as 2 LIN groups" in w for w in written.warnings)
    docs, diagnostics = run(written.data)
    assert not [d for d in diagnostics if d.is_error]
    (back,) = docs
    lines = [(ln["qty_received"], ln["uom"], ln["qty_accepted"], [(a["lot_number"], a["expiration_date"])
                                                                for a in ln["lot_allocations"]]) for ln in back["lines"]]
    assert lines == [("1", "BX", "1", [("A1234", "2027-09-30")]), ("1", "BX", "1", [("A1299", "2027-12-31")])]


def test_several_batches_without_quantities_of_their_own_are_refused() -> None:
    receipt = json.loads((EXAMPLES / "goods_receipt.json").read_text())
    receipt["lines"][0]["lot_allocations"][1]["qty_base"] = "5"
    with pytest.raises(WriteError, match=r"document 1 \(goods_receipt GR-2025-000123\): lines.0.lot_allocations: "
                                         r"the batches add up to 1.5 BX, the line received 2"):
        write_documents([receipt], PROFILE, PreviewNumbers(), now=NOW)


def test_cli_translates_the_fixture() -> None:
    result = CliRunner().invoke(app, ["translate", str(RECADV)])
    assert result.exit_code == 0, result.stderr
    (receipt,) = json.loads(result.stdout)
    assert receipt["document_type"] == "goods_receipt" and receipt["receipt_id"] == "GR-2024-0042"
    assert all(line.startswith(f"{RECADV}: warning: segment 6 (DTM)") for line in result.stderr.splitlines())


def test_route_parse_split_and_transform() -> None:
    load_plugins()
    raw = RECADV.read_bytes()
    ex = Exchange(message_id="m-recadv", body=raw, format="edifact", doctype="RECADV", sender="SUPPLIER")
    (part,) = SPLITTERS["transaction"].fn(PARSERS["edifact"].fn(raw, EdifactParseConfig(), ex), ex)
    receipt = TRANSFORMS["edifact.recadv_to_goods_receipt"].fn(part, ex)
    assert isinstance(receipt, GoodsReceipt) and receipt.asn_number == "ASN-9001"
    assert isinstance(TRANSFORMS["edifact.to_canonical"].fn(part, ex), GoodsReceipt)
