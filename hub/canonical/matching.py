"""Matching a supplier's documents against the purchase order the hub sent (domain.md section C
#20–#24, #33–#36), a goods receipt against the ship notice (C #31), and lots against open recalls
(C #30, #43): ``store_document`` keeps the PO when it goes out (the ASN and the recall when they
come in), ``po_match``, ``receipt_match`` and ``recall_check`` check what comes after.

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
sides were converted (``uom_convert``); lines in another unit are not counted. With
``three_way``, an invoice's quantities (with the earlier stored invoices) are compared the same
way with what the stored goods receipts received and accepted (C #34).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from hub.canonical import Document
from hub.canonical.enums import (
    AckLineStatus,
    AckType,
    MatchStatus,
    PartyIdScheme,
    RecallStatus,
)
from hub.canonical.invoices import Invoice
from hub.canonical.recall import Recall
from hub.canonical.shipping import GoodsReceipt, ShipNotice
from hub.canonical.steps import (
    PRICE_BASIS_UNITS,
    CanonicalStep,
    CanonicalStepConfig,
    Problem,
)
from hub.canonical.walk import identifiers_field, item_holders, join
from hub.canonical.xref import Crosswalk
from hub.db import Database
from hub.documents import latest_document, store_document, stored_all, stored_naming
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
    # Invoiced in total against received and accepted (C #34): needs the goods receipts (and
    # the invoices) stored by their routes' store_document, else every invoice is "not received".
    three_way: bool = False


@step
class PoMatchStep(CanonicalStep):
    """Acknowledgements, ship notices and invoices against the stored purchase order: an unknown
    PO, or one sent to another supplier (C #21, #22, #35), a line that is not on it (C #21, #24,
    #36), a price outside the tolerance (C #20, #33), shipped beyond ordered (C #23) and, with
    ``three_way``, invoiced beyond received (C #34) become business exceptions (severity H:
    held). Other documents pass."""

    kind = "po_match"
    Config = PoMatchConfig
    summary = "Match a supplier's 855/856/810 (ORDRSP/DESADV/INVOIC) against the stored PO"

    def apply(self, document: Document, crosswalk: Crosswalk, partner: str | None, db: Database) -> list[Problem]:
        kinds = KINDS_BY_DOCUMENT.get(document.document_type)
        if kinds is None:
            return []
        problems: list[Problem] = []
        orders: dict[str, dict[str, Any] | None] = {}
        per_po_line: dict[tuple[str, str], list] = {}  # (PO, PO line) → this document's lines
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
                continue
            if kinds[2] is not None and (problem := self._price(kinds[2], path, line, po_line, number)):
                problems.append(problem)
            if problem := _unit(path, line, po_line, number):
                problems.append(problem)
            if document.document_type != "purchase_order_ack" and (
                    problem := _other_item(kinds[1], path, line, po_line, number)):
                problems.append(problem)
            if document.document_type == "invoice" and order.get("po_type") == "BILL_ONLY":
                problems += _bill_only(path, line, po_line, number)
            per_po_line.setdefault((number, po_line["line_number"]), []).append((path, line, po_line))
        if document.document_type == "purchase_order_ack":
            problems += _ack_statuses(document, per_po_line)
        elif document.document_type == "ship_notice":
            problems += self._over_shipped(document, per_po_line, db)
        elif document.document_type == "invoice" and self.config.three_way:
            problems += self._over_invoiced(document, per_po_line, db)
            # The ERP is told the outcome of the three-way match with the invoice itself.
            document.match_status = MatchStatus.EXCEPTION if problems else MatchStatus.MATCHED  # type: ignore[attr-defined]
        return _once(problems)

    def _over_invoiced(self, document: Document, invoicing: dict[tuple[str, str], list], db: Database) -> list[Problem]:
        """Invoiced in total (earlier stored invoices + this one) beyond what was received and
        accepted (the stored goods receipts), per PO line: the third leg of the match (C #34)."""
        problems = []
        stored: dict[str, tuple[list[Document], list[Document]]] = {}
        for (number, line_number), lines in invoicing.items():
            if (latest_document(db, "purchase_order", number) or {}).get("po_type") == "BILL_ONLY":
                continue  # bill-only: nothing is received; the ERP books a system receipt from the PO
            if number not in stored:
                stored[number] = (
                    [Invoice.model_validate(b) for b in stored_naming(
                        db, "invoice", number, except_key=document.invoice_number)],  # type: ignore[attr-defined]
                    [GoodsReceipt.model_validate(b) for b in stored_naming(db, "goods_receipt", number)])
            earlier, receipts = stored[number]
            path, _, po_line = lines[0]
            in_base = po_line.get("base_qty") is not None
            now = [q for _, line, _ in lines if (q := _in_po_terms(line, po_line, in_base, "qty_invoiced")) is not None]
            if not now:
                continue
            before = _sum_for(earlier, number, po_line, in_base, lambda line: "qty_invoiced")
            received = _sum_for(receipts, number, po_line, in_base,
                                lambda line: "qty_accepted" if line.qty_accepted is not None else "qty_received")
            invoiced = before + sum(now, Decimal(0))
            if invoiced > received:
                unit = "base units" if in_base else po_line.get("uom") or "units of the GTIN"
                problems.append(Problem("invoice_qty_exceeds_received", join(path, "qty_invoiced"), str(sum(now, Decimal(0))),
                                        f"{path}.qty_invoiced: {invoiced} invoiced in all for purchase order {number} "
                                        f"line {line_number} ({before} before this invoice), {received} received and "
                                        f"accepted ({unit})",
                                        {"invoiced_total": str(invoiced), "received": str(received)}))
        return problems

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
            now = [q for _, line, _ in lines if (q := _in_po_terms(line, po_line, in_base, "qty_shipped")) is not None]
            before = _sum_for(earlier_by_po[number], number, po_line, in_base, lambda line: "qty_shipped")
            total, allowed = before + sum(now, Decimal(0)), ordered * (1 + self.config.over_ship_pct / 100)
            if now and total > allowed:
                problems.append(Problem("asn_qty_exceeds_open", join(path, "qty_shipped"), str(sum(now, Decimal(0))),
                                        f"{path}.qty_shipped: {total} shipped in all for purchase order {number} line "
                                        f"{line_number} ({before} before this ship notice), "
                                        f"{ordered} ordered{' (base units)' if in_base else ''}",
                                        {"ordered": str(ordered), "shipped_before": str(before),
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


# Acknowledged line statuses the buyer must act on (domain.md C #18): the line will not come,
# not in full, or not now. Their quantities are not compared with the PO's (C #20 says so).
NOT_AS_ORDERED = {AckLineStatus.BACKORDERED, AckLineStatus.PARTIAL_BACKORDER, AckLineStatus.REJECTED,
                  AckLineStatus.DELETED, AckLineStatus.ON_HOLD, AckLineStatus.NOT_FOUND}
# Statuses whose quantity is what will ship; the quantities of one PO line's ack lines add up.
SHIPPING = {AckLineStatus.ACCEPTED, AckLineStatus.CHANGED, AckLineStatus.PRICE_CHANGED, AckLineStatus.QTY_CHANGED,
            AckLineStatus.RESCHEDULED}


def _ack_statuses(ack: Document, per_po_line: dict[tuple[str, str], list]) -> list[Problem]:
    """What an acknowledgement says of each PO line it answers: rejected, backordered or held
    (C #18, WARN: posted, queued for the buyer), a substitute (C #19, HOLD), or a quantity other
    than ordered without a backorder status (C #20, HOLD). A whole order refused or held with no
    line detail is one C #18 problem on ``ack_type``."""
    problems = []
    if not ack.lines and ack.ack_type in (AckType.REJECTED, AckType.HOLD, AckType.NOT_PROCESSED):  # type: ignore[attr-defined]
        problems.append(Problem("line_rejected_or_backordered", "ack_type", ack.ack_type_raw,  # type: ignore[attr-defined]
                                f"ack_type {ack.ack_type.value}: purchase order {ack.po_number} "  # type: ignore[attr-defined]
                                f"was {ack.ack_type.value.lower().replace('_', ' ')} as a whole"))  # type: ignore[attr-defined]
    for (number, line_number), lines in per_po_line.items():
        statuses = {line.status for _, line, _ in lines}
        for path, line, po_line in lines:
            if line.qty_backordered and line.status not in NOT_AS_ORDERED:
                # EANCOM says a backorder with QTY+83 under a "changed" line (LIN 1229 3).
                problems.append(Problem("line_rejected_or_backordered", join(path, "qty_backordered"),
                                        str(line.qty_backordered),
                                        f"{path}: purchase order {number} line {line_number}: {line.qty_backordered} "
                                        f"{line.uom or po_line.get('uom') or ''} backordered".rstrip(),
                                        {"status": line.status.value, "qty_backordered": str(line.qty_backordered)}))
            if line.status in NOT_AS_ORDERED:
                reason = f", reason {line.reason_code}" if line.reason_code else ""
                qty = f" {line.qty} {line.uom or po_line.get('uom') or ''}".rstrip() if line.qty is not None else ""
                problems.append(Problem("line_rejected_or_backordered", join(path, "status"), line.status_raw,
                                        f"{path}: purchase order {number} line {line_number}{qty} "
                                        f"{line.status.value.lower().replace('_', ' ')} ({line.status_raw}{reason})",
                                        {"status": line.status.value, "reason_code": line.reason_code}))
            other_item = _other_item("substitution", path, line, po_line, number)
            if line.status is AckLineStatus.SUBSTITUTED or line.substitute_item_ids or other_item:
                # An ORDRSP names the substitute as the line's item (LIN / PIA), an 855 in ACK07+.
                offered = ", ".join(f"{i.scheme.value}:{i.value}" for i in line.substitute_item_ids) or (
                    other_item.offending_value if other_item else "not named")
                problems.append(Problem("substitution", join(path, "substitute_item_ids"), offered,
                                        f"{path}: the supplier substitutes purchase order {number} line {line_number} "
                                        f"(substitute {offered}); approve it or refuse it",
                                        {"substitute": offered}))
        if statuses & NOT_AS_ORDERED or statuses - SHIPPING - {AckLineStatus.SUBSTITUTED} or any(
                line.qty_backordered for _, line, _ in lines):
            continue
        path, _, po_line = lines[0]
        counted = [line.qty for _, line, _ in lines if line.qty is not None
                   and (line.uom or po_line.get("uom")) == po_line.get("uom")]
        if counted and po_line.get("qty") is not None and sum(counted, Decimal(0)) != Decimal(po_line["qty"]):
            acked = sum(counted, Decimal(0))
            problems.append(Problem("ack_differs", join(path, "qty"), str(acked),
                                    f"{path}.qty: {acked} acknowledged for purchase order {number} line "
                                    f"{line_number}, {po_line['qty']} ordered, and no backorder status",
                                    {"ordered": str(po_line["qty"]), "acknowledged": str(acked)}))
    return problems


def _bill_only(path: str, line: BaseModel, po_line: dict[str, Any], number: str) -> list[Problem]:
    """A bill-only invoice line must bill the lot and serial the PO (the usage) names (C #40)."""
    problems = []
    for field in ("serial_numbers", "lot_numbers"):
        used, billed = set(po_line.get(field) or []), set(getattr(line, field, None) or [])
        if used and used != billed:
            what = field.replace("_numbers", "")
            problems.append(Problem("bill_only_incomplete", join(path, field), ", ".join(sorted(billed)) or None,
                                    f"{path}: bill-only purchase order {number} line {po_line['line_number']} was used "
                                    f"as {what} {', '.join(sorted(used))}; the invoice bills "
                                    f"{', '.join(sorted(billed)) or f'no {what}'}"))
    return problems


def _unit(path: str, line: BaseModel, po_line: dict[str, Any], number: str) -> Problem | None:
    """A line in another unit than the PO line's, when no conversion put both in base units
    (C #15): quantities and prices cannot be compared, so a person decides."""
    mine, ordered = getattr(line, "uom", None), po_line.get("uom")
    if mine is None or ordered is None or mine == ordered:
        return None
    if getattr(line, "base_qty", None) is not None and po_line.get("base_qty") is not None and \
            getattr(line, "base_uom", None) == po_line.get("base_uom"):
        return None  # uom_convert put both in the item's base unit: compared there
    return Problem("uom_mismatch", join(path, "uom"), mine,
                   f"{path}.uom {mine}: purchase order {number} line {po_line['line_number']} was ordered in "
                   f"{ordered}, and no conversion put both in one unit (uom_convert)",
                   {"po_uom": ordered})


def _other_item(kind: str, path: str, line: BaseModel, po_line: dict[str, Any], number: str) -> Problem | None:
    """A line found by its PO line number that names none of the PO line's identifiers (and no
    resolved item in common): another item is shipped or billed against the line (C #24, #36)."""
    field = identifiers_field(line)
    ids = {(i.scheme.value, i.value) for i in getattr(line, field, [])}
    ordered = {(i["scheme"], i["value"]) for i in po_line.get("item_ids_sent", [])}
    if not ids or not ordered or ids & ordered:
        return None
    if getattr(line, "item_id", None) and getattr(line, "item_id", None) == po_line.get("item_id"):
        return None
    shown = ", ".join(f"{s}:{v}" for s, v in sorted(ids))
    return Problem(kind, join(path, field), shown,
                   f"{path}: {shown} is not the item of purchase order {number} line {po_line['line_number']} "
                   f"({', '.join(f'{s}:{v}' for s, v in sorted(ordered))})")


def _ordered(po_line: dict[str, Any]) -> tuple[Decimal | None, bool]:
    """(ordered quantity, whether in base units): base units when uom_convert filled them."""
    if po_line.get("base_qty") is not None:
        return Decimal(po_line["base_qty"]), True
    return (Decimal(po_line["qty"]) if po_line.get("qty") is not None else None), False


def _in_po_terms(line: BaseModel, po_line: dict[str, Any], in_base: bool, qty_field: str) -> Decimal | None:
    """A line's ``qty_field`` in the PO line's unit — or in base units, scaled from the line's
    converted quantity — or None when it cannot be compared."""
    qty = getattr(line, qty_field)
    if qty is None:
        return None
    if not in_base:
        return qty if line.uom == po_line.get("uom") else None  # type: ignore[attr-defined]
    base, own = line.base_qty, getattr(line, type(line).QTY_FIELD)  # type: ignore[attr-defined]
    if base is None or line.base_uom != po_line.get("base_uom") or not own:  # type: ignore[attr-defined]
        return None
    return base if qty == own else base * qty / own


def _sum_for(documents: list[Document], number: str, po_line: dict[str, Any], in_base: bool, field_of) -> Decimal:
    """The quantities (``field_of(line)``) of the documents' lines that answer ``po_line`` of
    purchase order ``number``, in its terms; lines in another unit are left out."""
    total = Decimal(0)
    for doc in documents:
        for line in doc.lines:  # type: ignore[attr-defined]
            if (getattr(line, "po_number", None) or getattr(doc, "po_number", None)) != number:
                continue
            if order_line({"lines": [po_line]}, line) is None:
                continue
            qty = _in_po_terms(line, po_line, in_base, field_of(line))
            total += qty or 0
    return total


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


class ReceiptMatchConfig(CanonicalStepConfig):
    # Received may differ from shipped by this much (percent of the shipped quantity) unreported.
    qty_tolerance_pct: Decimal = Decimal(0)


@step
class ReceiptMatchStep(CanonicalStep):
    """A goods receipt against the ship notice it names (``asn_number``), as a supplier route
    stored it: an ASN the hub does not have, a received line not on the ASN, a quantity beyond
    ``qty_tolerance_pct``, a lot the ASN did not announce, and an ASN line nothing was received
    for become ``receipt_differs_from_asn`` (domain.md C #31, severity W: recorded for review,
    the receipt is posted). A receipt that names no ASN is not checked."""

    kind = "receipt_match"
    Config = ReceiptMatchConfig
    summary = "Compare a goods receipt with the stored ship notice it names (receipt_differs_from_asn)"

    def apply(self, document: Document, crosswalk: Crosswalk, partner: str | None, db: Database) -> list[Problem]:
        number = getattr(document, "asn_number", None)
        if document.document_type != "goods_receipt" or number is None:
            return []
        stored = latest_document(db, "ship_notice", number)
        if stored is None:
            return [_differs("asn_number", number, f"asn_number: ship notice {number} is not in the hub's store "
                             "(it came after the receipt, went through a route without store_document, or is unknown)")]
        asn = ShipNotice.model_validate(stored)
        problems, received = [], set()
        for index, line in enumerate(document.lines):  # type: ignore[attr-defined]
            path = join("lines", index)
            found = _asn_line(asn, line)
            if found is None:
                problems.append(_differs(path, line.item_id, f"{path}: the received item is not on ship notice {number}"))
                continue
            asn_index, asn_line = found
            received.add(asn_index)
            problems += self._compare(path, line, asn_line, number)
        problems += [_differs(join("asn_lines", i), asn_line.line_id, f"ship notice {number} line {i + 1} "
                              f"(PO {asn_line.po_number} line {asn_line.po_line_number or '-'}) was not received")
                     for i, asn_line in enumerate(asn.lines) if i not in received]
        return problems

    def _compare(self, path: str, line: BaseModel, asn_line: BaseModel, number: str) -> list[Problem]:
        problems = []
        received, shipped = _comparable(line.qty_received, line, asn_line.qty_shipped, asn_line)  # type: ignore[attr-defined]
        if received is not None and abs(received - shipped) > shipped * self.config.qty_tolerance_pct / 100:
            problems.append(_differs(join(path, "qty_received"), str(line.qty_received),  # type: ignore[attr-defined]
                                     f"{path}.qty_received: {received} received, {shipped} shipped on ship notice {number}"))
        announced = {lot.lot_number for lot in asn_line.lots if lot.lot_number}  # type: ignore[attr-defined]
        unannounced = [a.lot_number for a in line.lot_allocations  # type: ignore[attr-defined]
                       if a.lot_number and announced and a.lot_number not in announced]
        if unannounced:
            problems.append(_differs(join(path, "lot_allocations"), ", ".join(unannounced),
                                     f"{path}: lot(s) {', '.join(unannounced)} received, ship notice {number} announced "
                                     f"{', '.join(sorted(announced))}"))
        return problems


def _differs(field: str, value: str | None, message: str) -> Problem:
    return Problem("receipt_differs_from_asn", field, value, message)


def _asn_line(asn: ShipNotice, line: BaseModel) -> tuple[int, BaseModel] | None:
    """The ship notice line a receipt line received: the same PO line, else the same item (its
    resolved item_id, else a shared identifier)."""
    candidates = list(enumerate(asn.lines))
    po_line = (getattr(line, "po_number", None), getattr(line, "po_line_number", None))
    if all(po_line):
        found = next(((i, a) for i, a in candidates if (a.po_number, a.po_line_number) == po_line), None)
        if found is not None:
            return found
    item_id = getattr(line, "item_id", None)
    ids = {(i.scheme.value, i.value) for i in getattr(line, "item_ids", [])}
    return next(((i, a) for i, a in candidates if (item_id and a.item_id == item_id)
                 or ids & {(x.scheme.value, x.value) for x in a.item_ids}), None)


def _comparable(received: Decimal, line: BaseModel, shipped: Decimal, asn_line: BaseModel) -> tuple[Decimal | None, Decimal]:
    """Both quantities in one unit — the line's, or base units when both were converted —
    else (None, shipped): not compared."""
    if line.uom == asn_line.uom:  # type: ignore[attr-defined]
        return received, shipped
    if line.base_qty is not None and asn_line.base_qty is not None and line.base_uom == asn_line.base_uom:  # type: ignore[attr-defined]
        return line.base_qty, asn_line.base_qty  # type: ignore[attr-defined]
    return None, shipped


@step
class RecallCheckStep(CanonicalStep):
    """Lots and serials on a ship notice, goods receipt, usage event, adjustment or snapshot
    that an open recall names (a recall stored by its intake route's ``store_document``; status
    not CLOSED) become ``lot_on_recall`` (domain.md C #30, severity B: held, quarantined) —
    ``usage_of_expired_or_recalled_lot`` (C #43) for a usage event. A recall line names its item
    by item_id or identifiers and its lots / serials; without any it takes every lot of the item,
    and its expiry range, when given, bounds the lots with an expiry date."""

    kind = "recall_check"
    summary = "Hold documents carrying a lot or serial an open recall names (lot_on_recall)"

    def apply(self, document: Document, crosswalk: Crosswalk, partner: str | None, db: Database) -> list[Problem]:
        recalls = [Recall.model_validate(body) for body in stored_all(db, "recall")]
        recalls = [r for r in recalls if r.status is not RecallStatus.CLOSED]
        if not recalls:
            return []
        kind = "usage_of_expired_or_recalled_lot" if document.document_type == "usage_event" else "lot_on_recall"
        problems = []
        for path, holder in item_holders(document):
            for lot_path, lot in _lots_of(holder, path):
                for recall, line in _recalled(recalls, holder, lot):
                    label = f"lot {lot.lot_number}" if getattr(lot, "lot_number", None) else \
                        f"serial {getattr(lot, 'serial_number', None)}" if getattr(lot, "serial_number", None) else "the item"
                    problems.append(Problem(kind, lot_path, getattr(lot, "lot_number", None) or
                                            getattr(lot, "serial_number", None),
                                            f"{lot_path}: {label} is on recall {recall.recall_id} "
                                            f"({recall.external_ref}{', ' + recall.classification.value if recall.classification else ''})"
                                            f"{': ' + recall.action_required if recall.action_required else ''}",
                                            {"recall_id": recall.recall_id, "recall_line": line.line_number}))
        return problems


def _lots_of(holder: BaseModel, path: str) -> list[tuple[str, BaseModel]]:
    """The holder itself when it names a lot or serial, and its lots / lot allocations."""
    own = "lot_number" if getattr(holder, "lot_number", None) else "serial_number" if getattr(
        holder, "serial_number", None) else None
    found = [(join(path, own), holder)] if own else []
    for name in ("lots", "lot_allocations"):
        found += [(join(join(path, name), i), lot) for i, lot in enumerate(getattr(holder, name, None) or [])]
    return found


def _recalled(recalls: list[Recall], holder: BaseModel, lot: BaseModel) -> list[tuple[Recall, BaseModel]]:
    ids = {(i.scheme.value, i.value) for i in getattr(holder, identifiers_field(holder), None) or []}
    if getattr(lot, "gtin", None):
        ids.add(("GTIN", lot.gtin))  # type: ignore[attr-defined]
    item_id = getattr(holder, "item_id", None)
    lot_number, serial = getattr(lot, "lot_number", None), getattr(lot, "serial_number", None)
    expiry = getattr(lot, "expiration_date", None)
    hits = []
    for recall in recalls:
        for line in recall.lines:
            same_item = (item_id is not None and line.item_id == item_id) or bool(
                ids & {(i.scheme.value, i.value) for i in line.item_ids})
            if not same_item:
                continue
            named = line.lot_numbers or line.serial_numbers
            if named and lot_number not in line.lot_numbers and serial not in line.serial_numbers:
                continue
            if expiry is not None and ((line.expiry_from and expiry < line.expiry_from)
                                       or (line.expiry_to and expiry > line.expiry_to)):
                continue
            hits.append((recall, line))
    return hits
