"""Units of measure: canonical units, partner code crosswalks, item conversions and the
Decimal arithmetic that uses them (domain.md 1.5, A.4).

Quantities convert with ``factor_to_base`` (how many base units one unit holds): 3 CA with
CA = 100 EA is 300 EA. Prices convert inversely: 45.10 per BX with BX = 10 EA is 4.51 per EA.
Nothing is rounded here; callers round once, at the end, if a target needs it.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field, model_validator

from hub.canonical.base import CanonicalModel
from hub.canonical.codes import CodeTable
from hub.canonical.enums import ConversionSource, UomKind
from hub.canonical.types import Code, Dec, IsoDate, Text


class UnitOfMeasure(CanonicalModel):
    code: Code
    name: Text
    kind: UomKind
    x12_codes: list[Code] = Field(default_factory=list)
    edifact_codes: list[Code] = Field(default_factory=list)
    ucum: Code | None = None


class UomCrosswalk(CanonicalModel):
    """A partner's UoM code → canonical code (CS → CA)."""

    partner_id: Code
    partner_code: Code
    canonical_code: Code


class UomConversion(CanonicalModel):
    item_id: Code
    partner_id: Code | None = Field(None, description="Vendor-specific pack size; None applies to all")
    uom: Code
    factor_to_base: Dec = Field(gt=0)
    gtin: Code | None = None
    contains_uom: Code | None = None
    contains_qty: Dec | None = Field(None, gt=0)
    source: ConversionSource
    valid_from: IsoDate | None = None
    valid_to: IsoDate | None = None
    orderable: bool | None = None
    default_order_uom: bool | None = None

    @model_validator(mode="after")
    def _dates_in_order(self) -> UomConversion:
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise ValueError(f"valid_to {self.valid_to} is before valid_from {self.valid_from}")
        return self


def _unit(code: str, name: str, kind: UomKind, x12: list[str], edifact: list[str], ucum: str | None = None) -> UnitOfMeasure:
    return UnitOfMeasure(code=code, name=name, kind=kind, x12_codes=x12, edifact_codes=edifact, ucum=ucum)


C, P, M, V, L = UomKind.COUNT, UomKind.PACKAGE, UomKind.MASS, UomKind.VOLUME, UomKind.LENGTH
# Healthcare units of domain.md 1.5. X12 codes from element 355, EDIFACT from UN/ECE Rec 20/21
# (packages as Rec 21 codes with an X prefix). CS is deliberately absent: in X12 355 it is not
# "case", so partners who send CS for case need a UomCrosswalk row (CS → CA).
STANDARD_UNITS: tuple[UnitOfMeasure, ...] = (
    _unit("EA", "each", C, ["EA"], ["EA", "H87", "C62"]),
    _unit("UN", "unit", C, ["UN"], []),
    _unit("PC", "piece", C, ["PC"], ["XPP"]),
    _unit("PR", "pair", C, ["PR"], ["PR"]),
    _unit("DZ", "dozen", C, ["DZ"], ["DZN"]),
    _unit("ST", "set", P, ["ST"], ["SET"]),
    _unit("KT", "kit", P, ["KT"], ["KT", "XKI"]),
    _unit("BX", "box", P, ["BX"], ["XBX"]),
    _unit("CA", "case", P, ["CA"], ["XCS"]),
    _unit("PK", "package", P, ["PK"], ["XPK"]),
    _unit("BG", "bag", P, ["BG"], ["XBG"]),
    _unit("CT", "carton", P, ["CT"], ["XCT"]),
    _unit("RL", "roll", P, ["RL"], ["XRO"]),
    _unit("VI", "vial", P, ["VI"], ["XVI"]),
    _unit("AM", "ampoule", P, ["AM"], ["XAM"]),
    _unit("BO", "bottle", P, ["BO"], ["XBO"]),
    _unit("TU", "tube", P, ["TU"], ["XTU"]),
    _unit("PL", "pallet", P, ["PL"], ["XPX"]),
    _unit("ML", "millilitre", V, ["ML"], ["MLT"], "mL"),
    _unit("LT", "litre", V, ["LT"], ["LTR"], "L"),
    _unit("GR", "gram", M, ["GR", "GM"], ["GRM"], "g"),
    _unit("KG", "kilogram", M, ["KG"], ["KGM"], "kg"),
    _unit("MG", "milligram", M, ["ME"], ["MGM"], "mg"),
    _unit("LB", "pound", M, ["LB"], ["LBR"], "[lb_av]"),
    _unit("OZ", "ounce", M, ["OZ"], ["ONZ"], "[oz_av]"),
    _unit("IN", "inch", L, ["IN"], ["INH"], "[in_i]"),
    _unit("FT", "foot", L, ["FT"], ["FOT"], "[ft_i]"),
    _unit("CM", "centimetre", L, ["CM"], ["CMT"], "cm"),
    _unit("MR", "metre", L, ["MR"], ["MTR"], "m"),
)
UNITS: dict[str, UnitOfMeasure] = {unit.code: unit for unit in STANDARD_UNITS}

uom_from_x12 = CodeTable(
    "uom_x12", "X12 unit of measure (element 355)", {code: u.code for u in STANDARD_UNITS for code in u.x12_codes}
)
uom_from_edifact = CodeTable(
    "uom_edifact", "EDIFACT 6411 (UN/ECE Rec 20/21)", {code: u.code for u in STANDARD_UNITS for code in u.edifact_codes}
)


class ConversionError(ValueError):
    """A conversion factor is missing or unusable."""


def _factor(value: Decimal, what: str) -> Decimal:
    if value <= 0:
        raise ConversionError(f"{what} must be positive, got {value}")
    return value


def to_base(qty: Decimal, factor_to_base: Decimal) -> Decimal:
    """Quantity in the item's base unit."""
    return qty * _factor(factor_to_base, "factor_to_base")


def from_base(base_qty: Decimal, factor_to_base: Decimal) -> Decimal:
    """Quantity in the unit whose factor is given (inverse of ``to_base``)."""
    return base_qty / _factor(factor_to_base, "factor_to_base")


def convert_qty(qty: Decimal, from_factor: Decimal, to_factor: Decimal) -> Decimal:
    """qty in unit A (factor ``from_factor``) expressed in unit B (``to_factor``)."""
    return to_base(qty, from_factor) / _factor(to_factor, "target factor")


def convert_price(price: Decimal, from_factor: Decimal, to_factor: Decimal) -> Decimal:
    """A unit price per A as a price per B: prices convert inversely to quantities."""
    return price / _factor(from_factor, "source factor") * to_factor
