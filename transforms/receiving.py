"""Receiving: what the clerk's handheld scanned at the dock → one canonical GoodsReceipt.

Why a transform of its own: the scanner knows barcodes, not documents. Each scan is a GS1
barcode (GTIN with lot, expiry, serial — the UDI on the box) plus the quantity the clerk keyed
and where it was put away; the receipt the ERP books and the hub matches (``receipt_match``
against the ship notice, ``po_match``'s three-way leg) needs lines per PO and item, with the
lots they hold. Nothing here looks anything up: the scans name their PO and ASN (the clerk
scans the packing list first), so the receipt is a pure function of the file.

Barcodes are read in both forms a handheld exports: human-readable ``(01)10614141004413(17)
281130(10)LOT-A1`` and raw element strings with FNC1 as the ASCII group separator (``\\x1d``).
A day 00 in an expiry (AI 17) is the month's last day (GS1 rule, ``hub.canonical.identifiers``).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from hub.canonical.identifiers import IdentifierError, gs1_date, normalize_gtin
from hub.exchange import Exchange
from hub.registry import StepError, transform

GROUP_SEPARATOR = "\x1d"
# Application identifiers a receiving scan carries: fixed length, or None for variable (≤ max).
AI_LENGTHS: dict[str, int | None] = {"00": 18, "01": 14, "02": 14, "10": None, "11": 6, "17": 6, "21": None,
                                     "30": None, "37": None}
VARIABLE_MAX = {"10": 20, "21": 20, "30": 8, "37": 8}


@dataclass(frozen=True)
class Scan:
    """One barcode, read: the item and what the label says of this unit."""

    gtin: str
    lot: str | None = None
    serial: str | None = None
    expiry: str | None = None  # ISO date
    sscc: str | None = None


def parse_gs1(barcode: str) -> dict[str, str]:
    """A GS1 element string → {AI: value}. Raises ValueError naming the position at fault."""
    text = barcode.strip()
    if text.startswith(("]C1", "]d2", "]Q3")):
        text = text[3:]  # symbology identifier some scanners prepend
    if text.startswith("("):
        return _parse_bracketed(text)
    return _parse_raw(text)


def _parse_bracketed(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    position = 0
    while position < len(text):
        if text[position] != "(":
            raise ValueError(f"character {position + 1}: expected '(' opening an application identifier")
        close = text.find(")", position)
        if close < 0:
            raise ValueError(f"character {position + 1}: '(' without ')'")
        ai = text[position + 1:close]
        following = text.find("(", close)
        value = text[close + 1:following if following >= 0 else len(text)]
        _check(ai, value, position)
        out[ai] = value
        position = following if following >= 0 else len(text)
    return out


def _parse_raw(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    position = 0
    while position < len(text):
        if text[position] == GROUP_SEPARATOR:
            position += 1
            continue
        ai = text[position:position + 2]
        if ai not in AI_LENGTHS:
            raise ValueError(f"character {position + 1}: application identifier {ai!r} is not one a receiving "
                             f"scan carries ({', '.join(AI_LENGTHS)})")
        start = position + 2
        length = AI_LENGTHS[ai]
        if length is None:
            end = text.find(GROUP_SEPARATOR, start)
            end = len(text) if end < 0 else end
        else:
            end = start + length
        value = text[start:end]
        _check(ai, value, position)
        out[ai] = value
        position = end
    return out


def _check(ai: str, value: str, position: int) -> None:
    if ai not in AI_LENGTHS:
        raise ValueError(f"character {position + 1}: application identifier ({ai}) is not one a receiving scan "
                         f"carries ({', '.join(AI_LENGTHS)})")
    fixed = AI_LENGTHS[ai]
    if fixed is not None and (len(value) != fixed or not value.isdigit()):
        raise ValueError(f"character {position + 1}: ({ai}) needs {fixed} digits, got {value!r}")
    if fixed is None and not 0 < len(value) <= VARIABLE_MAX[ai]:
        raise ValueError(f"character {position + 1}: ({ai}) holds 1 to {VARIABLE_MAX[ai]} characters, got {len(value)}")


def read_scan(barcode: str) -> Scan:
    """A barcode → ``Scan``; ValueError when it carries no GTIN or a field fails its check."""
    fields = parse_gs1(barcode)
    gtin = fields.get("01") or fields.get("02")
    if gtin is None:
        raise ValueError("no GTIN (01) in the barcode: scan the item's label, not the carton's")
    try:
        gtin = normalize_gtin(gtin)
        expiry = gs1_date(fields["17"]).isoformat() if "17" in fields else None
    except IdentifierError as exc:
        raise ValueError(str(exc)) from None
    return Scan(gtin, fields.get("10"), fields.get("21"), expiry, fields.get("00"))


def read_scans(rows: list[dict[str, Any]], column: str, what: str) -> list[tuple[dict[str, Any], Scan]]:
    """(row, scan) for each row's ``barcode``; every barcode that cannot be read is named by its
    line and the file fails (``bad_scan``): the person at the scanner scans again."""
    read, problems = [], []
    for row in rows:
        try:
            read.append((row, read_scan(str(row["barcode"]))))
        except ValueError as exc:
            problems.append(f"line {row.get('_line')}, column '{column}': {exc}")
    if problems:
        raise StepError(f"{what}: " + "; ".join(problems), code="bad_scan")
    return read


@transform("receiving.scans_to_goods_receipt", emits="goods_receipt")
def scans_to_goods_receipt(rows: list[dict[str, Any]], ex: Exchange) -> dict[str, Any]:
    """Rows of a dock-scan file (parsed by the csv step) → one GoodsReceipt.

    Row keys: scanned_at, location, po_number, asn_number (optional), supplier, barcode, qty,
    uom. Scans of the same PO, item and unit become one receipt line; each lot or serial
    scanned for it becomes a lot allocation with its quantity. The receipt id is stable for
    the message, so a re-run books the same receipt."""
    if not isinstance(rows, list) or not rows:
        raise StepError("dock scans: expected the rows of a parsed scan file (put a parse: csv step first)")
    lines: OrderedDict[tuple[str, str, str], dict[str, Any]] = OrderedDict()
    for row, scan in read_scans(rows, "Barcode", "dock scans"):
        key = (str(row["po_number"]), scan.gtin, str(row["uom"]))
        line = lines.get(key)
        if line is None:
            line = lines[key] = {"line_number": str(len(lines) + 1), "po_number": str(row["po_number"]),
                                 "item_ids": [{"scheme": "GTIN", "value": scan.gtin}], "qty_received": Decimal(0),
                                 "uom": str(row["uom"]), "location_id": str(row["location"]), "lot_allocations": []}
        line["qty_received"] += row["qty"]
        if scan.lot or scan.serial:
            _allocate(line["lot_allocations"], scan, row["qty"])
    first = rows[0]
    scanned_at = max(aware(r["scanned_at"]) for r in rows)
    asn = next((str(r["asn_number"]) for r in rows if r.get("asn_number")), None)
    return {
        "document_type": "goods_receipt",
        "receipt_id": f"GR-{asn or first['po_number']}-{ex.message_id[:8]}",
        "receipt_datetime": scanned_at.isoformat(),
        "receiving_location_id": str(first["location"]),
        "supplier_partner_id": str(first["supplier"]),
        "asn_number": asn,
        "source": "DOCK_SCAN",
        "lines": [{**line, "qty_received": str(line["qty_received"])} for line in lines.values()],
        "meta": {"source": f"{ex.format}:{ex.sender}", "source_ref": ex.filename or ex.message_id,
                 "raw_ref": ex.message_id},
    }


def _allocate(allocations: list[dict[str, Any]], scan: Scan, qty: Decimal) -> None:
    """Add the scan's quantity to its lot (or serial); ``qty_base`` is in the line's unit until
    ``uom_convert`` runs — a scanner counts the units it scanned."""
    for allocation in allocations:
        if allocation.get("lot_number") == scan.lot and allocation.get("serial_number") == scan.serial:
            allocation["qty_base"] = str(Decimal(allocation["qty_base"]) + qty)
            return
    allocations.append({k: v for k, v in (("lot_number", scan.lot), ("serial_number", scan.serial),
                                          ("expiration_date", scan.expiry), ("qty_base", str(qty))) if v is not None})


def aware(value: datetime) -> datetime:
    """A device's time without a zone is taken as UTC: canonical times carry an offset."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)
