"""DESADV → ShipNotice (domain.md B.10, 2.2).

Header: BGM 1004 asn_number, 1225 purpose; DTM 137 / 11 / 17; RFF ON (order for every line
without its own), BM bill of lading, CN tracking; NAD SU (seller, supplier id) / BY / DP ship-to
/ SF or SH ship-from; TDT carrier. Packing: each CPS is a pack (7164 id, 7166 parent), PAC
gives its level (pallet codes → TARE), MEA its gross weight, GIN+BJ its SSCC (further SSCCs
in the same CPS become sibling packs). Lines: LIN C212 / PIA identifiers, PIA NB / SN and
GIN BX / BN lots and serials, DTM 36 / 94 expiry and production date, QTY 12 shipped / 21
ordered, RFF ON / LI order and order line. CNT+2 is checked against the lines.
"""

from __future__ import annotations

from typing import Any

from pydifact.segments import Segment

from edi.common.outbound import WriteNotes
from edi.edifact.mapping.base import MessageView, comp, drop_empty, first_three, mapper
from edi.edifact.mapping.common import (
    ItemIds,
    attach_to_party,
    control_count,
    description,
    gin,
    lin,
    party,
    pia,
    purpose_code,
    qty,
    reference,
    rff,
    supplier_id,
)
from edi.edifact.mapping.out import Out
from edi.edifact.profile import EdifactProfile
from hub.canonical import ShipNotice
from hub.canonical.codes import po_purpose_from_edifact

# PAC 7065 package types that are pallets (UN/ECE Rec 21 and EANCOM codes).
PALLET_TYPES = frozenset({"200", "201", "202", "203", "PX", "PE", "09", "PLT"})
# MEA 6313 measured attributes that are a gross weight.
GROSS_WEIGHT = frozenset({"AAB", "G", "AAD"})


class _Line:
    __slots__ = ("index", "data", "ids", "expiry", "production", "lot_groups")

    def __init__(self, index: int, data: dict[str, Any]) -> None:
        self.index = index
        self.data = data
        self.ids = ItemIds()
        self.expiry: str | None = None
        self.production: str | None = None
        # Per-batch groups (PCI, then DTM 36 / 94, QTY, GIN BX / BN), when batches differ.
        self.lot_groups: list[dict[str, Any]] = []


@mapper("DESADV")
def map_desadv(view: MessageView) -> list[dict[str, Any]]:
    doc: dict[str, Any] = {"document_type": "ship_notice", "refs": [], "tracking_numbers": []}
    index_of: dict[str, int] = {}
    parties: dict[str, dict[str, Any]] = {}
    packs: dict[str, dict[str, Any]] = {}
    lines: list[_Line] = []
    header_po: str | None = None
    current_party: dict[str, Any] | None = None
    pack: dict[str, Any] | None = None
    line: _Line | None = None
    line_segments, pack_segments = _LINE_SEGMENTS, _PACK_SEGMENTS
    for index, seg in enumerate(view.segments):
        tag = seg.tag
        if tag == "LIN":
            line = _Line(index, {"pack_id": pack["pack_id"] if pack else None, "refs": []})
            number, _ = lin(view, index, line.ids)
            line.data["line_id"] = number or None
            lines.append(line)
            if pack is not None and number:
                pack["line_refs"].append(number)
            current_party = None
        elif tag == "GIN" and pack is not None and comp(seg, 0, 0) == "BJ":
            _pack_gin(view, index, pack, packs)
        elif line is not None and (handler := line_segments.get(tag)) is not None:
            handler(view, index, line)
        elif tag == "CPS":
            line, current_party = None, None
            pack = _pack(view, index, packs)
        elif pack is not None and tag in pack_segments:
            pack_segments[tag](view, index, pack, packs)
        elif tag == "NAD":
            current_party = party(view, index)
            parties.setdefault(current_party.get("role", ""), current_party)
            index_of.setdefault(_ROLE_FIELDS.get(current_party.get("role", ""), "ship_to"), index)
        elif current_party is not None and tag in ("RFF", "CTA", "COM"):
            attach_to_party(view, index, current_party)
        elif tag == "BGM":
            doc["asn_number"] = comp(seg, 1, 0) or None
            index_of["asn_number"] = index
            _purpose(view, index, doc)
        elif tag == "DTM":
            qualifier, value = view.date(index)
            field = _HEADER_DATES.get(qualifier)
            if field and value and field not in doc:
                doc[field] = value
                index_of[field] = index
        elif tag == "RFF":
            header_po = _header_ref(view, index, doc, header_po)
        elif tag == "TDT":
            _carrier(view, index, doc)
        elif tag == "CNT":
            control_count(view, index, len(lines), "LIN line items")
    if not lines:
        raise view.missing("line items", "LIN")
    doc["lines"] = [_finish_line(view, item, header_po) for item in lines]
    doc["packs"] = list(packs.values())
    _parties(view, doc, parties)
    if "asn_number" not in doc or doc["asn_number"] is None:
        raise view.missing("despatch advice number", "BGM 1004")
    if "ship_date" not in doc:
        if "created_at" not in doc:
            raise view.missing("despatch date", "DTM+11")
        view.warn(index_of.get("created_at"), "no despatch date (DTM+11): the document date (DTM+137) is the ship date",
                  code="ship_date_from_document_date")
        doc["ship_date"] = doc["created_at"]
    index_of.setdefault("lines", lines[0].index)
    return [view.validated(ShipNotice, drop_empty(doc), index_of)]


