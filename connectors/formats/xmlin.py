"""The ``xml`` parser: untrusted XML read safely, mapped to canonical-shaped dicts by a
declarative XPath field map (like the csv column map of ``hub.steps.flatfile``).

    - parse:
        xml:
          namespaces: {o: "urn:example:orders"}
          record: /o:Orders/o:Order        # one dict per match; omit for one dict of the root
          fields:
            po_number:  {path: "o:Number"}
            order_date: {path: "@date", type: date}
            po_type:    {value: STANDARD}   # a constant
            ship_to:                        # a nested object
              object: "o:ShipTo"
              fields: {name: {path: "o:Name"}}
            lines:                          # a nested list: its own record path and fields
              list: "o:Line"
              fields:
                line_number: {path: "@no"}
                qty:         {path: "o:Qty", type: decimal}

Safety: lxml with ``resolve_entities=False, no_network=True, load_dtd=False,
huge_tree=False``; a DOCTYPE that declares entities is refused outright (no billion laughs,
no XXE), external DTDs are never fetched. Every bad value is reported with its line and
field path, all at once (``line 12, field 'lines[2].qty' (o:Qty): 'ten' is not a number``).
"""

from __future__ import annotations

import io
from typing import Any, Literal

from lxml import etree
from pydantic import Field, model_validator

from hub.exchange import Exchange
from hub.registry import StepError, StrictModel, parser
from connectors.formats.errors import SKIP, Errors, field_value
from hub.steps.flatfile import TypedValue, convert


def safe_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=False, remove_blank_text=False)


def read_xml(raw: bytes) -> etree._ElementTree:
    """Parse untrusted bytes; StepError naming line and column, or the refused DOCTYPE."""
    try:
        tree = etree.ElementTree(etree.fromstring(raw, safe_parser()))
    except etree.XMLSyntaxError as exc:
        line, column = exc.position if exc.position else (exc.lineno or 1, 0)
        raise StepError(f"xml: {exc.msg}", location=f"line {line}, column {column}", code="bad_xml") from None
    dtd = tree.docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):
        names = ", ".join(e.name for e in dtd.iterentities())
        raise StepError(f"xml: a DOCTYPE declaring entities ({names}) is refused (entity expansion and "
                        "external entities are never processed)", location="line 1", code="xml_entities")
    return tree


def root_name(raw: bytes) -> str | None:
    """The root element's local name, read with the same protections (for routing keys)."""
    context = etree.iterparse(io.BytesIO(raw), events=("start",), resolve_entities=False, no_network=True,
                              load_dtd=False, huge_tree=False)
    try:
        for _, element in context:
            return etree.QName(element).localname
    except etree.XMLSyntaxError:
        return None
    return None


class XmlField(TypedValue):
    path: str | None = Field(None, description="XPath relative to the record: an element, @attribute or text()")
    value: str | None = Field(None, description="A constant instead of a path (po_type: STANDARD)")

    @model_validator(mode="after")
    def _path_or_value(self) -> XmlField:
        if (self.path is None) == (self.value is None):
            raise ValueError("give exactly one of path or value")
        return self


class XmlList(StrictModel):
    list: str = Field(description="XPath, relative to the record, of the list's entries")
    fields: dict[str, XmlField | XmlList | XmlObject] = Field(min_length=1)


class XmlObject(StrictModel):
    object: str = Field(".", description="XPath of the element the nested fields are relative to")
    fields: dict[str, XmlField | XmlList | XmlObject] = Field(min_length=1)
    required: bool = Field(True, description="false: null when the element is absent")


class XmlOptions(StrictModel):
    namespaces: dict[str, str] = Field(default_factory=dict, description="prefix → namespace URI for the paths")
    record: str | None = Field(None, description="XPath of the records; omit to map the root element once")
    fields: dict[str, XmlField | XmlList | XmlObject] = Field(min_length=1)
    lines_as: Literal["_line", "meta.source_ref", "none"] = Field(
        "_line", description="Where each record's source line goes: a _line key (like csv rows), meta.source_ref "
        "of a record that is a canonical document (validate: reports it), or nowhere")

    @model_validator(mode="after")
    def _paths_compile(self) -> XmlOptions:
        paths = [self.record] if self.record else []
        paths += list(_paths(self.fields))
        for path in paths:
            try:
                etree.XPath(path, namespaces=self.namespaces)
            except etree.XPathSyntaxError as exc:
                raise ValueError(f"bad XPath {path!r}: {exc}") from None
        return self


