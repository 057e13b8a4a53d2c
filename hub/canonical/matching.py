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
price, abs)`` is the tolerance. Quantities against open quantities (C #23) need every ASN of the
PO in one unit and are not checked here.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from hub.canonical import Document
from hub.canonical.steps import CanonicalStep, CanonicalStepConfig, Problem
from hub.canonical.walk import identifiers_field, join
from hub.canonical.xref import Crosswalk
from hub.db import Database
from hub.documents import latest_document, store_document
from hub.exchange import Exchange
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


@step
class PoMatchStep(CanonicalStep):
    """Acknowledgements, ship notices and invoices against the stored purchase order: an unknown
    PO (C #21, #22, #35), a line that is not on it (C #21, #24, #36) and a price outside the
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
                if orders[number] is None:
                    field = "po_number" if number == header_po else join(path, "po_number")
                    problems.append(Problem(kinds[0], field, number, f"{field}: purchase order {number} is not "
                                            "one the hub sent (no stored purchase_order with that number)"))
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
        return _once(problems)

    def _price(self, kind: str, path: str, line: BaseModel, po_line: dict[str, Any], number: str) -> Problem | None:
        price, ordered = getattr(line, "unit_price", None), po_line.get("unit_price")
        if price is None or ordered is None or not _same_unit(line, po_line):
            return None
        ordered = Decimal(ordered)
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
