"""Contract to item master: a supplier's contract prices become item master and contract price
updates, and later documents are priced and checked against them.

Why one module: the contract is the reference every other flow prices from — a PO goes out at
the contract price, an implant used on a case is valued at it, an invoice is held when it is
not. So the sourcing platform's file is turned into documents here (``contracts.
catalog_rows_to_documents``: per row an ``item`` for the item master and a CONTRACT
``price_catalog_entry``), checked before anyone relies on them (``catalog_check``), and read back
by ``contract_price`` wherever a price is needed or billed. The entries are found in the hub's
store: the catalog route keeps them (``store_document``), newest per entry.

Exceptions: a supplier the registry does not know (``unknown_partner``, C #4), a unit that is no
canonical unit nor in the supplier's crosswalk (``unknown_uom``, C #14), an entry already expired
or changing a price with effect before it arrived, a price moving more than ``max_change_pct`` from the stored one
(``price_catalog_anomaly``, C #41, WARN: kept, queued for review); a PO, acknowledgement or
invoice price other than the active contract price (``contract_price_mismatch``, beside C #33).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from hub.canonical import Document
from hub.canonical.steps import CanonicalStep, CanonicalStepConfig, Problem
from hub.canonical.walk import document_date, join
from hub.canonical.xref import Crosswalk
from hub.db import Database
from hub.documents import stored_all
from hub.exchange import Exchange
from hub.partners import PartnerRegistry
from hub.registry import StepError, step, transform

YES = {"y", "yes", "true", "1", "x"}


@transform("contracts.catalog_rows_to_documents")
def catalog_rows_to_documents(rows: list[dict[str, Any]], ex: Exchange) -> list[dict[str, Any]]:
    """Rows of the sourcing platform's contract file (parsed by the csv step) → per row an ``item``
    (the item master's record) and a CONTRACT ``price_catalog_entry``.

    Row keys: supplier, contract, vendor_part, description, item_type, price_uom, price, currency,
    valid_from; optional tier, gtin, valid_to, base_uom (default EA), units_per (base units in one
    price unit), lot, serial, expiry (yes/no), cdm, hcpcs, action (ADD, CHANGE, DELETE)."""
    if not isinstance(rows, list) or not rows:
        raise StepError("contract prices: expected the rows of a parsed file (put a parse: csv step first)")
    out = []
    for row in rows:
        identifiers = [{"scheme": "VENDOR_PART", "value": row["vendor_part"], "partner_id": row["supplier"]}]
        if row.get("gtin"):
            identifiers.append({"scheme": "GTIN", "value": row["gtin"]})
        base_uom = row.get("base_uom") or "EA"
        source = {"source": f"{ex.format}:{ex.sender}", "source_ref": f"{ex.filename or ex.message_id} line {row.get('_line')}",
                  "raw_ref": ex.message_id}
        out.append(_item(row, identifiers, base_uom, source))
        entry = {
            "document_type": "price_catalog_entry",
            "catalog_id": f"{row['contract']}:{row['vendor_part']}",
            "version": str(row["valid_from"]),
            "supplier_partner_id": row["supplier"],
            "item_ids": identifiers,
            "item_id": _item_id(row),
            "description": row.get("description"),
            "action": (row.get("action") or "ADD").upper(),
            "price": row["price"],
            "price_uom": row["price_uom"],
            "price_type": "CONTRACT",
            "contract_ref": row["contract"],
            "tier": row.get("tier"),
            "valid_from": row["valid_from"],
            "valid_to": row.get("valid_to"),
            "currency": row["currency"],
            "meta": source,
        }
        if row.get("units_per") is not None:
            entry["pack_conversions"] = [{"uom": row["price_uom"], "factor_to_base": row["units_per"],
                                          "source": "MANUAL"}]
        out.append({k: v for k, v in entry.items() if v is not None})
    return out


def _item_id(row: dict[str, Any]) -> str:
    """The hub's item key for a contract line: the supplier's part, scoped by the supplier."""
    return f"{row['supplier']}:{row['vendor_part']}"


def _item(row: dict[str, Any], identifiers: list[dict[str, Any]], base_uom: str, source: dict) -> dict[str, Any]:
    chargeable = bool(row.get("cdm"))
    item = {
        "document_type": "item",
        "item_id": _item_id(row),
        "description": row["description"],
        "item_type": row["item_type"],
        "identifiers": identifiers,
        "base_uom": base_uom,
        "lot_controlled": str(row.get("lot") or "").lower() in YES,
        "serial_controlled": str(row.get("serial") or "").lower() in YES,
        "expiry_controlled": str(row.get("expiry") or "").lower() in YES,
        "udi_di": row.get("gtin"),
        "hcpcs": row.get("hcpcs"),
        "chargeable": chargeable,
        "cdm_code": row.get("cdm"),
        "status": "DISCONTINUED" if str(row.get("action") or "").upper() == "DELETE" else "ACTIVE",
        "meta": source,
    }
    return {k: v for k, v in item.items() if v is not None}


# -- checks ----------------------------------------------------------------------------------------

class CatalogCheckConfig(CanonicalStepConfig):
    # A contract price moving more than this from the stored one is queued for review (C #41).
    max_change_pct: Decimal = Decimal(10)


@step
class CatalogCheckStep(CanonicalStep):
    """A contract price entry before it is relied on: the supplier in the registry, the price unit
    a canonical unit or in the supplier's crosswalk, the dates (not expired; a changed price not
    back-dated), the price against the stored one. Items and other documents pass."""

    kind = "catalog_check"
    Config = CatalogCheckConfig
    summary = "Check a price catalogue / contract entry: supplier, unit, effective dates, price change"

    def apply(self, document: Document, crosswalk: Crosswalk, partner: str | None, db: Database) -> list[Problem]:
        if document.document_type == "item":
            return self._item(document, crosswalk, db)
        if document.document_type != "price_catalog_entry":
            return []
        entry: Any = document
        problems = []
        if PartnerRegistry(db).by_id(entry.supplier_partner_id) is None:
            problems.append(Problem("unknown_partner", "supplier_partner_id", entry.supplier_partner_id,
                                    f"supplier_partner_id {entry.supplier_partner_id} is not in the partner registry"))
        if entry.price_uom and crosswalk.canonical_uom(entry.supplier_partner_id, entry.price_uom) is None:
            problems.append(Problem("unknown_uom", "price_uom", entry.price_uom, f"price_uom {entry.price_uom!r} is no "
                                    f"canonical unit and not in {entry.supplier_partner_id}'s UoM crosswalk"))
        today = self.today()
        before = contract_entry(db, entry.supplier_partner_id, _pairs(entry.item_ids), entry.price_uom, entry.valid_from,
                                excluding=entry.catalog_id)
        changed = before is not None and entry.price is not None and Decimal(before["price"]) != entry.price
        if entry.valid_to is not None and entry.valid_to < today:
            problems.append(Problem("price_catalog_anomaly", "valid_to", entry.valid_to.isoformat(),
                                    f"valid_to {entry.valid_to} is past: the price never applies"))
        elif changed and entry.valid_from < today:
            # A contract line that starts in the past is normal; a price CHANGE back-dated is not.
            problems.append(Problem("price_catalog_anomaly", "valid_from", entry.valid_from.isoformat(),
                                    f"valid_from {entry.valid_from}: a new price effective before it arrived ({today}); "
                                    "documents priced since then were priced otherwise"))
        if changed and before["price"]:
            old = Decimal(before["price"])
            change = (entry.price - old) / old * 100
            if abs(change) > self.config.max_change_pct:
                problems.append(Problem("price_catalog_anomaly", "price", str(entry.price),
                                        f"price {entry.price} is {change:+.1f} % from contract {before['contract_ref']}'s "
                                        f"{old} ({before['catalog_id']}), more than {self.config.max_change_pct} %",
                                        {"previous": str(old), "previous_entry": before["catalog_id"]}))
        return problems

    @staticmethod
    def _item(item: Any, crosswalk: Crosswalk, db: Database) -> list[Problem]:
        """An item master record: the suppliers its part numbers belong to, its base unit."""
        problems, registry = [], PartnerRegistry(db)
        for index, identifier in enumerate(item.identifiers):
            if identifier.partner_id and registry.by_id(identifier.partner_id) is None:
                problems.append(Problem("unknown_partner", f"identifiers.{index}.partner_id", identifier.partner_id,
                                        f"identifiers.{index}: {identifier.value} is a part number of "
                                        f"{identifier.partner_id}, which is not in the partner registry"))
        if crosswalk.canonical_uom(None, item.base_uom) is None:
            problems.append(Problem("unknown_uom", "base_uom", item.base_uom, f"base_uom {item.base_uom!r} is no canonical unit"))
        return problems

    def today(self) -> date:
        clock = self.env.services.get("clock")
        from hub.store import utcnow

        return (clock() if clock else utcnow()).date()


def _pairs(ids: list[Any]) -> set[tuple[str, str]]:
    return {(i.scheme.value, i.value) if hasattr(i, "scheme") else (i["scheme"], i["value"]) for i in ids}


def contract_entry(db: Database, supplier: str | None, ids: set[tuple[str, str]], uom: str | None, on: date | None,
                   excluding: str | None = None) -> dict[str, Any] | None:
    """The active CONTRACT entry (stored) for one of the item identifiers ``ids``: the supplier's
    (any supplier's when None), priced in ``uom`` (any when None), valid on ``on``; the newest
    valid_from wins."""
    found = []
    for entry in stored_all(db, "price_catalog_entry"):
        if entry.get("price_type") != "CONTRACT" or entry.get("catalog_id") == excluding or entry.get("action") == "DELETE":
            continue
        if supplier is not None and entry.get("supplier_partner_id") != supplier:
            continue
        if not ids & {(i["scheme"], i["value"]) for i in entry.get("item_ids", [])}:
            continue
        if uom is not None and entry.get("price_uom") not in (None, uom):
            continue
        if on is not None and (date.fromisoformat(entry["valid_from"]) > on or
                               (entry.get("valid_to") and date.fromisoformat(entry["valid_to"]) < on)):
            continue
        found.append(entry)
    return max(found, key=lambda e: e["valid_from"]) if found else None


class ContractPriceConfig(CanonicalStepConfig):
    tolerance_abs: Decimal = Decimal("0.01")


@step
class ContractPriceStep(CanonicalStep):
    """Price from the active contract: a purchase order's lines get ``contract_price`` (and their
    ``unit_price`` when the ERP sent none); a PO, acknowledgement or invoice line priced otherwise
    (beyond ``tolerance_abs``) is ``contract_price_mismatch``; an inventory adjustment without a
    cost is valued at the contract price (``unit_cost``, ``extended_value``). Lines without a
    contract for their item, supplier and unit pass."""

    kind = "contract_price"
    Config = ContractPriceConfig
    summary = "Price lines from the active contract and flag prices other than it (contract_price_mismatch)"

    def apply(self, document: Document, crosswalk: Crosswalk, partner: str | None, db: Database) -> list[Problem]:
        on = document_date(document)
        if document.document_type == "inventory_adjustment":
            self._value(document, db, on)
            return []
        if document.document_type not in ("purchase_order", "purchase_order_ack", "invoice"):
            return []
        supplier = getattr(document, "supplier_partner_id", None) or partner
        problems = []
        for index, line in enumerate(document.lines):  # type: ignore[attr-defined]
            ids = _pairs(getattr(line, "item_ids_sent", None) or getattr(line, "item_ids", None) or [])
            entry = contract_entry(db, supplier, ids, getattr(line, "price_uom", None) or line.uom, on)
            if entry is None:
                continue
            price = Decimal(entry["price"])
            if document.document_type == "purchase_order":
                line.contract_price = price
                if line.unit_price is None:
                    line.unit_price = price
            if line.unit_price is not None and abs(line.unit_price - price) > self.config.tolerance_abs:
                path = join(join("lines", index), "unit_price")
                problems.append(Problem("contract_price_mismatch", path, str(line.unit_price),
                                        f"{path} {line.unit_price} is not contract {entry['contract_ref']}'s price {price} "
                                        f"per {entry.get('price_uom') or 'unit'} ({entry['catalog_id']})",
                                        {"contract_price": str(price), "contract": entry["contract_ref"]}))
        return problems

    @staticmethod
    def _value(adjustment: Any, db: Database, on: date | None) -> None:
        if adjustment.unit_cost is not None:
            return
        entry = contract_entry(db, None, _pairs(adjustment.item_ids), adjustment.uom, on)
        if entry is not None:
            adjustment.unit_cost = Decimal(entry["price"])
            adjustment.extended_value = adjustment.qty * adjustment.unit_cost
            adjustment.currency = entry.get("currency")
