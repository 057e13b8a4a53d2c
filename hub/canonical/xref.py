"""Crosswalks and conversions kept in the database (domain.md 1.4, 1.5, A.3, A.4).

Tables: the hub's items with their base unit, item identifiers (any scheme, optionally per
partner), partner UoM codes → canonical codes, item-specific (optionally vendor-specific, dated)
conversions to the base unit, and partner/location identifiers → locations. ``Crosswalk(db)``
answers the lookups the route steps need; ``load_rows`` fills the tables from validated rows
(``hub xref load`` reads them from CSV or YAML, see docs/crosswalks.md).

``partner_id = ""`` on a row means "any partner": partner-specific rows win over it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from pydantic import Field
from sqlalchemy import Boolean, Date, Index, Integer, Numeric, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from hub.canonical.base import CanonicalModel
from hub.canonical.enums import ItemIdScheme
from hub.canonical.items import ItemIdentifier
from hub.canonical.parties import PartyIdentifier
from hub.canonical.types import Code, Dec, Text
from hub.canonical.uom import UNITS, UomConversion, UomCrosswalk
from hub.db import Base, Database

ANY_PARTNER = ""
# Identifiers partners assign themselves: they only mean something together with the partner.
PARTNER_SCOPED_SCHEMES = {ItemIdScheme.VENDOR_PART, ItemIdScheme.VENDOR_CATALOG}


# ----------------------------------------------------------------- tables

class XrefItem(Base):
    __tablename__ = "xref_items"

    item_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    description: Mapped[str | None] = mapped_column(String(512))
    base_uom: Mapped[str] = mapped_column(String(16))


class XrefItemIdentifier(Base):
    __tablename__ = "xref_item_identifiers"
    __table_args__ = (UniqueConstraint("scheme", "value", "partner_id", name="uq_xref_item_identifiers_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scheme: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(String(256))
    partner_id: Mapped[str] = mapped_column(String(128), default=ANY_PARTNER)
    item_id: Mapped[str] = mapped_column(String(128), index=True)
    uom: Mapped[str | None] = mapped_column(String(16))
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)


class XrefUom(Base):
    __tablename__ = "xref_uom_crosswalk"
    __table_args__ = (UniqueConstraint("partner_id", "partner_code", name="uq_xref_uom_crosswalk_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    partner_id: Mapped[str] = mapped_column(String(128), default=ANY_PARTNER)
    partner_code: Mapped[str] = mapped_column(String(16))
    canonical_code: Mapped[str] = mapped_column(String(16))


class XrefConversion(Base):
    __tablename__ = "xref_uom_conversions"
    __table_args__ = (Index("ix_xref_uom_conversions_lookup", "item_id", "uom", "partner_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[str] = mapped_column(String(128))
    partner_id: Mapped[str] = mapped_column(String(128), default=ANY_PARTNER)
    uom: Mapped[str] = mapped_column(String(16))
    # None when the row states contents instead (contains_qty × factor of contains_uom).
    factor_to_base: Mapped[Decimal | None] = mapped_column(Numeric(24, 8))
    gtin: Mapped[str | None] = mapped_column(String(14))
    contains_uom: Mapped[str | None] = mapped_column(String(16))
    contains_qty: Mapped[Decimal | None] = mapped_column(Numeric(24, 8))
    source: Mapped[str] = mapped_column(String(16))
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    orderable: Mapped[bool | None] = mapped_column(Boolean)


class XrefLocation(Base):
    __tablename__ = "xref_locations"
    __table_args__ = (UniqueConstraint("scheme", "value", "partner_id", name="uq_xref_locations_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scheme: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(String(256))
    partner_id: Mapped[str] = mapped_column(String(128), default=ANY_PARTNER)
    location_id: Mapped[str] = mapped_column(String(128), index=True)


# ----------------------------------------------------------------- input rows

class ItemRow(CanonicalModel):
    item_id: Code
    base_uom: Code
    description: Text | None = None


class ItemIdentifierRow(ItemIdentifier):
    """An item identifier (normalised and check-digit validated) naming one of the hub's items."""

    item_id: Code


class LocationRow(PartyIdentifier):
    """A party identifier (GLN checked) that names one of the hub's locations."""

    location_id: Code
    partner_id: Code | None = Field(None, description="Whose account number this is (ship-to accounts differ per partner)")


class ConversionRow(UomConversion):
    """A UomConversion; ``factor_to_base`` may be left out when ``contains_uom``/``contains_qty``
    say how many of a lower unit it holds (PO4 style): the factor is then derived at lookup."""

    factor_to_base: Dec | None = Field(None, gt=0)  # type: ignore[assignment]


KIND_MODELS: dict[str, type[CanonicalModel]] = {
    "items": ItemRow,
    "item_identifiers": ItemIdentifierRow,
    "uom_crosswalk": UomCrosswalk,
    "conversions": ConversionRow,
    "locations": LocationRow,
}


def _partner(value: str | None) -> str:
    return value or ANY_PARTNER


