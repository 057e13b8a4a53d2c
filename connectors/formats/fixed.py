"""Fixed-width records, declared in YAML: ``parse: fixed`` and ``render: fixed``.

    layout:                           # the same mapping for parsing and rendering
      encoding: latin-1
      fields:
        item:    {start: 1,  length: 10}                          # string, left-aligned, space-padded
        qty:     {start: 11, length: 8, type: decimal, decimals: 2}  # "00001250" = 12.50, right, 0-padded
        expiry:  {start: 19, length: 8, type: date, required: false} # YYYYMMDD unless format: is given

Several record kinds in one file (header/detail/trailer) are told apart by a tag field:

      tag: {start: 1, length: 1}
      records:
        header: {match: H, fields: {...}}
        detail: {match: D, fields: {...}}

Positions are 1-based columns as in partners' specs. Parsing gives a list of dicts (``_line``
and, with ``records``, ``_record``); every bad value is reported with its line, field and
columns, all at once. Rendering takes a document or a list (a field's ``path`` reaches into
nested data, ``body.location.location_id`` style) and refuses a value that does not fit
instead of truncating it.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from connectors.formats.errors import SKIP, Errors, field_value
from connectors.render import renderer, rendered
from hub.exchange import Exchange
from hub.paths import resolve, split_path
from hub.payloads import RenderedDocument
from hub.registry import StepError, StrictModel, parser
from hub.steps.flatfile import convert
from hub.steps.parse import decode

FixedType = Literal["string", "integer", "decimal", "date", "datetime", "boolean"]
NUMERIC = ("integer", "decimal")
DEFAULT_FORMATS = {"date": "%Y%m%d", "datetime": "%Y%m%d%H%M%S%z"}


class FixedField(StrictModel):
    start: int = Field(ge=1, description="First column, 1-based")
    length: int = Field(ge=1, le=10_000)
    type: FixedType = "string"
    format: str | None = Field(None, description="strftime/strptime format; dates default to %Y%m%d")
    decimals: int = Field(0, ge=0, le=18, description="Implied decimal places (no decimal point in the file)")
    align: Literal["left", "right"] | None = Field(None, description="Default: left for text, right for numbers")
    pad: str | None = Field(None, min_length=1, max_length=1, description="Default: space; '0' for numbers")
    required: bool = True
    default: str | None = None
    path: str | None = Field(None, description="render: dotted path into the document; default the field name")

    @model_validator(mode="after")
    def _consistent(self) -> FixedField:
        if self.decimals and self.type != "decimal":
            raise ValueError("decimals applies to decimal fields only")
        if self.format and self.type not in ("date", "datetime"):
            raise ValueError("format applies to date and datetime fields only")
        if self.path:
            split_path(self.path)
        return self

    @property
    def end(self) -> int:
        return self.start + self.length - 1

    @property
    def columns(self) -> str:
        return f"columns {self.start}-{self.end}"

    @property
    def alignment(self) -> str:
        return self.align or ("right" if self.type in NUMERIC else "left")

    @property
    def padding(self) -> str:
        return self.pad or ("0" if self.type in NUMERIC and self.alignment == "right" else " ")


def _check_overlaps(fields: dict[str, FixedField], where: str) -> None:
    spans = sorted((f.start, f.end, name) for name, f in fields.items())
    for (_, end_a, a), (start_b, _, b) in zip(spans, spans[1:]):
        if start_b <= end_a:
            raise ValueError(f"{where}fields {a!r} and {b!r} overlap (column {start_b})")


class FixedRecord(StrictModel):
    match: str = Field(min_length=1, description="Value of the tag columns that selects this record kind")
    fields: dict[str, FixedField] = Field(min_length=1)


class TagField(StrictModel):
    start: int = Field(ge=1)
    length: int = Field(ge=1, le=100)


class FixedLayout(StrictModel):
    encoding: str = "utf-8"
    newline: Literal["\n", "\r\n"] = Field("\n", description="Record separator when rendering")
    record_length: int | None = Field(None, ge=1, description="Every record has exactly this many characters")
    skip_lines: int = Field(0, ge=0, description="Lines to ignore at the top (a header)")
    fields: dict[str, FixedField] | None = None
    tag: TagField | None = None
    records: dict[str, FixedRecord] | None = None

    @model_validator(mode="after")
    def _one_shape(self) -> FixedLayout:
        if (self.fields is None) == (self.records is None):
            raise ValueError("give either fields (one record kind) or tag + records (several kinds)")
        if self.records is not None and self.tag is None:
            raise ValueError("records need a tag (the columns that tell them apart)")
        for name, kind in (self.records or {"": FixedRecord(match="-", fields=self.fields or {})}).items():
            _check_overlaps(kind.fields, f"record {name!r}: " if name else "")
            longest = max(f.end for f in kind.fields.values())
            if self.record_length is not None and longest > self.record_length:
                raise ValueError(f"{'record ' + repr(name) + ': ' if name else ''}a field ends at column "
                                 f"{longest}, beyond record_length {self.record_length}")
        if self.tag is not None and self.records is not None:
            for name, kind in self.records.items():
                if len(kind.match) != self.tag.length:
                    raise ValueError(f"record {name!r}: match {kind.match!r} must be {self.tag.length} characters")
        return self

    def kind_of(self, line: str) -> tuple[str | None, dict[str, FixedField]] | None:
        if self.records is None:
            return None, self.fields or {}
        tag = self.tag
        value = line[tag.start - 1:tag.start - 1 + tag.length]  # type: ignore[union-attr]
        for name, kind in self.records.items():
            if kind.match == value:
                return name, kind.fields
        return None


# -- parsing ---------------------------------------------------------------------------------------

def _unpad(cell: str, spec: FixedField) -> str:
    if spec.alignment == "left":
        return cell.rstrip(spec.padding).rstrip()
    stripped = cell.strip()
    if spec.type in NUMERIC and spec.padding == "0":
        sign = "-" if stripped.startswith("-") else ""
        digits = stripped.lstrip("+-").lstrip("0")
        return sign + (digits or "0") if stripped else ""
    return stripped.lstrip(spec.padding)


def parse_value(cell: str, spec: FixedField) -> Any:
    if spec.type in ("string", "integer", "decimal"):
        value = convert(cell, spec)  # type: ignore[arg-type] - the csv parser's rules; convert reads .type
        if spec.type == "decimal" and spec.decimals and "." not in cell:
            return value.scaleb(-spec.decimals)
        return value
    if spec.type == "boolean":
        if cell.upper() in ("Y", "1", "T", "TRUE", "YES"):
            return True
        if cell.upper() in ("N", "0", "F", "FALSE", "NO"):
            return False
        raise ValueError(f"{cell!r} is not a yes/no value")
    fmt = spec.format or DEFAULT_FORMATS[spec.type]
    try:
        parsed = datetime.strptime(cell, fmt)
    except ValueError:
        raise ValueError(f"{cell!r} is not a {spec.type} ({fmt})") from None
    return parsed.date() if spec.type == "date" else parsed


def _parse_record(line: str, number: int, kind: str | None, fields: dict[str, FixedField], errors: Errors) -> dict:
    row: dict[str, Any] = {"_line": number}
    if kind is not None:
        row["_record"] = kind
    for name, spec in fields.items():
        where = f"line {number}, field '{name}' ({spec.columns})"
        if len(line) < spec.end and line[spec.start - 1:].strip():
            errors.add(f"{where}: the record is only {len(line)} characters long")
            continue
        cell = _unpad(line[spec.start - 1:spec.end], spec)
        value = field_value(cell, spec, where, errors, parse_value)
        if value is not SKIP:
            row[name] = value
    return row


@parser("fixed", config=FixedLayout)
def parse_fixed(raw: bytes, layout: FixedLayout, ex: Exchange) -> list[dict[str, Any]]:
    """Fixed-width records mapped by a declarative layout (columns, types, padding)."""
    text = decode(raw, layout.encoding)
    errors = Errors("fixed", "bad_fixed")
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if number <= layout.skip_lines or not line.strip():
            continue
        if layout.record_length is not None and len(line) != layout.record_length:
            errors.add(f"line {number}: the record is {len(line)} characters, the layout says {layout.record_length}")
            continue
        kind = layout.kind_of(line)
        if kind is None:
            tag = layout.tag
            value = line[tag.start - 1:tag.start - 1 + tag.length]  # type: ignore[union-attr]
            errors.add(f"line {number}: no record kind has tag {value!r} (columns {tag.start}-"  # type: ignore[union-attr]
                       f"{tag.start + tag.length - 1})")  # type: ignore[union-attr]
            continue
        rows.append(_parse_record(line, number, kind[0], kind[1], errors))
    errors.raise_if_any()
    return rows


# -- rendering -------------------------------------------------------------------------------------

def format_value(value: Any, spec: FixedField) -> str:
    """One value as the field's text, before padding."""
    if spec.type in ("date", "datetime"):
        if isinstance(value, str):
            value = date.fromisoformat(value) if spec.type == "date" else datetime.fromisoformat(value)
        return value.strftime(spec.format or DEFAULT_FORMATS[spec.type])
    if spec.type == "decimal":
        number = Decimal(str(value))
        if spec.decimals:
            scaled = number.scaleb(spec.decimals)
            if scaled != scaled.to_integral_value():
                raise ValueError(f"{value} has more than {spec.decimals} decimal places")
            return str(int(scaled))
        return format(number, "f")
    if spec.type == "integer":
        if isinstance(value, bool) or (isinstance(value, (float, Decimal)) and value != int(value)):
            raise ValueError(f"{value!r} is not a whole number")
        return str(int(value))
    if spec.type == "boolean":
        return "Y" if value else "N"
    return str(value)


