"""Route steps over canonical documents: ``crosswalk``, ``uom_convert``, ``identifier_check``,
``lot_expiry_check`` and ``invoice_totals_check``.

Both take the document as a model or as a dict (and hand back the same form), look things up in
the crosswalk tables through the ``db`` service, and never drop or crash on missing master
data: each problem is appended to ``ex.exceptions`` AND written as a business exception record
(in one transaction per exchange); then ``on_exception`` decides: ``hold`` (default) sets
``ex.held`` so the engine does not deliver, ``forward`` passes the document on.

YAML::

    - crosswalk: hold            # shorthand for {on_exception: hold}
    - uom_convert: {on_exception: forward}
    - identifier_check: hold     # identifiers a mapper kept although they failed their check
    - lot_expiry_check: {min_remaining_days: 90}   # expired (held) and short-dated (recorded) lots
    - invoice_totals_check: hold # the invoice total against its lines, charges and tax

A problem of WARN severity (domain.md section C: "post, but queue for review", e.g. a
short-dated lot) is recorded but does not hold the document.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ValidationError

from hub.business_exceptions import KINDS, Severity, record_exception
from hub.canonical import Document, parse_document
from hub.canonical.parties import PartyRef
from hub.canonical.walk import (
    document_date,
    document_key,
    document_partner,
    identifiers_field,
    invalid_identifiers,
    item_holders,
    join,
    lot_expiries,
    party_refs,
    qty_field,
)
from hub.canonical.xref import ConversionMissing, Crosswalk
from hub.db import Database
from hub.exchange import Exchange
from hub.partners import PartnerRegistry
from hub.registry import Step, StepError, StrictModel, step

# Party references whose identifiers must resolve to a location (domain.md section C #13).
REQUIRED_LOCATIONS = {"ship_to", "bill_to"}


class CanonicalStepConfig(StrictModel):
    on_exception: Literal["hold", "forward"] = "hold"
    partner: str | None = None  # fixed partner id for lookups; default the document's supplier, then the sender


@dataclass
class Problem:
    kind: str
    field_path: str
    offending_value: str | None
    message: str
    detail: dict[str, Any] = field(default_factory=dict)


def load_document(ex: Exchange) -> tuple[Document, bool]:
    """(document model, whether the body was a dict)."""
    body = ex.body
    if isinstance(body, Document):
        return body, False
    if isinstance(body, dict):
        try:
            return parse_document(body), True
        except KeyError as exc:
            raise StepError(str(exc.args[0]), location="body") from None
        except ValidationError as exc:
            first = exc.errors(include_url=False, include_input=False)[0]
            where = ".".join(str(p) for p in first["loc"]) or "body"
            raise StepError(f"{first['msg']} ({exc.error_count()} error(s))", location=f"body.{where}") from None
    raise StepError(f"expected a canonical document (model or dict), got {type(body).__name__}", location="body")


class CanonicalStep(Step):
    Config: ClassVar[type[BaseModel]] = CanonicalStepConfig
    shorthand: ClassVar[str | None] = "on_exception"

    def process(self, ex: Exchange) -> list[Exchange]:
        document, was_dict = load_document(ex)
        db = self.env.service("db")
        partner = self.config.partner or document_partner(document) or ex.sender
        problems = self.apply(document, Crosswalk(db), partner, db)
        self.locate(problems, ex)
        if problems:
            self._record(ex, db, document, partner, problems)
        ex.body = document.canonical_dict() if was_dict else document
        return [ex]

    @abstractmethod
    def apply(self, document: Document, crosswalk: Crosswalk, partner: str | None, db: Database) -> list[Problem]:
        """Fill what can be resolved on ``document`` in place; return what could not."""

    def locate(self, problems: list[Problem], ex: Exchange) -> None:
        """Add where in the input each problem came from, when an earlier step said so."""

    def _record(self, ex: Exchange, db: Database, document: Document, partner: str | None, problems: list[Problem]) -> None:
        already = {(e.get("kind"), e.get("field_path")) for e in ex.exceptions}
        fresh = [p for p in problems if (p.kind, p.field_path) not in already]
        with db.session() as session:
            for problem in fresh:
                row = record_exception(
                    session,
                    kind=problem.kind,
                    message=problem.message,
                    document_type=document.document_type,
                    document_key=document_key(document),
                    field_path=problem.field_path,
                    offending_value=problem.offending_value,
                    partner_id=partner,
                    message_id=ex.message_id,
                    route=self.env.route_name,
                    detail={"step": self.kind, **problem.detail},
                )
                ex.exceptions.append(row.as_dict())
        if self.config.on_exception == "hold" and any(KINDS[p.kind].severity is not Severity.WARN for p in problems):
            ex.held = True


@step
class CrosswalkStep(CanonicalStep):
    """Resolve items (from item_ids / item_ids_sent) and locations/partners on a canonical document."""

    kind = "crosswalk"
    summary = "Resolve item_id, location and partner ids from the identifiers a document carries"

    def apply(self, document: Document, crosswalk: Crosswalk, partner: str | None, db: Database) -> list[Problem]:
        on = document_date(document)
        problems = [p for path, holder in item_holders(document) if (p := self._item(crosswalk, path, holder, partner, on))]
        registry = PartnerRegistry(db)
        for name, ref in party_refs(document):
            problem = self._party(crosswalk, registry, name, ref, partner)
            if problem:
                problems.append(problem)
        return problems

    @staticmethod
    def _item(crosswalk: Crosswalk, path: str, holder: BaseModel, partner: str | None, on: date | None) -> Problem | None:
        ids_field = identifiers_field(holder)
        identifiers = getattr(holder, ids_field)
        if not identifiers:
            return None  # nothing to resolve (e.g. an ack line that does not echo item ids)
        pairs = [(i.scheme.value, i.value) for i in identifiers]
        shown = ", ".join(f"{s}:{v}" for s, v in pairs)
        resolution = crosswalk.resolve_item(pairs, partner, on)
        where = join(path, ids_field)
        if resolution.is_conflict:
            return Problem("conflicting_item_identifiers", where, shown, f"identifiers resolve to different items: {resolution.conflicts}", {"conflicts": resolution.conflicts})
        if resolution.item_id is None:
            return Problem("unknown_item", where, shown, f"none of {shown} resolves to an item for partner {partner!r}")
        current = holder.item_id
        if current and current != resolution.item_id:
            return Problem("conflicting_item_identifiers", join(path, "item_id"), current, f"item_id {current!r} but identifiers resolve to {resolution.item_id!r}")
        holder.item_id = resolution.item_id
        return None

    @staticmethod
    def _party(crosswalk: Crosswalk, registry: PartnerRegistry, name: str, ref: PartyRef, partner: str | None) -> Problem | None:
        pairs = [(i.scheme.value, i.value) for i in ref.identifiers]
        if ref.partner_id is None:
            for scheme, value in pairs:
                found = registry.by_identifier(scheme, value)
                if found:
                    ref.partner_id = found.id
                    break
        if ref.location_id is None and pairs:
            ref.location_id = crosswalk.resolve_location(pairs, partner)
            if ref.location_id is None and name in REQUIRED_LOCATIONS:
                shown = ", ".join(f"{s}:{v}" for s, v in pairs)
                return Problem("unknown_location", join(name, "identifiers"), shown, f"{name} {shown} is not mapped to a location for partner {partner!r}")
        return None


@step
class UomConvertStep(CanonicalStep):
    """Fill base_qty/base_uom on every line: partner UoM crosswalk first, then item conversion."""

    kind = "uom_convert"
    summary = "Convert line quantities to the item's base unit (partner UoM crosswalk, then item conversions)"

    def apply(self, document: Document, crosswalk: Crosswalk, partner: str | None, db: Database) -> list[Problem]:
        on = document_date(document)
        problems = []
        for path, holder in item_holders(document):
            name = qty_field(holder)
            if name is None or getattr(holder, name) is None:
                continue
            problem = self._convert(crosswalk, path, holder, name, partner, on)
            if problem:
                problems.append(problem)
        return problems

    @staticmethod
    def _convert(crosswalk: Crosswalk, path: str, holder: Any, name: str, partner: str | None, on: date | None) -> Problem | None:
        item_id = holder.item_id
        if item_id is None:
            # Same path as the crosswalk step's unknown_item, so one line is recorded once.
            return Problem("unknown_item", join(path, identifiers_field(holder)), None, "no item_id to convert for; run the crosswalk step first")
        sent = holder.uom
        if sent is None:
            pairs = [(i.scheme.value, i.value) for i in getattr(holder, identifiers_field(holder))]
            canonical = crosswalk.resolve_item(pairs, partner, on).uom_hint
            if canonical is None:
                return Problem("unknown_uom", join(path, "uom"), None, "no unit sent and the packaging level of the line's GTIN is not in the crosswalk")
        else:
            canonical = crosswalk.canonical_uom(partner, sent)
            if canonical is None:
                return Problem("unknown_uom", join(path, "uom"), sent, f"unit {sent!r} is not in partner {partner!r}'s UoM crosswalk nor a canonical unit")
        try:
            factor = crosswalk.factor(item_id, canonical, partner, on)
            base_uom = crosswalk.base_uom(item_id)
        except ConversionMissing as exc:
            return Problem("missing_conversion", join(path, "uom"), sent or canonical, str(exc), {"item_id": item_id, "uom": canonical})
        holder.uom_canonical = canonical
        holder.base_qty = _exact(getattr(holder, name) * factor)
        holder.base_uom = base_uom
        if "base_qty_available" in type(holder).model_fields and holder.qty_available is not None:
            holder.base_qty_available = _exact(holder.qty_available * factor)
        return None


def _exact(value: Decimal) -> Decimal:
    """A tidy exact form: whole numbers without a fraction (20.00 → 20), others without
    trailing zeros. Value-preserving: nothing is rounded."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