_HEADER_DATES = {"137": "created_at", "11": "ship_date", "17": "est_delivery_date"}
_ROLE_FIELDS = {"DP": "ship_to", "BY": "buyer", "SU": "seller", "SF": "ship_from", "SH": "ship_from"}


def _purpose(view: MessageView, index: int, doc: dict[str, Any]) -> None:
    raw = comp(view.segments[index], 2, 0)
    if raw:
        doc["purpose_raw"] = raw
        purpose = po_purpose_from_edifact.get(raw)
        if purpose is None:
            view.warn(index, f"BGM 1225 {raw!r} is not a known message function: purpose left out", 3,
                      code="unknown_code")
        else:
            doc["purpose"] = purpose.value


def _header_ref(view: MessageView, index: int, doc: dict[str, Any], header_po: str | None) -> str | None:
    qualifier, value = rff(view, index)
    if qualifier == "ON" and header_po is None:
        return value or None
    if qualifier == "BM" and value:
        doc.setdefault("bol", value)
    elif qualifier == "CN" and value:
        doc["tracking_numbers"].append(value)
    elif (ref := reference(qualifier, value)) is not None:
        doc["refs"].append(ref)
    return header_po


def _carrier(view: MessageView, index: int, doc: dict[str, Any]) -> None:
    seg = view.segments[index]
    name, carrier_id = comp(seg, 4, 3), comp(seg, 4, 0)
    if name:
        doc.setdefault("carrier_name", name)
    if carrier_id:
        # 3055 = 182 is the US National Motor Freight Traffic Association (SCAC codes).
        if comp(seg, 4, 2) == "182":
            doc.setdefault("carrier_scac", carrier_id)
        else:
            doc["refs"].append({"qualifier": "TDT", "value": carrier_id, "description": "carrier identification"})


def _parties(view: MessageView, doc: dict[str, Any], parties: dict[str, dict[str, Any]]) -> None:
    seller = parties.get("SU")
    doc["seller"] = seller
    doc["buyer"] = parties.get("BY")
    doc["ship_from"] = parties.get("SF") or parties.get("SH")
    ship_to = parties.get("DP") or parties.get("UC") or parties.get("ST")
    if ship_to is None and doc["buyer"] is not None:
        view.warn(None, "no delivery party (NAD+DP): the buyer (NAD+BY) is the ship-to", code="ship_to_from_buyer")
        ship_to = doc["buyer"]
    doc["ship_to"] = ship_to
    doc["supplier_partner_id"] = supplier_id(view, seller)