def _upsert(session: Session, model: type[Base], key: dict, values: dict) -> None:
    row = session.scalars(select(model).filter_by(**key)).first()
    if row is None:
        session.add(model(**key, **values))
    else:
        for name, value in values.items():
            setattr(row, name, value)


def load_rows(session: Session, kind: str, rows: Iterable[CanonicalModel]) -> int:
    """Insert or update validated rows of one kind; returns how many were written."""
    count = 0
    for row in rows:
        _write_row(session, kind, row)
        count += 1
    session.flush()
    return count


def _write_row(session: Session, kind: str, row: CanonicalModel) -> None:
    if isinstance(row, ItemRow):
        _upsert(session, XrefItem, {"item_id": row.item_id}, {"base_uom": row.base_uom, "description": row.description})
    elif isinstance(row, ItemIdentifierRow):
        key = {"scheme": row.scheme.value, "value": row.value, "partner_id": _partner(row.partner_id)}
        _upsert(session, XrefItemIdentifier, key, {"item_id": row.item_id, "uom": row.uom, "valid_from": row.valid_from, "valid_to": row.valid_to})
    elif isinstance(row, UomCrosswalk):
        key = {"partner_id": row.partner_id, "partner_code": row.partner_code.upper()}
        _upsert(session, XrefUom, key, {"canonical_code": row.canonical_code.upper()})
    elif isinstance(row, ConversionRow):
        if row.factor_to_base is None and not (row.contains_uom and row.contains_qty):
            raise ValueError(f"conversion {row.item_id}/{row.uom}: give factor_to_base or contains_uom + contains_qty")
        key = {"item_id": row.item_id, "partner_id": _partner(row.partner_id), "uom": row.uom.upper(), "valid_from": row.valid_from}
        values = {
            "factor_to_base": row.factor_to_base,
            "gtin": row.gtin,
            "contains_uom": row.contains_uom.upper() if row.contains_uom else None,
            "contains_qty": row.contains_qty,
            "source": row.source.value,
            "valid_to": row.valid_to,
            "orderable": row.orderable,
        }
        _upsert(session, XrefConversion, key, values)
    elif isinstance(row, LocationRow):
        key = {"scheme": row.scheme.value, "value": row.value, "partner_id": _partner(row.partner_id)}
        _upsert(session, XrefLocation, key, {"location_id": row.location_id})
    else:
        raise TypeError(f"unsupported crosswalk row for kind {kind!r}: {type(row).__name__}")


# ----------------------------------------------------------------- lookups

@dataclass
class ItemResolution:
    """What the identifiers of one line resolve to. ``item_id`` is set only when every matching
    identifier points at the same item; ``conflicts`` lists item → identifiers otherwise."""

    item_id: str | None = None
    matched: list[tuple[str, str]] = field(default_factory=list)
    conflicts: dict[str, list[str]] = field(default_factory=dict)
    uom_hint: str | None = None  # packaging level of a matching GTIN (EANCOM quantities)

    @property
    def is_conflict(self) -> bool:
        return len(self.conflicts) > 1


class ConversionMissing(LookupError):
    pass


def _valid(row_from: date | None, row_to: date | None, on: date | None) -> bool:
    if on is None:
        return True
    return (row_from is None or row_from <= on) and (row_to is None or on <= row_to)


