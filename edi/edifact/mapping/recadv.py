"""GoodsReceipt → RECADV (domain.md B.15; outbound from the hospital, optional).

BGM 632 + receipt_id; DTM 50 receipt date; RFF AAK the despatch advice (asn_number); NAD SU the
supplier, NAD DP the receiving location. Lines: LIN line number + item identifiers, QTY 48
received / 194 accepted / 195 not accepted (returned), QVR reject reason (4295), RFF ON / LI
the order line, lot allocations as PIA batch (NB) / serial (SN) with DTM 36 when one expiry.

Inbound RECADV is not mapped: a canonical ReceiptLine needs the hub's item and location ids,
which only the hub itself knows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydifact.segments import Segment

from edi.edifact.mapping.out import Out
from edi.edifact.profile import EdifactProfile


def build_recadv(doc: dict[str, Any], profile: EdifactProfile) -> tuple[str, list[Segment], str]:
    out = Out(profile)
    out.add("BGM", "632", doc["receipt_id"], "9")
    # The receipt time is sent as a date (102): EDIFACT 203 carries no zone; UTC day is used.
    received = datetime.fromisoformat(doc["receipt_datetime"]).astimezone(UTC).date().isoformat()
    out.dtm("50", received)
    out.rff("AAK", doc.get("asn_number"))
    out.party("SU", {"role": "SU", "identifiers": [{"scheme": "ACCOUNT_AT_PARTNER",
                                                     "value": doc["supplier_partner_id"]}]}, [])
    out.party("DP", {"role": "DP", "identifiers": [{"scheme": "ACCOUNT_AT_PARTNER",
                                                     "value": doc["receiving_location_id"]}]}, [])
    for number, line in enumerate(doc["lines"], start=1):
        allocations = line.get("lot_allocations", [])
        lots = [a["lot_number"] for a in allocations if a.get("lot_number")]
        serials = [a["serial_number"] for a in allocations if a.get("serial_number")]
        ids = line.get("item_ids") or [{"scheme": "BUYER_ITEM", "value": line["item_id"], "qualifier": "IN"}]
        out.line_item(line.get("line_number") or str(number), None, ids, lots, serials)
        out.qty("48", line["qty_received"], line.get("uom"))
        out.qty("194", line.get("qty_accepted"), line.get("uom"))
        out.qty("195", line.get("qty_rejected"), line.get("uom"))
        expiries = {a.get("expiration_date") for a in allocations if a.get("expiration_date")}
        if len(expiries) == 1:
            out.dtm("36", expiries.pop())
        if line.get("reject_reason"):
            out.add("QVR", "", "", [line["reject_reason"]])
        out.rff("ON", line.get("po_number"))
        out.rff("LI", line.get("po_line_number"))
    out.summary(len(doc["lines"]))
    return "RECADV", out.segments, doc["receipt_id"]