def _pad(text: str, spec: FixedField) -> str:
    if len(text) > spec.length:
        raise ValueError(f"{text!r} needs {len(text)} characters, the field has {spec.length}")
    if spec.alignment == "left":
        return text.ljust(spec.length, spec.padding)
    if text.startswith("-") and spec.padding == "0":
        return "-" + text[1:].rjust(spec.length - 1, "0")
    return text.rjust(spec.length, spec.padding)


def _render_record(doc: Any, number: int, fields: dict[str, FixedField], length: int | None,
                   errors: Errors) -> str:
    width = length or max(f.end for f in fields.values())
    line = [" "] * width
    for name, spec in fields.items():
        where = f"record {number}, field '{name}' ({spec.columns})"
        value = resolve(doc, spec.path) if spec.path else (doc.get(name) if isinstance(doc, dict) else None)
        if value is None and spec.default is not None:
            value = spec.default
        try:
            if value is None:
                if spec.required:
                    raise ValueError("value is missing")
                text = " " * spec.length
            else:
                text = _pad(format_value(value, spec), spec)
        except (ValueError, TypeError, InvalidOperation) as exc:
            errors.add(f"{where}: {exc}")
            continue
        line[spec.start - 1:spec.end] = text
    return "".join(line)


def render_fixed(body: Any, layout: FixedLayout) -> bytes:
    """Documents → fixed-width records (one per document; ``_record`` picks the kind)."""
    docs = body if isinstance(body, list) else [body]
    docs = [d.model_dump(mode="json", exclude_none=True) if isinstance(d, BaseModel) else d for d in docs]
    errors = Errors("fixed", "render_error")
    lines = []
    for number, doc in enumerate(docs, start=1):
        if layout.records is not None:
            kind = doc.get("_record") if isinstance(doc, dict) else None
            if kind not in layout.records:
                errors.add(f"record {number}: '_record' must name one of {', '.join(layout.records)}, got {kind!r}")
                continue
            fields = layout.records[kind].fields
            line = _render_record(doc, number, fields, layout.record_length, errors)
            tag = layout.tag
            line = line[:tag.start - 1] + layout.records[kind].match + line[tag.start - 1 + tag.length:]  # type: ignore[union-attr]
        else:
            line = _render_record(doc, number, layout.fields or {}, layout.record_length, errors)
        lines.append(line)
    errors.raise_if_any()
    text = layout.newline.join(lines) + layout.newline if lines else ""
    try:
        return text.encode(layout.encoding)
    except UnicodeEncodeError as exc:
        raise StepError(f"fixed: a value cannot be written in {layout.encoding}: {exc.reason}",
                        code="render_error") from None


class FixedRenderOptions(StrictModel):
    layout: FixedLayout


@renderer("fixed", config=FixedRenderOptions)
def render_fixed_step(body: Any, options: FixedRenderOptions, ex: Exchange, env: Any) -> RenderedDocument:
    """Documents → fixed-width records by a declarative layout."""
    data = render_fixed(body, options.layout)
    return rendered(data, f"text/plain; charset={options.layout.encoding}", body)