class Crosswalk:
    """Lookups over the crosswalk tables; every call runs in its own short transaction unless a
    ``session`` is passed."""

    MAX_CHAIN = 6  # contains_uom hops (CA → BX → PK → EA ...): more means a cycle in the data

    def __init__(self, db: Database) -> None:
        self.db = db

    # items -------------------------------------------------------
    def resolve_item(
        self, identifiers: Iterable[tuple[str, str]], partner_id: str | None, on: date | None = None
    ) -> ItemResolution:
        """Resolve (scheme, value) pairs, values as normalised in the canonical model."""
        pairs = [(str(s), str(v)) for s, v in identifiers]
        result = ItemResolution()
        if not pairs:
            return result
        with self.db.session() as session:
            rows = session.scalars(
                select(XrefItemIdentifier).where(
                    XrefItemIdentifier.value.in_({v for _, v in pairs}),
                    XrefItemIdentifier.partner_id.in_({ANY_PARTNER, partner_id or ANY_PARTNER}),
                )
            ).all()
        by_item: dict[str, list[str]] = {}
        for row in rows:
            if (row.scheme, row.value) not in pairs or not _valid(row.valid_from, row.valid_to, on):
                continue
            if row.scheme in PARTNER_SCOPED_SCHEMES and row.partner_id == ANY_PARTNER and partner_id:
                # An unscoped vendor part number still counts, but a scoped row for this partner wins.
                if any(r.scheme == row.scheme and r.value == row.value and r.partner_id == partner_id for r in rows):
                    continue
            by_item.setdefault(row.item_id, []).append(f"{row.scheme}:{row.value}")
            result.matched.append((row.scheme, row.value))
            if row.scheme == ItemIdScheme.GTIN and row.uom:
                result.uom_hint = row.uom
        result.conflicts = by_item
        if len(by_item) == 1:
            result.item_id = next(iter(by_item))
        return result

    def base_uom(self, item_id: str) -> str | None:
        with self.db.session() as session:
            item = session.get(XrefItem, item_id)
            return item.base_uom if item else None

    # units -------------------------------------------------------
    def canonical_uom(self, partner_id: str | None, code: str) -> str | None:
        """Partner crosswalk first, then rows for any partner, then the canonical units."""
        code = code.strip().upper()
        with self.db.session() as session:
            rows = session.scalars(
                select(XrefUom).where(XrefUom.partner_code == code, XrefUom.partner_id.in_({ANY_PARTNER, partner_id or ANY_PARTNER}))
            ).all()
        for wanted in (partner_id, ANY_PARTNER):
            for row in rows:
                if wanted is not None and row.partner_id == wanted:
                    return row.canonical_code
        return code if code in UNITS else None

    def factor(self, item_id: str, uom: str, partner_id: str | None = None, on: date | None = None) -> Decimal:
        """Base units in one ``uom`` of ``item_id`` (vendor-specific rows first, then general);
        raises ``ConversionMissing`` naming what is missing."""
        with self.db.session() as session:
            base = session.get(XrefItem, item_id)
            if base is None:
                raise ConversionMissing(f"item {item_id!r} has no base unit in the crosswalk")
            rows = session.scalars(select(XrefConversion).where(XrefConversion.item_id == item_id)).all()
        return self._factor(base.base_uom, rows, uom.upper(), partner_id, on, 0, item_id)

    def _factor(self, base_uom: str, rows, uom: str, partner_id, on, depth: int, item_id: str) -> Decimal:
        if uom == base_uom:
            return Decimal(1)
        if depth > self.MAX_CHAIN:
            raise ConversionMissing(f"item {item_id!r}: conversion chain for {uom} is longer than {self.MAX_CHAIN} (a cycle?)")
        candidates = [r for r in rows if r.uom == uom and _valid(r.valid_from, r.valid_to, on)]
        scoped = [r for r in candidates if partner_id and r.partner_id == partner_id]
        general = [r for r in candidates if r.partner_id == ANY_PARTNER]
        for row in sorted(scoped or general, key=lambda r: r.valid_from or date.min, reverse=True):
            if row.factor_to_base and row.factor_to_base > 0:
                return Decimal(row.factor_to_base).normalize()
            if row.contains_uom and row.contains_qty:
                inner = self._factor(base_uom, rows, row.contains_uom, partner_id, on, depth + 1, item_id)
                return (Decimal(row.contains_qty) * inner).normalize()
        who = f" for partner {partner_id!r} or any partner" if partner_id else ""
        when = f" valid on {on}" if on else ""
        raise ConversionMissing(f"item {item_id!r}: no conversion from {uom} to base unit {base_uom}{who}{when}")

    def to_base(self, item_id: str, qty: Decimal, uom: str, partner_id: str | None = None, on: date | None = None) -> tuple[Decimal, str]:
        base = self.base_uom(item_id)
        if base is None:
            raise ConversionMissing(f"item {item_id!r} has no base unit in the crosswalk")
        return qty * self.factor(item_id, uom, partner_id, on), base

    def convert_price(self, item_id: str, price: Decimal, from_uom: str, to_uom: str, partner_id: str | None = None, on: date | None = None) -> Decimal:
        """A price per ``from_uom`` as a price per ``to_uom`` (inverse of quantities)."""
        return price / self.factor(item_id, from_uom, partner_id, on) * self.factor(item_id, to_uom, partner_id, on)

    # locations ---------------------------------------------------
    def resolve_location(self, identifiers: Iterable[tuple[str, str]], partner_id: str | None) -> str | None:
        """The location named by any (scheme, value); partner-specific account numbers first."""
        pairs = [(str(s), str(v)) for s, v in identifiers]
        if not pairs:
            return None
        with self.db.session() as session:
            rows = session.scalars(
                select(XrefLocation).where(
                    XrefLocation.value.in_({v for _, v in pairs}),
                    XrefLocation.partner_id.in_({ANY_PARTNER, partner_id or ANY_PARTNER}),
                )
            ).all()
        hits = [r for r in rows if (r.scheme, r.value) in pairs]
        hits.sort(key=lambda r: r.partner_id == ANY_PARTNER)  # partner-specific rows first
        return hits[0].location_id if hits else None

    # listing -----------------------------------------------------
    def rows(self, kind: str) -> list[dict]:
        table = {"items": XrefItem, "item_identifiers": XrefItemIdentifier, "uom_crosswalk": XrefUom, "conversions": XrefConversion, "locations": XrefLocation}[kind]
        with self.db.session() as session:
            result = []
            for row in session.scalars(select(table)).all():
                result.append({c.name: getattr(row, c.name) for c in table.__table__.columns if c.name != "id"})
            return result
