"""Matching a supplier's documents against the purchase order the hub sent (domain.md section C
#20–#24, #33–#36): ``store_document`` keeps the PO when it goes out, ``po_match`` checks what
comes back.

YAML::

    # the outbound PO route, before render:
    - store_document
    # the supplier's route, after the transform:
    - po_match: {price_tolerance_pct: 2, price_tolerance_abs: 0.05}

A supplier line is the PO line with its ``po_line_number`` (X12 PO101 / EDIFACT RFF+LI echo),
else the PO line sharing one of its item identifiers. Prices are compared only where both sides
price the same unit (the same ``price_uom``, else the same ``uom``); ``max(pct % of the PO
price, abs)`` is the tolerance. A ship notice's quantities are added to those of the earlier ship
notices of the same PO line that a route stored (``store_document`` in the supplier's route) and
compared with the ordered quantity (C #23), in the PO line's unit, or in base units when both
sides were converted (``uom_convert``); lines in another unit are not counted.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from hub.canonical import Document
from hub.canonical.enums import PartyIdScheme
from hub.canonical.steps import PRICE_BASIS_UNITS, CanonicalStep, CanonicalStepConfig, Problem
from hub.canonical.walk import identifiers_field, join
from hub.canonical.xref import Crosswalk
from hub.db import Database
from hub.canonical.shipping import ShipNotice
from hub.documents import latest_document, store_document, stored_naming
from hub.exchange import Exchange
from hub.partners import PartnerRegistry
from hub.registry import Step, StepError, StrictModel, step

# Per supplier document: (unknown PO, line not on the PO, price outside tolerance) kinds.
KINDS_BY_DOCUMENT = {
    "purchase_order_ack": ("ack_unknown_po", "ack_unknown_po", "ack_differs"),
    "ship_notice": ("asn_unknown_po", "asn_item_not_on_po", None),
    "invoice": ("invoice_unknown_po", "invoice_line_not_on_po", "invoice_price_out_of_tolerance"),
}


class StoreDocumentConfig(StrictModel):
    pass


@step
class StoreDocumentStep(Step):
    """Keep the canonical document in the hub's store (``stored_documents``) under its type and
    key, for ``po_match`` and later checks; the document goes on unchanged."""

    kind = "store_document"
    Config = StoreDocumentConfig
    summary = "Keep the canonical document (e.g. the PO sent) for matching the supplier's answers"

    def process(self, ex: Exchange) -> list[Exchange]:
        body = ex.body
        data = body.canonical_dict() if isinstance(body, Document) else body
        if not isinstance(data, dict) or not data.get("document_type"):
            raise StepError(f"store_document needs a canonical document, got {type(body).__name__}", location="body")
        try:
            with self.env.service("db").session() as session:
                store_document(session, data, message_id=ex.message_id, route=self.env.route_name)
        except ValueError as exc:
            raise StepError(str(exc), location="body") from None
        return [ex]


class PoMatchConfig(CanonicalStepConfig):
    price_tolerance_pct: Decimal = Decimal(0)
    price_tolerance_abs: Decimal = Decimal("0.01")
    # How much more than ordered may ship in total (C #23), percent of the ordered quantity.
    over_ship_pct: Decimal = Decimal(0)


@step
class PoMatchStep(CanonicalStep):
    """Acknowledgements, ship notices and invoices against the stored purchase order: an unknown
    PO, or one sent to another supplier (C #21, #22, #35), a line that is not on it (C #21, #24, #36) and a price outside the
    tolerance (C #20, #33) become business exceptions (severity H: held). Other documents pass."""

    kind = "po_match"
    Config = PoMatchConfig
    summary = "Match a supplier's 855/856/810 (ORDRSP/DESADV/INVOIC) against the stored PO"

    def apply(self, document: Document, crosswalk: Crosswalk, partner: str | None, db: Database) -> list[Problem]:
        kinds = KINDS_BY_DOCUMENT.get(document.document_type)
        if kinds is None:
            return []
        problems: list[Problem] = []
        orders: dict[str, dict[str, Any] | None] = {}
        shipping: dict[tuple[str, str], list] = {}  # (PO, PO line) → this ship notice's lines
        header_po = getattr(document, "po_number", None)
        for index, line in enumerate(document.lines):  # type: ignore[attr-defined]
            path = join("lines", index)
            number = getattr(line, "po_number", None) or header_po
            if number is None:
                problems.append(Problem(kinds[0], join(path, "po_number"), None,
                                        f"{path} names no purchase order (and the document none either)"))
                continue
            if number not in orders:
                orders[number] = latest_document(db, "purchase_order", number)
                field = "po_number" if number == header_po else join(path, "po_number")
                if orders[number] is None:
                    problems.append(Problem(kinds[0], field, number, f"{field}: purchase order {number} is not "
                                            "one the hub sent (no stored purchase_order with that number)"))
                elif not _same_supplier(orders[number]["supplier_partner_id"], partner, db):
                    problems.append(Problem(kinds[0], field, number, f"{field}: purchase order {number} was sent to "
                                            f"{orders[number]['supplier_partner_id']}, not to {partner}"))
                    orders[number] = None  # another supplier's PO: nothing of it is matched
            order = orders[number]
            if order is None:
                continue
            po_line = order_line(order, line)
            if po_line is None:
                sent = getattr(line, "po_line_number", None)
                problems.append(Problem(kinds[1], path, sent, f"{path}: no line of purchase order {number} has line "
                                        f"number {sent} or one of the line's item identifiers"))
            elif kinds[2] is not None and (problem := self._price(kinds[2], path, line, po_line, number)):
                problems.append(problem)
            elif document.document_type == "ship_notice":
                shipping.setdefault((number, po_line["line_number"]), []).append((path, line, po_line))
        problems += self._over_shipped(document, shipping, db)
        return _once(problems)

    def _over_shipped(self, document: Document, shipping: dict[tuple[str, str], list], db: Database) -> list[Problem]:
        """Shipped in total (earlier stored ship notices + this one) beyond the ordered quantity."""
        problems = []
        earlier_by_po: dict[str, list[ShipNotice]] = {}
        for (number, line_number), lines in shipping.items():
            if number not in earlier_by_po:
                earlier_by_po[number] = [ShipNotice.model_validate(body) for body in stored_naming(
                    db, "ship_notice", number, except_key=document.asn_number)]  # type: ignore[attr-defined]
            path, _, po_line = lines[0]
            ordered, in_base = _ordered(po_line)
            if ordered is None:
                continue
            now = [q for _, line, _ in lines if (q := _shipped(line, po_line, in_base)) is not None]
            before = [q for asn in earlier_by_po[number] for line in asn.lines
                      if (line.po_number or "") == number and order_line({"lines": [po_line]}, line) is not None
                      and (q := _shipped(line, po_line, in_base)) is not None]
            total, allowed = sum(now + before, Decimal(0)), ordered * (1 + self.config.over_ship_pct / 100)
            if now and total > allowed:
                problems.append(Problem("asn_qty_exceeds_open", join(path, "qty_shipped"), str(sum(now, Decimal(0))),
                                        f"{path}.qty_shipped: {total} shipped in all for purchase order {number} line "
                                        f"{line_number} ({sum(before, Decimal(0))} before this ship notice), "
                                        f"{ordered} ordered{' (base units)' if in_base else ''}",
                                        {"ordered": str(ordered), "shipped_before": str(sum(before, Decimal(0))),
                                         "shipped_total": str(total)}))
        return problems

    def _price(self, kind: str, path: str, line: BaseModel, po_line: dict[str, Any], number: str) -> Problem | None:
        price, ordered = getattr(line, "unit_price", None), po_line.get("unit_price")
        if price is None or ordered is None or not _same_unit(line, po_line):
            return None
        # Per-hundred / per-thousand prices (X12 HP / TP) compared per unit.
        price = price / PRICE_BASIS_UNITS.get(getattr(line, "price_basis", None) or "", 1)
        ordered = Decimal(ordered) / PRICE_BASIS_UNITS.get(po_line.get("price_basis") or "", 1)
        allowed = max(ordered * self.config.price_tolerance_pct / 100, self.config.price_tolerance_abs)
        if abs(price - ordered) <= allowed:
            return None
        return Problem(kind, join(path, "unit_price"), str(price),
                       f"{path}.unit_price {price} differs from purchase order {number} line "
                       f"{po_line['line_number']} price {ordered} by more than {allowed}",
                       {"po_price": str(ordered), "tolerance": str(allowed)})


def order_line(order: dict[str, Any], line: BaseModel) -> dict[str, Any] | None:
    """The PO line a supplier line answers: by its line number, else by a shared identifier."""
    number = getattr(line, "po_line_number", None)
    lines = order.get("lines", [])
    found = next((po_line for po_line in lines if number and po_line.get("line_number") == number), None)
    if found is not None:
        return found
    ids = {(i.scheme.value, i.value) for i in getattr(line, identifiers_field(line), [])}
    return next((po_line for po_line in lines
                 if ids & {(i["scheme"], i["value"]) for i in po_line.get("item_ids_sent", [])}), None)


def _ordered(po_line: dict[str, Any]) -> tuple[Decimal | None, bool]:
    """(ordered quantity, whether in base units): base units when uom_convert filled them."""
    if po_line.get("base_qty") is not None:
        return Decimal(po_line["base_qty"]), True
    return (Decimal(po_line["qty"]) if po_line.get("qty") is not None else None), False


def _shipped(line: BaseModel, po_line: dict[str, Any], in_base: bool) -> Decimal | None:
    """A ship notice line's quantity in the PO line's terms, or None when it cannot be compared."""
    if in_base:
        same_base = line.base_qty is not None and line.base_uom == po_line.get("base_uom")  # type: ignore[attr-defined]
        return line.base_qty if same_base else None  # type: ignore[attr-defined]
    return line.qty_shipped if line.uom == po_line.get("uom") else None  # type: ignore[attr-defined]


def _same_supplier(po_supplier: str, partner: str | None, db: Database) -> bool:
    """Whether the document's supplier (its supplier_partner_id as sent, else the sender) is the
    partner the PO went to: the same id, or an id the partner registry knows as that partner's
    (ISA / UNB / GS id, GLN, DUNS)."""
    if partner is None or partner == po_supplier:
        return partner is not None
    registry = PartnerRegistry(db)
    if registry.by_id(partner) is not None:
        return False  # another registered partner
    for scheme in (PartyIdScheme.ISA_ID, PartyIdScheme.UNB_ID, PartyIdScheme.GS_ID, PartyIdScheme.GLN,
                   PartyIdScheme.DUNS):
        found = registry.by_identifier(scheme, partner)
        if found is not None:
            return found.id == po_supplier
    return False


def _same_unit(line: BaseModel, po_line: dict[str, Any]) -> bool:
    mine = getattr(line, "price_uom", None) or getattr(line, "uom", None)
    theirs = po_line.get("price_uom") or po_line.get("uom")
    return mine == theirs


def _once(problems: list[Problem]) -> list[Problem]:
    """An unknown PO named by the header is one problem, not one per line."""
    seen, out = set(), []
    for problem in problems:
        if (problem.kind, problem.field_path) not in seen:
            seen.add((problem.kind, problem.field_path))
            out.append(problem)
    return out
