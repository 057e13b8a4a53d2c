"""The ``csv`` parser: a declarative column map instead of a script per file.

    - parse:
        csv:
          delimiter: ","
          columns:
            facility:    {column: Facility}
            counted_qty: {column: Counted Qty, type: decimal}
            expiry:      {column: Expiry, type: date, format: "%Y-%m-%d", required: false}
            uom:         {column: UOM, default: EA}

The body becomes a list of rows (dicts keyed by the map's names, each with ``_line``: its
line in the file). Every bad cell is reported with its line and column; all of them at once.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import Field, model_validator

from hub.exchange import Exchange
from hub.registry import StepError, StrictModel, parser
from hub.steps.parse import decode

MAX_REPORTED = 20

CellType = Literal["string", "decimal", "integer", "date", "datetime", "boolean"]


class TypedValue(StrictModel):
    """How a text value becomes a typed one; shared by csv columns, XML fields and fixed-width
    fields so every flat format converts (and reports) the same way (see ``convert``)."""

    type: CellType = "string"
    format: str | None = Field(None, description="strptime format for date/datetime; default ISO 8601")
    required: bool = True
    default: str | None = None
    strip: bool = True

    @model_validator(mode="after")
    def _format_fits_type(self) -> TypedValue:
        if self.format and self.type not in ("date", "datetime"):
            raise ValueError("format applies to date and datetime values only")
        return self


class Column(TypedValue):
    column: str | None = Field(None, description="Header name (when header: true)")
    index: int | None = Field(None, ge=0, description="0-based position (when header: false)")

    @model_validator(mode="after")
    def _where(self) -> Column:
        if (self.column is None) == (self.index is None):
            raise ValueError("give exactly one of column (header name) or index (position)")
        return self


class CsvOptions(StrictModel):
    delimiter: str = Field(",", min_length=1, max_length=1)
    quotechar: str = Field('"', min_length=1, max_length=1)
    encoding: str = "utf-8-sig"
    header: bool = True
    skip_blank_lines: bool = True
    max_rows: int = Field(1_000_000, ge=1)
    columns: dict[str, Column] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> CsvOptions:
        for name, col in self.columns.items():
            if name.startswith("_"):
                raise ValueError(f"column name {name!r} must not start with '_'")
            if not self.header and col.column is not None:
                raise ValueError(f"{name}: header is false, so map columns by index")
        return self


class _Errors:
    def __init__(self) -> None:
        self.items: list[str] = []
        self.count = 0

    def add(self, msg: str) -> None:
        self.count += 1
        if len(self.items) < MAX_REPORTED:
            self.items.append(msg)

    def raise_if_any(self) -> None:
        if self.count:
            more = f" (and {self.count - len(self.items)} more)" if self.count > len(self.items) else ""
            head = "1 error" if self.count == 1 else f"{self.count} errors"
            raise StepError(f"csv: {head}: " + "; ".join(self.items) + more, code="bad_csv")


@parser("csv", config=CsvOptions)
def parse_csv(raw: bytes, options: CsvOptions, ex: Exchange) -> list[dict[str, Any]]:
    """Delimited text mapped by a declarative column map."""
    text = decode(raw, options.encoding)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=options.delimiter, quotechar=options.quotechar)
    errors = _Errors()
    positions: dict[str, int] = {}
    header_width = 0
    rows: list[dict[str, Any]] = []
    try:
        for record in reader:
            line = reader.line_num
            if options.header and not positions:
                positions = _header_positions(record, options, line)
                header_width = len(record)
                continue
            if options.skip_blank_lines and not any(cell.strip() for cell in record):
                continue
            if header_width and len(record) != header_width:
                # Usually an unquoted delimiter inside a value: every later column is shifted.
                errors.add(f"line {line}: {len(record)} fields, but the header has {header_width}")
                continue
            if len(rows) >= options.max_rows:
                raise StepError(f"csv: more than {options.max_rows} rows", location=f"line {line}", code="too_many_rows")
            rows.append(_row(record, line, options, positions, errors))
    except csv.Error as exc:
        raise StepError(f"csv: {exc}", location=f"line {reader.line_num}", code="bad_csv") from None
    if options.header and not positions:
        raise StepError("csv: the file is empty (no header line)", location="line 1", code="bad_csv")
    errors.raise_if_any()
    return rows


def _header_positions(record: list[str], options: CsvOptions, line: int) -> dict[str, int]:
    found = {name.strip(): i for i, name in enumerate(record)}
    positions, missing = {}, []
    for name, col in options.columns.items():
        if col.column is None:
            positions[name] = col.index  # type: ignore[assignment]
        elif col.column in found:
            positions[name] = found[col.column]
        elif col.required and col.default is None:
            missing.append(col.column)
    if missing:
        listed = ", ".join(repr(m) for m in missing)
        raise StepError(f"csv: header lacks column(s) {listed} (found: {', '.join(repr(f) for f in found)})",
                        location=f"line {line}", code="missing_column")
    return positions


def _row(record: list[str], line: int, options: CsvOptions, positions: dict[str, int], errors: _Errors) -> dict[str, Any]:
    row: dict[str, Any] = {"_line": line}
    for name, col in options.columns.items():
        pos = positions.get(name, col.index)
        label = col.column if col.column is not None else f"#{col.index}"
        cell = record[pos] if pos is not None and pos < len(record) else None
        if cell is not None and col.strip:
            cell = cell.strip()
        if not cell:
            if col.default is not None:
                cell = col.default
            elif col.required:
                errors.add(f"line {line}, column {label!r}: value is missing")
                continue
            else:
                row[name] = None
                continue
        try:
            row[name] = convert(cell, col)
        except ValueError as exc:
            errors.add(f"line {line}, column {label!r}: {exc}")
    return row


def convert(cell: str, col: TypedValue) -> Any:
    match col.type:
        case "string":
            return cell
        case "decimal":
            try:
                # Strict on purpose: "1,5" may mean 1.5 or 15 — a guess would corrupt quantities.
                value = Decimal(cell)
            except InvalidOperation:
                raise ValueError(f"{cell!r} is not a number") from None
            if not value.is_finite():
                raise ValueError(f"{cell!r} is not a finite number")
            return value
        case "integer":
            try:
                return int(cell)
            except ValueError:
                raise ValueError(f"{cell!r} is not a whole number") from None
        case "date":
            try:
                return datetime.strptime(cell, col.format).date() if col.format else date.fromisoformat(cell)
            except ValueError:
                raise ValueError(f"{cell!r} is not a date ({col.format or 'YYYY-MM-DD'})") from None
        case "datetime":
            try:
                value = datetime.strptime(cell, col.format) if col.format else datetime.fromisoformat(cell)
            except ValueError:
                raise ValueError(f"{cell!r} is not a date-time ({col.format or 'ISO 8601'})") from None
            if value.tzinfo is None:
                raise ValueError(f"{cell!r} has no time zone")
            return value
        case "boolean":
            lowered = cell.lower()
            if lowered in ("true", "yes", "y", "1"):
                return True
            if lowered in ("false", "no", "n", "0"):
                return False
            raise ValueError(f"{cell!r} is not a yes/no value")
    raise ValueError(f"unknown type {col.type}")