XmlList.model_rebuild()
XmlObject.model_rebuild()
XmlOptions.model_rebuild()

Spec = XmlField | XmlList | XmlObject


def _paths(fields: dict[str, Spec]):
    for spec in fields.values():
        if isinstance(spec, XmlField):
            if spec.path is not None:
                yield spec.path
        else:
            yield spec.list if isinstance(spec, XmlList) else spec.object
            yield from _paths(spec.fields)


def _text(node: Any) -> str:
    if isinstance(node, etree._Element):
        return "".join(node.itertext())
    return str(node)


def _value(element: etree._Element, name: str, spec: XmlField, ns: dict[str, str], errors: Errors) -> Any:
    where = f"line {element.sourceline}, field '{name}' ({spec.path or 'value'})"
    if spec.path is None:
        cell: str | None = spec.value
    else:
        found = element.xpath(spec.path, namespaces=ns)
        if isinstance(found, list):
            if len(found) > 1:
                errors.add(f"{where}: {len(found)} nodes match; the path must select one")
                return None
            cell = _text(found[0]) if found else None
        else:  # a number, string or boolean from an XPath function
            cell = _text(found)
    if cell is not None and spec.strip:
        cell = cell.strip()
    value = field_value(cell, spec, where, errors, convert)
    return None if value is SKIP else value


def _nested(element: etree._Element, label: str, spec: XmlObject, ns: dict[str, str], errors: Errors) -> Any:
    found = [e for e in element.xpath(spec.object, namespaces=ns) if isinstance(e, etree._Element)]
    if len(found) == 1:
        record = _record(found[0], spec.fields, ns, errors, f"{label}.")
        record.pop("_line")
        return record
    if found or spec.required:
        what = f"{len(found)} elements match" if found else "no element matches"
        errors.add(f"line {element.sourceline}, field '{label}' ({spec.object}): {what}; the path must select one")
    return None


def _record(element: etree._Element, fields: dict[str, Spec], ns: dict[str, str], errors: Errors,
            prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"_line": element.sourceline}
    for name, spec in fields.items():
        label = f"{prefix}{name}"
        if isinstance(spec, XmlField):
            out[name] = _value(element, label, spec, ns, errors)
        elif isinstance(spec, XmlObject):
            out[name] = _nested(element, label, spec, ns, errors)
        else:
            out[name] = [_record(entry, spec.fields, ns, errors, f"{label}[{i}].")
                         for i, entry in enumerate(element.xpath(spec.list, namespaces=ns))
                         if isinstance(entry, etree._Element)]
    return out


@parser("xml", config=XmlOptions)
def parse_xml(raw: bytes, options: XmlOptions, ex: Exchange) -> dict[str, Any] | list[dict[str, Any]]:
    """XML read safely (no entities, no network) and mapped by a declarative XPath field map."""
    root = read_xml(raw).getroot()
    errors = Errors("xml", "bad_xml_value")
    if options.record is None:
        result: Any = _record(root, options.fields, options.namespaces, errors)
    else:
        records = [e for e in root.xpath(options.record, namespaces=options.namespaces) if isinstance(e, etree._Element)]
        result = [_record(e, options.fields, options.namespaces, errors) for e in records]
    errors.raise_if_any()
    if options.lines_as != "_line":
        for record in result if isinstance(result, list) else [result]:
            _move_lines(record, options.lines_as == "meta.source_ref")
    return result


def _move_lines(record: dict[str, Any], to_meta: bool) -> None:
    """Drop ``_line`` keys (canonical models refuse unknown keys); keep the record's own line
    in ``meta.source_ref`` when asked."""
    line = record.pop("_line", None)
    if to_meta and line is not None:
        record["meta"] = {"source_ref": f"line {line}"}
    for value in record.values():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, dict):
                _move_lines(item, False)