def _pack(view: MessageView, index: int, packs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    seg = view.segments[index]
    pack_id = comp(seg, 0, 0)
    pack = {"pack_id": pack_id, "parent_pack_id": comp(seg, 1, 0) or None, "level": "PACK", "line_refs": []}
    if pack_id in packs:
        view.warn(index, f"CPS {pack_id} repeats a packing level id: its data is merged", 1, code="repeated_pack")
        return packs[pack_id]
    packs[pack_id] = pack
    return pack


def _pack_pac(view: MessageView, index: int, pack: dict[str, Any], packs: dict[str, dict[str, Any]]) -> None:
    if comp(view.segments[index], 2, 0) in PALLET_TYPES:
        pack["level"] = "TARE"


def _pack_mea(view: MessageView, index: int, pack: dict[str, Any], packs: dict[str, dict[str, Any]]) -> None:
    seg = view.segments[index]
    if comp(seg, 1, 0) in GROSS_WEIGHT and comp(seg, 2, 1):
        pack.setdefault("weight", view.number(index, comp(seg, 2, 1), 3, 2))
        pack.setdefault("weight_uom", comp(seg, 2, 0) or None)


def _pack_gin(view: MessageView, index: int, pack: dict[str, Any], packs: dict[str, dict[str, Any]]) -> None:
    for sscc in gin(view, index, None):  # a pack keeps no batch or serial numbers
        if "sscc" not in pack:
            pack.update(sscc)
            continue
        sibling = f"{pack['pack_id']}/{sum(1 for p in packs if p.startswith(pack['pack_id'] + '/')) + 1}"
        packs[sibling] = {"pack_id": sibling, "parent_pack_id": pack.get("parent_pack_id"), **sscc,
                          "level": pack["level"], "line_refs": []}


def _pack_pci(view: MessageView, index: int, pack: dict[str, Any], packs: dict[str, dict[str, Any]]) -> None:
    """PCI of a pack (shipping marks): nothing the ship notice keeps."""


# Segments of a packing level before its first LIN, by tag.
_PACK_SEGMENTS = {"PAC": _pack_pac, "MEA": _pack_mea, "GIN": _pack_gin, "PCI": _pack_pci}


def _line_qty(view: MessageView, index: int, line: _Line) -> None:
    qualifier, amount, uom = qty(view, index)
    if line.lot_groups:
        line.lot_groups[-1].update(qty=amount, uom=uom)
    elif qualifier == "12":
        line.data["qty_shipped"], line.data["uom"] = amount, uom
    elif qualifier == "21":
        line.data["qty_ordered"], line.data["uom_ordered"] = amount, uom


def _line_date(view: MessageView, index: int, line: _Line) -> None:
    qualifier, value = view.date(index)
    if line.lot_groups and qualifier in _LOT_DATES:
        line.lot_groups[-1][_LOT_DATES[qualifier]] = value
    elif qualifier == "36":
        line.expiry = value
    elif qualifier == "94":
        line.production = value


def _line_ref(view: MessageView, index: int, line: _Line) -> None:
    qualifier, value, order_line = first_three(view.segments[index])
    if qualifier == "ON":
        line.data.setdefault("po_number", value or None)
        if order_line:  # EANCOM RFF+ON:<PO>:<line> (C506 1156)
            line.data.setdefault("po_line_number", order_line)
    elif qualifier == "LI":
        line.data.setdefault("po_line_number", value or None)
    elif (ref := reference(qualifier, value)) is not None:
        line.data["refs"].append(ref)


def _line_description(view: MessageView, index: int, line: _Line) -> None:
    text = description(view, index)
    if text:
        line.data.setdefault("description", text)


_LOT_DATES = {"36": "expiration_date", "94": "production_date"}


def _line_gin(view: MessageView, index: int, line: _Line) -> None:
    if not line.lot_groups:
        gin(view, index, line.ids)
        return
    found = ItemIds()
    gin(view, index, found)
    group = line.lot_groups[-1]
    if found.lots:
        group["lot_number"] = found.lots[0]
    if found.serials:
        group["serial_number"] = found.serials[0]


def _line_pia(view: MessageView, index: int, line: _Line) -> None:
    pia(view, index, line.ids)


def _line_pci(view: MessageView, index: int, line: _Line) -> None:
    line.lot_groups.append({})  # a batch of its own: DTM, QTY, GIN until the next PCI


_LINE_SEGMENTS = {
    "QTY": _line_qty,
    "DTM": _line_date,
    "RFF": _line_ref,
    "PIA": _line_pia,
    "GIN": _line_gin,
    "IMD": _line_description,
    "PCI": _line_pci,
}


def _finish_line(view: MessageView, line: _Line, header_po: str | None) -> dict[str, Any]:
    data = line.data
    if data.get("qty_shipped") is None:
        raise view.fail(line.index, "line has no despatched quantity (QTY+12)", code="missing_quantity", ack="13")
    if not data.get("po_number"):
        if header_po is None:
            raise view.fail(line.index, "line has no order reference (RFF+ON), nor has the message",
                            code="missing_order", ack="13")
        data["po_number"] = header_po
    data["item_ids"] = line.ids.ids
    data["refs"].extend(line.ids.refs)
    data["lots"] = _lots(view, line)
    return drop_empty(data)


def _lots(view: MessageView, line: _Line) -> list[dict[str, Any]]:
    if line.lot_groups:
        return [drop_empty(group) for group in line.lot_groups if drop_empty(group)]
    ids = line.ids
    # The dates that are set, once per line (lot and serial numbers are never empty: ``ItemIds``
    # skips empty values), instead of a ``drop_empty`` of every lot entry.
    dates = {key: value for key, value in (("expiration_date", line.expiry), ("production_date", line.production))
             if value is not None}
    if len(ids.lots) > 1 and line.expiry:
        view.warn(line.index, f"one expiry date for {len(ids.lots)} batches: given to each", code="shared_expiry")
    if ids.serials:
        single_lot = ids.lots[0] if len(ids.lots) == 1 else None
        return [{"lot_number": single_lot, "serial_number": serial, **dates} if single_lot is not None
                else {"serial_number": serial, **dates} for serial in ids.serials]
    lots = [{"lot_number": lot, **dates} for lot in ids.lots]
    if not lots and line.expiry:
        lots = [dates]
    return lots


# -- ShipNotice → DESADV -------------------------------------------------------------------------


def build_desadv(doc: dict[str, Any], profile: EdifactProfile, notes: WriteNotes | None = None
                ) -> tuple[str, list[Segment], str]:
    out = Out(profile, notes)
    purpose = purpose_code(doc) if doc.get("purpose") or doc.get("purpose_raw") in po_purpose_from_edifact.codes \
        else doc.get("purpose_raw")
    out.add("BGM", "351", doc["asn_number"], purpose)
    out.dtm("137", doc.get("created_at"))
    out.dtm("11", doc["ship_date"])
    out.dtm("17", doc.get("est_delivery_date"))
    out.rff("BM", doc.get("bol"))
    for number in doc.get("tracking_numbers", []):
        out.rff("CN", number)
    out.refs(doc.get("refs", []), skip=("TDT",))
    written: list[dict[str, Any]] = []
    out.party("SU", doc.get("seller") or {"role": "SU", "identifiers": [
        {"scheme": "ACCOUNT_AT_PARTNER", "value": doc["supplier_partner_id"]}]}, written)
    out.party("BY", doc.get("buyer"), written)
    out.party("DP", doc["ship_to"], written)
    out.party("SF", doc.get("ship_from"), written)
    _write_carrier(out, doc)
    packs = doc.get("packs", [])
    lines = doc["lines"]
    _write_loose_lines(out, [line for line in lines if not line.get("pack_id")], packs)
    # Indexes instead of a scan of every pack and line per pack (quadratic: 5,000 packs took
    # seconds): ids present, the packs under each id ("1/2" is under "1"), lines by pack.
    pack_ids = {p["pack_id"] for p in packs}
    below: dict[str, list[dict[str, Any]]] = {}
    for p in packs:
        pack_id = p["pack_id"]
        for cut in (i for i, c in enumerate(pack_id) if c == "/"):
            below.setdefault(pack_id[:cut], []).append(p)
    lines_of: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        lines_of.setdefault(line.get("pack_id"), []).append(line)
    for pack in packs:
        base = pack["pack_id"].rsplit("/", 1)[0]
        if "/" in pack["pack_id"] and base in pack_ids:
            continue  # a further SSCC of pack ``base``: written under it
        _write_pack(out, pack, below.get(pack["pack_id"], []))
        for line in lines_of.get(pack["pack_id"], []):
            _write_line(out, line)
    out.add("CNT", ["2", str(len(lines))])
    return "DESADV", out.segments, doc["asn_number"]


def _write_loose_lines(out: Out, loose: list[dict[str, Any]], packs: list[dict[str, Any]]) -> None:
    """Lines without a pack: every DESADV LIN sits in a CPS group (D96A, D01B), so they go
    under a bare packing level of their own (no PAC), which the reader reads as a pack."""
    if not loose:
        return
    taken = {p["pack_id"] for p in packs}
    level = next(str(n) for n in range(1, len(taken) + 2) if str(n) not in taken)
    out.add("CPS", level)
    out.warn("lines", f"{len(loose)} line(s) without a pack are sent under the packing level CPS {level} (a "
             f"DESADV line needs one); read back they belong to pack {level}")
    for line in loose:
        _write_line(out, line)


def _write_carrier(out: Out, doc: dict[str, Any]) -> None:
    carrier_id = doc.get("carrier_scac") or next(
        (r["value"] for r in doc.get("refs", []) if r["qualifier"] == "TDT"), None)
    if carrier_id or doc.get("carrier_name"):
        agency = "182" if doc.get("carrier_scac") else ""
        out.add("TDT", "20", "", "", "", [carrier_id or "", "", agency, doc.get("carrier_name") or ""])


def _write_pack(out: Out, pack: dict[str, Any], below: list[dict[str, Any]]) -> None:
    """A CPS group; ``below``: the packs whose id extends this one's ("1/2" of "1"), whose
    SSCCs go on this pack's GIN."""
    out.add("CPS", pack["pack_id"], pack.get("parent_pack_id"))
    out.add("PAC", "1", "", "201" if pack.get("level") == "TARE" else "CT")
    if pack.get("weight") is not None:
        out.add("MEA", "PD", "AAB", [pack.get("weight_uom") or "KGM", out.number(pack["weight"])])
    ssccs = [pack.get("sscc")] + [p.get("sscc") for p in below]
    ssccs = [s for s in ssccs if s]
    if ssccs:
        out.add("PCI", "33E")
        out.add("GIN", "BJ", *ssccs[:5])


def _write_line(out: Out, line: dict[str, Any]) -> None:
    """Lots sharing one expiry and no own quantities go on the line (PIA NB / SN + DTM 36);
    otherwise each lot is a PCI group with its own DTM 36 / 94, QTY and GIN BX / BN."""
    lots = line.get("lots", [])
    expiries = {lot.get("expiration_date") for lot in lots}
    productions = {lot.get("production_date") for lot in lots}
    grouped = len(expiries) > 1 or len(productions) > 1 or any(lot.get("qty") is not None for lot in lots)
    simple = [] if grouped else lots
    lot_numbers = list(dict.fromkeys(lot["lot_number"] for lot in simple if lot.get("lot_number")))
    serials = [lot["serial_number"] for lot in simple if lot.get("serial_number")]
    out.line_item(line.get("line_id"), None, line["item_ids"], lot_numbers, serials)
    out.description(line.get("description"))
    out.qty("12", line["qty_shipped"], line.get("uom"))
    out.qty("21", line.get("qty_ordered"), line.get("uom_ordered"))
    if simple:
        out.dtm("36", next(iter(expiries), None))
        out.dtm("94", next(iter(productions), None))
    out.rff("ON", line["po_number"])
    out.rff("LI", line.get("po_line_number"))
    out.refs(line.get("refs", []))
    for lot in lots if grouped else []:
        out.add("PCI", "36E")
        out.dtm("36", lot.get("expiration_date"))
        out.dtm("94", lot.get("production_date"))
        out.qty("12", lot.get("qty"), lot.get("uom"))
        if lot.get("lot_number"):
            out.add("GIN", "BX", lot["lot_number"])
        if lot.get("serial_number"):
            out.add("GIN", "BN", lot["serial_number"])
