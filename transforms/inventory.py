"""Inventory transforms."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hub.exchange import Exchange
from hub.registry import StepError, transform


@transform("inventory.cycle_count_to_adjustments", emits="inventory_adjustment")
def cycle_count_to_adjustments(rows: list[dict[str, Any]], ex: Exchange) -> list[dict[str, Any]]:
    """Rows of a cycle-count file (parsed by the csv step) → one InventoryAdjustment per row.

    Expected row keys: facility, location, item, counted_qty, uom; optional lot, expiry,
    item_scheme (default BUYER_ITEM: the hospital's own item number), counted_at.
    The adjustment id is stable for (message, line) so a re-run produces the same ids.
    """
    if not isinstance(rows, list):
        raise StepError("cycle counts: expected the rows of a parsed file (put a parse: csv step first)")
    # When the count happened: a header if the channel sets one, else when the file arrived.
    counted_at = ex.headers.get("counted_at") or (ex.received_at or datetime.now(UTC)).isoformat()
    source = ex.filename or ex.message_id
    out = []
    for row in rows:
        line = row.get("_line")
        scheme = row.get("item_scheme") or ex.headers.get("item_scheme") or "BUYER_ITEM"
        out.append({
            "document_type": "inventory_adjustment",
            "adjustment_id": f"{ex.message_id}-{line}",
            "type": "CYCLE_COUNT",
            "item_ids": [{"scheme": scheme, "value": row["item"], "partner_id": ex.sender}],
            "qty": row["counted_qty"],
            "uom": row["uom"],
            "facility_id": row["facility"],
            "location_id": row["location"],
            "lot_number": row.get("lot"),
            "expiration_date": row.get("expiry"),
            "reason_code": "CYCLE_COUNT",
            "reference": f"{source} line {line}",
            "occurred_at": row.get("counted_at") or counted_at,
            "meta": {"source": f"{ex.format}:{ex.sender}", "source_ref": f"{source} line {line}",
                     "raw_ref": ex.message_id},
        })
    return out
