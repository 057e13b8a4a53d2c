"""Canonical documents → XML, generically, for endpoints with ``format: xml``.

The XML mirrors the JSON payload exactly (same values: decimals as written, dates in ISO
8601, absent fields omitted): the root element is the document type (``<purchase_order>``),
each field an element, each list a wrapper element holding one ``<item>`` per entry (an empty
list or object is an empty element). A list of documents becomes ``<documents>``. Keys that are not XML names become
``<field name="...">``. Text is escaped by lxml; characters XML cannot carry are an error.
"""

from __future__ import annotations

import json
import re
from typing import Any

from lxml import etree
from pydantic import Field

from connectors.render import renderer, rendered
from hub.payloads import to_json_bytes
from hub.registry import StepError, StrictModel

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
CONTENT_TYPE = "application/xml"


def _child(parent: etree._Element, key: str) -> etree._Element:
    if _NAME.match(key) and not key.lower().startswith("xml"):
        return etree.SubElement(parent, key)
    element = etree.SubElement(parent, "field")
    element.set("name", key)
    return element


def _fill(element: etree._Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if item is not None:
                _fill(_child(element, str(key)), item)
    elif isinstance(value, list):
        for item in value:
            _fill(etree.SubElement(element, "item"), item)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    else:
        element.text = str(value)


def _root_name(document: Any) -> str:
    doc_type = document.get("document_type") if isinstance(document, dict) else None
    return doc_type if isinstance(doc_type, str) and _NAME.match(doc_type) else "document"


def to_xml_bytes(body: Any, root: str | None = None) -> bytes:
    """The body (canonical model, dict or list of them) as UTF-8 XML with a declaration."""
    data = json.loads(to_json_bytes(body))  # the JSON payload's values, so both formats agree
    if isinstance(data, list):
        top = etree.Element(root or "documents")
        for item in data:
            _fill(etree.SubElement(top, _root_name(item)), item)
    else:
        top = etree.Element(root or _root_name(data))
        _fill(top, data)
    return etree.tostring(top, xml_declaration=True, encoding="UTF-8", pretty_print=True)


class XmlRenderOptions(StrictModel):
    root: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$",
                             description="Root element; default the document type (documents for a list)")


@renderer("xml", config=XmlRenderOptions)
def render_xml_step(body: Any, options: XmlRenderOptions, ex, env) -> Any:
    """Canonical documents → XML mirroring the JSON payload (see module doc)."""
    try:
        data = to_xml_bytes(body, options.root)
    except ValueError as exc:  # a character XML 1.0 cannot carry
        raise StepError(f"xml: {exc}", code="render_error") from None
    return rendered(data, CONTENT_TYPE, body)