# Exchange header an EDI transform fills: [{"value": as sent, "location": "segment 7 (PO1), element 7"}]
# for every identifier it kept although it failed its check, in file order.
INVALID_IDENTIFIER_LOCATIONS = "invalid_identifier_locations"


@step
class IdentifierCheckStep(CanonicalStep):
    """Identifiers the mappers kept as sent although they failed their format or check-digit
    rule (``invalid_reason``; a pack's ``sscc_invalid_reason``) become ``invalid_identifier``
    business exceptions (domain.md C #12, severity H), located in the input when the mapping
    step left their places in the ``invalid_identifier_locations`` header."""

    kind = "identifier_check"
    summary = "Record identifiers that failed their format / check digit (kept as sent) as invalid_identifier exceptions"

    def apply(self, document: Document, crosswalk: Crosswalk, partner: str | None, db: Database) -> list[Problem]:
        return [Problem("invalid_identifier", path, value, f"{path}: {reason}; kept as sent for review", {"reason": reason})
                for path, value, reason in invalid_identifiers(document)]

    def locate(self, problems: list[Problem], ex: Exchange) -> None:
        places = list(ex.headers.get(INVALID_IDENTIFIER_LOCATIONS) or [])
        for problem in problems:
            place = next((p for p in places if p.get("value") == problem.offending_value), None)
            if place is None:
                continue
            places.remove(place)  # the same value on two lines: each takes the next place
            problem.detail["location"] = place["location"]
            problem.message = f"{place['location']}: {problem.message}"


