"""PRICAT → one PriceCatalogEntry per item line (domain.md B.12).

BGM 1004 catalog id; DTM 137 document date, 157 / 194 validity start, 36 / 206 validity end
(header dates are the default for every line); NAD SU supplier, BY customer scope; CUX
currency; RFF CT contract. Lines: LIN 1229 action (1 add, 2 delete, 3 change, 4 no change,
38 replaced; no code = add), LIN C212 / PIA identifiers, IMD description, PRI price with 5375
price type (CT contract, CA catalogue; none = catalogue) or 5387 kept raw, QTY 53 minimum
order, 59 consumer units per traded unit (a pack conversion).
"""

from __future__ import annotations

from typing import Any

from edi.edifact.mapping.base import MessageView, drop_empty, mapper
from edi.edifact.mapping.common import best_price, reference, supplier_id
from edi.edifact.mapping.parts import LinePart, MessageParts, Part
from hub.canonical import PriceCatalogEntry
from hub.canonical.codes import catalog_action_from_edifact, price_type_from_edifact
from hub.canonical.enums import CatalogAction, PriceType

VALID_FROM = ("157", "194", "137")
VALID_TO = ("36", "206", "195")


@mapper("PRICAT")
def map_pricat(view: MessageView) -> list[dict[str, Any]]:
    parts = MessageParts(view)
    header = parts.header
    catalog_id = parts.bgm_value(1)
    if not catalog_id:
        raise view.missing("catalogue number", "BGM 1004")
    if not parts.lines:
        raise view.missing("catalogue lines", "LIN")
    supplier = header.parties.get("SU")
    common = {
        "document_type": "price_catalog_entry",
        "catalog_id": catalog_id,
        "supplier_partner_id": supplier_id(view, supplier),
        "currency": parts.document_currency(),
        "contract_ref": header.ref("CT"),
        "customer_scope": [p for role, p in header.parties.items() if role not in ("SU", "SE")],
    }
    return [_entry(view, line, header, common) for line in parts.lines]


def _entry(view: MessageView, line: LinePart, header: Part, common: dict[str, Any]) -> dict[str, Any]:
    action_raw = line.action
    action = view.code(catalog_action_from_edifact, line.first, action_raw, 2) if action_raw else CatalogAction.ADD
    price = best_price(line.prices)
    price_type, price_type_raw = PriceType.CATALOG, None
    if price is not None:
        price_type_raw = price.price_type or price.basis
        if price.price_type:
            price_type = price_type_from_edifact.get(price.price_type) or PriceType.CATALOG
    valid_from = line.date(*VALID_FROM) or header.date(*VALID_FROM)
    if valid_from is None:
        raise view.fail(line.first, "no validity date for the price (DTM 157 / 194 / 137)", code="missing_date",
                        ack="13")
    min_order = line.qtys.get("53", (None, None, 0))[0]
    doc = {
        **common,
        "item_ids": line.ids.ids,
        "description": line.description,
        "action": action.value,
        "action_raw": action_raw or None,
        "price": price.amount if price else None,
        "price_uom": price.uom if price else None,
        "price_type": price_type.value,
        "price_type_raw": price_type_raw,
        "price_qty_basis": price.basis_qty if price else None,
        "contract_ref": line.ref("CT") or common["contract_ref"],
        "min_order_qty": min_order,
        "pack_conversions": _packs(line),
        "valid_from": valid_from,
        "valid_to": line.date(*VALID_TO) or header.date(*VALID_TO),
        "refs": [r for q, v, _ in line.refs if q != "CT" and (r := reference(q, v))] + line.ids.refs,
    }
    return view.validated(PriceCatalogEntry, drop_empty(doc), {"item_ids": line.first, "price": line.first})


def _packs(line: LinePart) -> list[dict[str, Any]]:
    """QTY+59: consumer units (CU) in the traded unit (TU) the line's GTIN denotes."""
    units = line.qtys.get("59")
    if units is None or units[0] is None:
        return []
    gtin = next((i["value"] for i in line.ids.ids if i["scheme"] == "GTIN" and "invalid_reason" not in i), None)
    return [drop_empty({"uom": "TU", "gtin": gtin, "contains_uom": units[1] or "CU", "contains_qty": units[0],
                        "source": "PRICAT"})]
