"""X12 832 Price/Sales Catalog → ``PriceCatalogEntry`` documents (domain.md B.6): one entry
per price (CTP) of each LIN item, or one entry per item without a price when G53 deletes it.

HIBCC healthcare catalogs (4010HIBCC) put several CTP tiers under one LIN, each with its own
DTM*007 effective date; SLN sub-lines and PO4/PKL give the packaging levels.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from hub.canonical.catalog import PriceCatalogEntry
from hub.canonical.enums import CatalogAction, ConversionSource, PriceType

from edi.x12.mapping.base import SetView, mapper
from edi.x12.mapping.common import item_pairs, parties, reference, require_item_ids, validate
from edi.common.text import digits

# G53 maintenance type (element 875): 001 change, 002 delete, 003 add (verify per partner).
G53_ACTIONS = {"001": CatalogAction.CHANGE, "002": CatalogAction.DELETE, "003": CatalogAction.ADD,
               "021": CatalogAction.ADD, "023": CatalogAction.DELETE}
# CTP02 price identifier (element 236): contract vs catalog/list prices; tiers C01.. (HIBCC).
CONTRACT_PRICES = {"CON", "CT", "CTR", "PRP"}
CATALOG_PRICES = {"CAT", "LPR", "RES", "MSR", "RTL", "WHL", "DIS", "PBQ"}


@mapper("832")
def map_832(view: SetView) -> list[BaseModel]:
    bct_i, bct = view.require("BCT")
    first_line = next((i for i, _ in view.iter("LIN")), len(view.segments))
    header = _header(view, bct_i, bct, first_line)
    entries = []
    lins = [i for i, _ in view.iter("LIN")]
    for n, lin_i in enumerate(lins):
        end = lins[n + 1] if n + 1 < len(lins) else len(view.segments)
        entries += _entries(view, lin_i, end, header)
    if not entries:
        raise view.fail(bct_i, None, "the catalog has no LIN item", element_code="1")
    return entries


def _header(view: SetView, bct_i: int, bct: list[str], stop: int) -> dict[str, Any]:
    header: dict[str, Any] = {"catalog_id": view.need(bct_i, 2, "BCT02 catalog number", mandatory=False),
                              "version": view.opt(bct, 3), "currency": "USD", "refs": []}
    for i, seg in enumerate(view.segments[:stop]):
        if seg[0] == "DTM" and view.value(seg, 1) in ("007", "092") and "valid_from" not in header:
            header["valid_from"] = view.date(i, 2)
        elif seg[0] == "DTM" and view.value(seg, 1) in ("036", "093"):
            header["valid_to"] = view.date(i, 2)
        elif seg[0] == "CUR" and view.value(seg, 2):
            header["currency"] = view.value(seg, 2)
        elif seg[0] == "REF" and (ref := reference(view, seg)):
            if ref["qualifier"] == "CT":
                header["contract_ref"] = ref["value"]
            header["refs"].append(ref)
    found = parties(view, 0, stop)
    supplier = next((found[r] for r in ("SU", "VN", "SE", "MF", "DS") if r in found), None)
    ids = (supplier or {}).get("identifiers") or []
    header["supplier_partner_id"] = ids[0]["value"] if ids else view.ts.interchange.sender_id
    header["customer_scope"] = [found[r] for r in ("BY", "BG", "ST") if r in found]
    if "valid_from" not in header:
        group = view.ts.group
        view.warn(bct_i, None, "no catalog effective date (DTM*007/092); each price needs its own DTM*007")
        header["group_date"] = group.date if group is not None else None
    return header


def _entries(view: SetView, lin_i: int, end: int, header: dict[str, Any]) -> list[BaseModel]:
    item: dict[str, Any] = {}
    item_pairs(view, lin_i, 2, line=item)
    require_item_ids(view, lin_i, item, "item_ids")
    common: dict[str, Any] = {k: v for k, v in header.items() if k != "group_date"}
    common.update(item_ids=item["item_ids"], refs=header["refs"] + item.get("refs", []),
                  pack_conversions=[], action=CatalogAction.ADD.value)
    prices: list[tuple[int, list[int]]] = []  # CTP index, its DTM indexes
    for i in range(lin_i + 1, end):
        seg = view.segments[i]
        tag = seg[0]
        if tag == "PID" and view.value(seg, 5) and "description" not in common:
            common["description"] = view.value(seg, 5)
        elif tag == "G53":
            raw = view.value(seg, 1)
            common["action_raw"] = raw
            action = G53_ACTIONS.get(raw)
            if action is None:
                view.warn(i, 1, f"maintenance type {raw!r} is not a known G53 code; taken as ADD")
            common["action"] = (action or CatalogAction.ADD).value
        elif tag in ("PO4", "SLN"):
            conversion = _conversion(view, i)
            if conversion:
                common["pack_conversions"].append(conversion)
        elif tag == "CTP":
            prices.append((i, []))
        elif tag == "DTM" and prices:
            prices[-1][1].append(i)
        elif tag == "DTM" and view.value(seg, 1) in ("007", "092"):
            common["valid_from"] = view.date(i, 2)
        elif tag == "REF" and view.value(seg, 1) == "CT":
            common["contract_ref"] = view.value(seg, 2)
    if not prices:
        return [_entry(view, lin_i, common, header)]
    return [_entry(view, lin_i, {**common, **_price(view, ctp_i, dtms)}, header) for ctp_i, dtms in prices]


def _price(view: SetView, index: int, dtms: list[int]) -> dict[str, Any]:
    seg = view.segments[index]
    identifier = view.value(seg, 2)
    price: dict[str, Any] = {"class_of_trade": view.opt(seg, 1), "price_type_raw": identifier or None,
                             "price": view.decimal(index, 3), "price_qty_basis": view.decimal(index, 4),
                             "price_uom": view.components(seg, 5)[0] or None,
                             "price_multiplier": view.decimal(index, 6)}
    if identifier in CONTRACT_PRICES:
        price["price_type"] = PriceType.CONTRACT.value
    elif identifier in CATALOG_PRICES or not identifier:
        price["price_type"] = PriceType.CATALOG.value
    else:  # HIBCC tiers (C01, C02 ...) and other partner identifiers
        price["price_type"], price["tier"] = PriceType.TIER.value, identifier
    for i in dtms:
        qualifier = view.value(view.segments[i], 1)
        if qualifier in ("007", "092"):
            price["valid_from"] = view.date(i, 2)
        elif qualifier in ("036", "093"):
            price["valid_to"] = view.date(i, 2)
    return price


def _conversion(view: SetView, index: int) -> dict[str, Any] | None:
    seg = view.segments[index]
    if seg[0] == "PO4":  # PO401 inner units per outer unit, PO402 size, PO403 unit of the size
        pack, size, unit = view.decimal(index, 1), view.decimal(index, 2), view.components(seg, 3)[0]
        if not unit or not (pack or size):
            return None
        factor = (pack or 1) * (size or 1)
        return {"uom": unit, "factor_to_base": factor, "source": ConversionSource.CATALOG_832.value}
    qty, unit = view.decimal(index, 4), view.components(seg, 5)[0]  # SLN04 quantity, SLN05 unit
    if not unit or not qty:
        return None
    conversion = {"uom": unit, "factor_to_base": qty, "source": ConversionSource.CATALOG_832.value}
    sub: dict[str, Any] = {}
    item_pairs(view, index, 9, line=sub, refs_field=None)
    gtin = next((i["value"] for i in sub.get("item_ids", []) if i["scheme"] == "GTIN" and "invalid_reason" not in i),
                None)
    if gtin:
        conversion["gtin"] = gtin
    return conversion


def _entry(view: SetView, lin_i: int, data: dict[str, Any], header: dict[str, Any]) -> BaseModel:
    if "valid_from" not in data:
        group_date = header.get("group_date") or ""
        ymd = group_date if len(group_date) == 8 else "20" + group_date
        if not digits(ymd) or len(ymd) != 8:
            raise view.fail(lin_i, None, "no effective date for this price (DTM*007)", element_code="1")
        data["valid_from"] = f"{ymd[:4]}-{ymd[4:6]}-{ymd[6:]}"
        view.warn(lin_i, None, f"no DTM*007 effective date: the group date {group_date} is used")
    return validate(view, PriceCatalogEntry, data, {"": lin_i})