class LotExpiryConfig(CanonicalStepConfig):
    # Shortest remaining shelf life a lot may arrive with, in days after the document's date
    # (the contract's or the hospital's minimum); None checks only for expired lots.
    min_remaining_days: int | None = None


# The exception an expired lot is, per document: received or shipped (C #27), used (C #43).
EXPIRED_KIND = {"usage_event": "usage_of_expired_or_recalled_lot"}


@step
class LotExpiryCheckStep(CanonicalStep):
    """Lots that expired on or before the document's date — the ship date of a ship notice, the
    receipt time of a goods receipt, the use of a usage event — become ``expired_lot`` business
    exceptions (domain.md C #27, severity B: held, never posted; ``usage_of_expired_or_recalled_lot``,
    C #43, for a usage event). With ``min_remaining_days``, lots that expire sooner than that
    after the date become ``short_dated_lot`` (C #28, severity W: recorded, the document goes on).
    GS1 expiry dates with day 00 were already read as the month's last day by the mappers."""

    kind = "lot_expiry_check"
    Config = LotExpiryConfig
    summary = "Record expired lots (held) and short-dated lots (min_remaining_days) as business exceptions"

    def apply(self, document: Document, crosswalk: Crosswalk, partner: str | None, db: Database) -> list[Problem]:
        on = document_date(document)
        if on is None:
            return []
        minimum = self.config.min_remaining_days
        problems = []
        for path, holder, expiry in lot_expiries(document):
            lot = _lot_label(holder)
            remaining = (expiry - on).days
            if remaining <= 0:
                kind = EXPIRED_KIND.get(document.document_type, "expired_lot")
                problems.append(Problem(kind, join(path, "expiration_date"), f"{lot} {expiry.isoformat()}",
                                        f"{join(path, 'expiration_date')}: {lot} expired on {expiry.isoformat()}, "
                                        f"on or before the document's date {on.isoformat()}",
                                        {"expiration_date": expiry.isoformat(), "date": on.isoformat()}))
            elif minimum is not None and remaining < minimum:
                problems.append(Problem("short_dated_lot", join(path, "expiration_date"), f"{lot} {expiry.isoformat()}",
                                        f"{join(path, 'expiration_date')}: {lot} expires on {expiry.isoformat()}, "
                                        f"{remaining} days after {on.isoformat()}; the minimum is {minimum} days",
                                        {"expiration_date": expiry.isoformat(), "date": on.isoformat(),
                                         "remaining_days": remaining, "min_remaining_days": minimum}))
        return problems


