"""Pieces shared by document lines: the quantity-in-base-unit fields and item references.

Every line keeps its quantity twice (domain.md 1.5 rule 1): as sent (qty + partner UoM) and
normalised (``base_qty`` in the item's ``base_uom``), the latter filled by the ``uom_convert``
step. ``uom`` may be None where EANCOM leaves 6411 empty: the quantity then counts units of
the GTIN on the line, and ``uom_convert`` takes the unit from that GTIN's packaging level.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import ValidationInfo, field_validator

from hub.canonical.base import CanonicalModel


class ConvertibleLine(CanonicalModel):
    """A line with an item and a quantity. Subclasses name their fields in class variables so
    the crosswalk and uom_convert steps can treat every line alike."""

    QTY_FIELD: ClassVar[str] = "qty"
    ITEM_IDS_FIELD: ClassVar[str] = "item_ids"


def check_lots_sum(lots: list, info: ValidationInfo, qty_field: str) -> list:
    """Σ lot qty must equal the line quantity when lots carry quantities (domain.md A.8)."""
    line_qty = info.data.get(qty_field)
    with_qty = [lot for lot in lots if lot.qty is not None]
    if not with_qty or line_qty is None:
        return lots
    if len(with_qty) != len(lots):
        missing = [i for i, lot in enumerate(lots) if lot.qty is None]
        raise ValueError(f"lots {missing} have no qty while other lots do: give every lot a qty or none")
    line_uom = info.data.get("uom")
    for i, lot in enumerate(lots):
        if lot.uom is not None and line_uom is not None and lot.uom != line_uom:
            raise ValueError(f"lot {i} qty is in {lot.uom}, the line in {line_uom}: lot quantities must use the line's unit")
    total = sum((lot.qty for lot in lots), start=0)
    if total != line_qty:
        raise ValueError(f"lot quantities add up to {total}, but {qty_field} is {line_qty}")
    return lots


def lots_validator(qty_field: str):
    """A pydantic field validator for a ``lots`` field checking Σ lot qty == ``qty_field``."""

    def _validate(cls, lots: list, info: ValidationInfo) -> list:
        return check_lots_sum(lots, info, qty_field)

    return field_validator("lots")(classmethod(_validate))
