"""Scenarios: how a simulated supplier answers a purchase order, written as data.

Why data: every partner has habits — answers the 855 a day late, confirms a new price, ships
in eaches what was ordered in boxes, bills twice. An integration team writes them down as a
YAML file per habit and replays them against its routes; nothing here is code to change.

Each stage of the cycle derives from the one before, so a scenario only states what differs:
the acknowledgement echoes the PO, the ship notice ships what was acknowledged (a backordered
line does not ship, a substitute ships as the substitute), the dock receives what the ship
notice announced, and the invoice bills what was shipped at the acknowledged price. A stage
left out (``acknowledgement: null``) is never sent.

.. code-block:: yaml

    name: short-ship
    description: The ASN announces everything; the carton holds two boxes fewer.
    raises: [receipt_differs_from_asn, invoice_qty_exceeds_received]
    functional_ack: {after: 10m}                # 997/999/CONTRL; status: rejected → AK5 R / UCM 4
    acknowledgement: {after: 4h}                # 855 / ORDRSP
    ship_notice: {after: 1d, delivery_after: 1d}
    receipt: {after: 2d, lines: {"1": {qty_change: -2}}}   # what the dock scans (not the supplier's)
    invoice: {after: 3d}

``lines`` maps a PO line number (``"*"``: every line) to a change: ``status`` (acknowledgement
only: ACCEPTED, BACKORDERED, PRICE_CHANGED …), ``reason``, ``qty_change`` (added to the
quantity), ``price_change_pct``, ``unit`` + ``per_unit`` (answer in another unit: the quantity
times ``per_unit``, the price divided by it), ``substitute`` (identifiers of the item sent
instead), ``lot_expiry_days`` (ship notice only: days from the ship date to the lot's expiry;
negative is an expired lot). ``raises`` lists the business exceptions the hub must record for
the scenario (docs/business-exceptions.md); ``hub simulate order-to-invoice`` checks it.
Durations are ``30s``, ``10m``, ``4h`` or ``2d`` of business time (see ``schedule``).
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from hub.canonical.enums import AckLineStatus, AckType, ItemIdScheme
from hub.yamlfile import DataFileError, describe_errors, load_data

BUILT_IN = Path(__file__).parent / "scenarios"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def business_seconds(value: Any) -> float:
    """``30s``, ``10m``, ``4h``, ``2d`` (or a number of seconds) → seconds of business time."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return float(value)
    match = _DURATION.match(str(value))
    if match is None:
        raise ValueError(f"bad duration {value!r}: use 30s, 10m, 4h or 2d")
    return float(match.group(1)) * _SECONDS[match.group(2)]


BusinessTime = Annotated[float, BeforeValidator(business_seconds)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ItemRef(Strict):
    scheme: ItemIdScheme
    value: str = Field(min_length=1)


class LineChange(Strict):
    """What the supplier (or the dock) does differently with one PO line."""

    status: AckLineStatus | None = None
    reason: str | None = Field(None, description="R1-R8 / QVR reason sent with a rejection")
    qty_change: Decimal = Decimal(0)
    price_change_pct: Decimal = Decimal(0)
    unit: str | None = Field(None, min_length=2, max_length=3)
    per_unit: Decimal | None = Field(None, gt=0, description="How many `unit` make one ordered unit")
    substitute: list[ItemRef] = Field(default_factory=list)
    lot_expiry_days: int | None = None

    @model_validator(mode="after")
    def _unit_needs_factor(self) -> LineChange:
        if (self.unit is None) != (self.per_unit is None):
            raise ValueError("unit and per_unit go together (per_unit: how many `unit` make one ordered unit)")
        return self


class Stage(Strict):
    after: BusinessTime = Field(description="Business time after the PO reached the supplier")
    lines: dict[str, LineChange] = Field(default_factory=dict)

    def change(self, line_number: str) -> LineChange:
        return self.lines.get(line_number) or self.lines.get("*") or LineChange()


class FunctionalAck(Strict):
    after: BusinessTime = 600.0
    status: Literal["accepted", "rejected"] = "accepted"
    code: str = Field("5", pattern=r"^[0-9]{1,3}$", description="AK502 / IK502 code of an X12 rejection")
    contrl_code: str = Field("18", pattern=r"^[0-9]{1,3}$", description="UCM 0085 code of a CONTRL rejection "
                             "(18: unspecified error)")


class Acknowledgement(Stage):
    ack_type: AckType | None = Field(None, description="Default: ACCEPTED, or ACCEPTED_WITH_CHANGES when a line changes")

    @field_validator("lines")
    @classmethod
    def _no_lot(cls, lines: dict[str, LineChange]) -> dict[str, LineChange]:
        for number, change in lines.items():
            if change.lot_expiry_days is not None:
                raise ValueError(f"line {number}: lot_expiry_days belongs to the ship notice")
        return lines


class ShipNotice(Stage):
    delivery_after: BusinessTime = Field(86400.0, description="From shipping to the dock")
    lot_expiry_days: int = Field(540, description="Shelf life of the lots shipped, from the ship date")


class Receipt(Stage):
    """What the receiving clerk scans at the dock — the physical truth, not the supplier's word."""


class Invoice(Stage):
    copies: int = Field(1, ge=1, le=3, description="2: the same invoice number sent twice (a duplicate)")


class Scenario(Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    description: str
    raises: list[str] = Field(default_factory=list, description="Business exceptions the hub must record")
    functional_ack: FunctionalAck | None = Field(default_factory=FunctionalAck)
    acknowledgement: Acknowledgement | None = None
    ship_notice: ShipNotice | None = None
    receipt: Receipt | None = None
    invoice: Invoice | None = None

    @field_validator("raises")
    @classmethod
    def _known_kinds(cls, kinds: list[str]) -> list[str]:
        from hub.business_exceptions import KINDS

        unknown = [k for k in kinds if k not in KINDS]
        if unknown:
            raise ValueError(f"unknown business exception kind(s) {', '.join(unknown)} (docs/business-exceptions.md)")
        return kinds

    @model_validator(mode="after")
    def _stages_in_order(self) -> Scenario:
        ship = self.ship_notice
        if self.receipt is not None and ship is None:
            raise ValueError("receipt: nothing can be received without a ship notice")
        if self.receipt is not None and ship is not None and self.receipt.after < ship.after:
            raise ValueError("receipt.after: the dock cannot receive before the supplier ships")
        return self


class ScenarioError(ValueError):
    """A scenario that cannot be found or read; ``problems`` are ``file:line: field: reason``."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def read_scenario(path: Path) -> Scenario:
    try:
        data = load_data(path)
    except DataFileError as exc:
        raise ScenarioError(exc.problems) from None
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(describe_errors(path, data, exc)) from None
    if scenario.name != path.stem:
        raise ScenarioError([f"{path}:1: name: {scenario.name!r} must be the file's name ({path.stem!r})"])
    return scenario


def scenario_files(extra: Path | None = None) -> dict[str, Path]:
    """Scenario name → file: the built-in ones, then ``extra``'s (which win: a team may change one)."""
    folders = [BUILT_IN] + ([extra] if extra is not None else [])
    return {path.stem: path for folder in folders if folder.is_dir() for path in sorted(folder.glob("*.yaml"))}


def load_scenario(name: str, extra: Path | None = None) -> Scenario:
    files = scenario_files(extra)
    if name not in files:
        raise ScenarioError([f"unknown scenario {name!r}; known: {', '.join(sorted(files))}"])
    return read_scenario(files[name])