def _lot_label(holder: BaseModel) -> str:
    for name, label in (("lot_number", "lot"), ("serial_number", "serial")):
        value = getattr(holder, name, None)
        if value:
            return f"{label} {value}"
    return "the item"


class InvoiceTotalsConfig(CanonicalStepConfig):
    # Largest difference between the stated and the computed total that is taken as rounding.
    tolerance: Decimal = Decimal("0.01")


@step
class InvoiceTotalsCheckStep(CanonicalStep):
    """An invoice whose total (X12 TDS01, EDIFACT MOA+77) is not the sum of its lines (the line
    amount, else quantity × unit price), line and header charges (allowances subtracted) and tax
    (the header's tax_total, else the lines' tax),
    within ``tolerance``, is a ``totals_do_not_reconcile`` business exception (domain.md C #37,
    severity B: held). A total off by a factor of 100 is named as an implied-decimal misreading.
    Other documents pass untouched."""

    kind = "invoice_totals_check"
    Config = InvoiceTotalsConfig
    summary = "Hold an invoice whose total is not its lines + charges + tax (totals_do_not_reconcile)"

    def apply(self, document: Document, crosswalk: Crosswalk, partner: str | None, db: Database) -> list[Problem]:
        if document.document_type != "invoice":
            return []
        computed = _invoice_sum(document)
        stated = document.total_amount  # type: ignore[attr-defined]
        if abs(stated - computed) <= self.config.tolerance:
            return []
        hint = ("; off by a factor of 100: an implied-decimal (N2) amount read as a whole number?"
                if computed and (stated == computed * 100 or stated * 100 == computed) else "")
        return [Problem("totals_do_not_reconcile", "total_amount", str(stated),
                        f"total_amount {stated} is not the sum of lines, charges and tax {computed} "
                        f"(difference {stated - computed}){hint}",
                        {"computed": str(computed), "stated": str(stated)})]


def _signed(charge: BaseModel) -> Decimal:
    return -charge.amount if charge.allowance_or_charge.value == "ALLOWANCE" else charge.amount  # type: ignore[attr-defined]


# X12 639 price bases whose unit price is for a hundred / a thousand units; any other basis (PE
# per each, CP current price, none) prices one unit of the line.
PRICE_BASIS_UNITS = {"HP": 100, "TP": 1000}


def _invoice_sum(invoice: Document) -> Decimal:
    total, line_tax = Decimal(0), Decimal(0)
    for line in invoice.lines:  # type: ignore[attr-defined]
        per = PRICE_BASIS_UNITS.get(line.price_basis or "", 1)
        amount = line.line_amount if line.line_amount is not None else line.qty_invoiced * line.unit_price / per
        total += amount + sum((_signed(c) for c in line.charges), Decimal(0))
        line_tax += line.tax or 0
    total += sum((_signed(c) for c in invoice.charges), Decimal(0))  # type: ignore[attr-defined]
    # The header's tax total is the whole invoice's tax (EDIFACT MOA+176/124 in the summary, X12
    # TXI): the lines' own tax is part of it, so it counts only when no total is given.
    tax_total = invoice.tax_total  # type: ignore[attr-defined]
    return total + (tax_total if tax_total is not None else line_tax)


# The matching steps live in their own module; importing it here registers them with this plugin.
from hub.canonical import matching  # noqa: E402,F401
