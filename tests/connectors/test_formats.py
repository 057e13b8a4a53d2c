"""XML and fixed-width: safe XML parsing (no entities, no network: checked with a local HTTP
server the entities point at), the XPath field map, generic canonical → XML, fixed-width
layouts for parsing and rendering, and the ``render`` step."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pydantic import ValidationError
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from connectors.formats.fixed import FixedLayout, parse_fixed, render_fixed
from connectors.formats.xmlin import XmlOptions, parse_xml, root_name
from connectors.formats.xmlout import to_xml_bytes
from connectors.render import RenderStep
from hub.canonical import get_model
from hub.exchange import Exchange
from hub.payloads import RenderedDocument, render, to_json_bytes
from hub.registry import RouteEnv, StepError, load_plugins
from hub.steps.parse import ParseStep
from tests.conftest import ROOT

EXAMPLES = ROOT / "hub" / "canonical" / "examples"


def ex(body=b"") -> Exchange:
    return Exchange(message_id="m-1", body=body, format="xml", doctype="orders", sender="acme")


class Listener:
    """An HTTP server an entity points at: it must never be contacted."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                listener.hits.append(self.path)
                body = b"<!ENTITY leaked 'LEAKED'>" if self.path.endswith(".dtd") else b"LEAKED-SECRET"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.server.shutdown()
    server.server.server_close()


ORDERS = b"""<?xml version="1.0" encoding="UTF-8"?>
<o:Orders xmlns:o="urn:example:orders">
  <o:Order date="2026-11-20">
    <o:Number>PO-1001</o:Number>
    <o:Line no="1"><o:Item>ST-10022</o:Item><o:Qty>12.50</o:Qty></o:Line>
    <o:Line no="2"><o:Item>ST-10023</o:Item><o:Qty>3</o:Qty></o:Line>
  </o:Order>
  <o:Order date="2026-11-21">
    <o:Number>PO-1002</o:Number>
  </o:Order>
</o:Orders>
"""

ORDER_MAP = {"namespaces": {"o": "urn:example:orders"}, "record": "/o:Orders/o:Order", "fields": {
    "po_number": {"path": "o:Number"},
    "order_date": {"path": "@date", "type": "date"},
    "lines": {"list": "o:Line", "fields": {
        "line_number": {"path": "@no"},
        "item": {"path": "o:Item"},
        "qty": {"path": "o:Qty", "type": "decimal"},
    }},
}}


# -- XML in -------------------------------------------------------------------------------------

def test_xpath_field_map_gives_canonical_shaped_records() -> None:
    rows = parse_xml(ORDERS, XmlOptions.model_validate(ORDER_MAP), ex())
    assert [r["po_number"] for r in rows] == ["PO-1001", "PO-1002"]
    assert rows[0]["order_date"] == date(2026, 11, 20) and rows[0]["_line"] == 3
    assert [(ln["line_number"], ln["item"], ln["qty"]) for ln in rows[0]["lines"]] == [
        ("1", "ST-10022", Decimal("12.50")), ("2", "ST-10023", Decimal("3"))]
    assert rows[1]["lines"] == []


def test_every_bad_value_is_reported_with_line_and_field_path() -> None:
    bad = ORDERS.replace(b"<o:Qty>3</o:Qty>", b"<o:Qty>three</o:Qty>").replace(b'date="2026-11-21"', b'date="soon"')
    bad = bad.replace(b"<o:Number>PO-1002</o:Number>", b"")
    with pytest.raises(StepError) as err:
        parse_xml(bad, XmlOptions.model_validate(ORDER_MAP), ex())
    message = str(err.value)
    assert message.startswith("xml: 3 errors:")
    assert "line 6, field 'lines[1].qty' (o:Qty): 'three' is not a number" in message
    assert "line 8, field 'po_number' (o:Number): value is missing" in message
    assert "line 8, field 'order_date' (@date): 'soon' is not a date (YYYY-MM-DD)" in message


def test_a_path_matching_several_nodes_is_an_error() -> None:
    options = XmlOptions.model_validate({"namespaces": {"o": "urn:example:orders"}, "fields": {
        "number": {"path": "o:Order/o:Number"}}})
    with pytest.raises(StepError, match="2 nodes match; the path must select one"):
        parse_xml(ORDERS, options, ex())


def test_syntax_errors_name_line_and_column() -> None:
    with pytest.raises(StepError) as err:
        parse_xml(b"<a>\n<b></a>", XmlOptions.model_validate({"fields": {"x": {"path": "b"}}}), ex())
    assert err.value.code == "bad_xml" and err.value.location.startswith("line 2, column")


def test_bad_xpath_is_a_route_file_problem() -> None:
    load_plugins()
    with pytest.raises(ValueError, match="bad XPath 'o:Number\\['"):
        ParseStep.configure({"xml": {"fields": {"n": {"path": "o:Number["}}}})


def test_xxe_entities_are_refused_and_nothing_is_fetched(listener: Listener) -> None:
    options = XmlOptions.model_validate({"fields": {"v": {"path": "."}}})
    attacks = [
        f'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY xxe SYSTEM "{listener.url}/secret">]><a>&xxe;</a>',
        f'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY % p SYSTEM "{listener.url}/p.dtd"> %p;]><a>&leaked;</a>',
        '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY l0 "ha"><!ENTITY l1 "&l0;&l0;&l0;&l0;&l0;&l0;&l0;&l0;">'
        '<!ENTITY l2 "&l1;&l1;&l1;&l1;&l1;&l1;&l1;&l1;">]><a>&l2;</a>',
    ]
    for attack in attacks:
        with pytest.raises(StepError) as err:
            parse_xml(attack.encode(), options, ex())
        assert "LEAKED" not in str(err.value) and "haha" not in str(err.value)
    assert listener.hits == []  # no network access happened


def test_an_external_dtd_is_never_fetched(listener: Listener) -> None:
    doc = f'<?xml version="1.0"?><!DOCTYPE a SYSTEM "{listener.url}/evil.dtd"><a>plain</a>'.encode()
    assert parse_xml(doc, XmlOptions.model_validate({"fields": {"v": {"path": "."}}}), ex())["v"] == "plain"
    assert root_name(doc) == "a"
    assert listener.hits == []


def test_root_name_for_routing() -> None:
    assert root_name(ORDERS) == "Orders"
    assert root_name(b"not xml") is None


# -- XML out ------------------------------------------------------------------------------------

def _from_xml(element: etree._Element):
    children = list(element)
    if not children:
        return element.text or ""
    if all(c.tag == "item" for c in children):
        return [_from_xml(c) for c in children]
    return {c.get("name") if c.tag == "field" else c.tag: _from_xml(c) for c in children}


def _as_text(value):
    if value in ([], {}):
        return ""  # an empty list or object is an empty element
    if isinstance(value, dict):
        return {k: _as_text(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_as_text(v) for v in value]
    return "true" if value is True else "false" if value is False else str(value)


@pytest.mark.parametrize("name", sorted(p.stem for p in EXAMPLES.glob("*.json")))
def test_xml_payload_carries_exactly_the_json_payload(name: str) -> None:
    data = json.loads((EXAMPLES / f"{name}.json").read_text())
    document = get_model(data["document_type"]).model_validate(data)
    raw, content_type = render(document, "xml")
    assert content_type == "application/xml"
    root = etree.fromstring(raw)
    assert root.tag == data["document_type"]
    assert _from_xml(root) == _as_text(json.loads(to_json_bytes(document)))


def test_xml_rendering_of_lists_and_odd_keys() -> None:
    raw = to_xml_bytes([{"document_type": "x", "a b": 1, "flag": True}, {"n": None}])
    root = etree.fromstring(raw)
    assert root.tag == "documents" and [c.tag for c in root] == ["x", "document"]
    assert root[0].find("field").get("name") == "a b" and root[0].findtext("flag") == "true"
    with pytest.raises(ValueError):
        to_xml_bytes({"text": "bell \x07"})  # XML 1.0 cannot carry it


# -- fixed width --------------------------------------------------------------------------------

LAYOUT = {"encoding": "latin-1", "fields": {
    "item": {"start": 1, "length": 10},
    "qty": {"start": 11, "length": 8, "type": "decimal", "decimals": 2},
    "expiry": {"start": 19, "length": 8, "type": "date", "required": False},
    "location": {"start": 27, "length": 6, "path": "where.code"},
}}


def test_fixed_width_parse() -> None:
    raw = ("ST-10022  0000125020270930OR-2  \n"
           "ST-10023  00000300        OR-3  \n").encode("latin-1")
    rows = parse_fixed(raw, FixedLayout.model_validate(LAYOUT), ex())
    assert rows == [
        {"_line": 1, "item": "ST-10022", "qty": Decimal("12.50"), "expiry": date(2027, 9, 30), "location": "OR-2"},
        {"_line": 2, "item": "ST-10023", "qty": Decimal("3.00"), "expiry": None, "location": "OR-3"},
    ]


def test_fixed_width_errors_name_line_field_and_columns() -> None:
    raw = b"ST-10022  000012x520279930OR-2  \n          00000100\n"
    with pytest.raises(StepError) as err:
        parse_fixed(raw, FixedLayout.model_validate(LAYOUT), ex())
    message = str(err.value)
    assert "line 1, field 'qty' (columns 11-18): '12x5' is not a number" in message
    assert "line 1, field 'expiry' (columns 19-26): '20279930' is not a date (%Y%m%d)" in message
    assert "line 2, field 'item' (columns 1-10): value is missing" in message
    assert "line 2, field 'location' (columns 27-32): value is missing" in message
    assert "line 2, field 'expiry'" not in message  # optional and blank
    assert message.startswith("fixed: 4 errors:")


def test_fixed_width_record_kinds_by_tag() -> None:
    layout = FixedLayout.model_validate({"tag": {"start": 1, "length": 1}, "records": {
        "header": {"match": "H", "fields": {"batch": {"start": 2, "length": 6}}},
        "detail": {"match": "D", "fields": {"item": {"start": 2, "length": 8}, "qty": {"start": 10, "length": 4,
                                                                                          "type": "integer"}}},
    }})
    with pytest.raises(StepError, match="line 3: no record kind has tag 'X' \\(columns 1-1\\)"):
        parse_fixed(b"HB00042\nDST-100220012\nX junk\n", layout, ex())
    rows = parse_fixed(b"HB00042\nDST-100220012\n", layout, ex())
    assert rows == [{"_line": 1, "_record": "header", "batch": "B00042"},
                    {"_line": 2, "_record": "detail", "item": "ST-10022", "qty": 12}]
    assert render_fixed(rows, layout) == b"HB00042\nDST-100220012\n"


def test_fixed_width_render_refuses_values_that_do_not_fit() -> None:
    layout = FixedLayout.model_validate(LAYOUT)
    docs = [{"item": "A-VERY-LONG-ITEM", "qty": "1.005", "where": {"code": "X"}}, {"qty": 1}]
    with pytest.raises(StepError) as err:
        render_fixed(docs, layout)
    message = str(err.value)
    assert "record 1, field 'item' (columns 1-10): 'A-VERY-LONG-ITEM' needs 16 characters, the field has 10" in message
    assert "record 1, field 'qty' (columns 11-18): 1.005 has more than 2 decimal places" in message
    assert "record 2, field 'item' (columns 1-10): value is missing" in message


def test_fixed_layout_problems_are_caught_when_the_route_loads() -> None:
    with pytest.raises(ValueError, match="fields 'a' and 'b' overlap \\(column 5\\)"):
        FixedLayout.model_validate({"fields": {"a": {"start": 1, "length": 5}, "b": {"start": 5, "length": 2}}})
    with pytest.raises(ValueError, match="decimals applies to decimal fields only"):
        FixedLayout.model_validate({"fields": {"a": {"start": 1, "length": 5, "decimals": 2}}})


text_values = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=10)


@settings(max_examples=200, deadline=None)
@given(item=text_values, qty=st.decimals(min_value=-99999, max_value=999999, places=2, allow_nan=False,
                                          allow_infinity=False),
       expiry=st.one_of(st.none(), st.dates(min_value=date(1900, 1, 1), max_value=date(9999, 12, 31))),
       where=st.text(alphabet="ABC-0123", min_size=1, max_size=6))
def test_fixed_width_render_then_parse_is_lossless(item: str, qty: Decimal, expiry: date | None, where: str) -> None:
    layout = FixedLayout.model_validate(LAYOUT)
    doc = {"item": item, "qty": str(qty), "expiry": expiry.isoformat() if expiry else None, "where": {"code": where}}
    (row,) = parse_fixed(render_fixed([doc], layout), layout, ex())
    assert row == {"_line": 1, "item": item, "qty": qty, "expiry": expiry, "location": where}


# -- the render step ----------------------------------------------------------------------------

def test_render_step_produces_bytes_for_a_raw_endpoint() -> None:
    load_plugins()
    config = RenderStep.configure({"fixed": {"layout": LAYOUT}})
    step = RenderStep(config, RouteEnv("r"))
    adjustment = json.loads((EXAMPLES / "inventory_adjustment.json").read_text())
    adjustment["where"] = {"code": "OR-2"}
    (out,) = step.process(ex([{**adjustment, "item": "ST-10022"}]))
    assert isinstance(out.body, RenderedDocument)
    assert out.body.document_type == "inventory_adjustment"
    assert out.body.document_key == "CC-20250314-HOSP1-0007"
    data, content_type = render(out.body, "raw")
    assert content_type == "text/plain; charset=latin-1" and data.startswith(b"ST-10022  ")
    with pytest.raises(ValueError, match="already rendered as text/plain; charset=latin-1; give the endpoint format: raw"):
        render(out.body, "json")
    with pytest.raises(StepError, match="render once"):
        step.process(out)


def test_render_step_config_errors() -> None:
    load_plugins()
    with pytest.raises(ValueError, match="unknown renderer 'nope'"):
        RenderStep.configure("nope")
    # Option errors are located under the renderer's name, like a parser's (file:line in YAML).
    with pytest.raises(ValidationError) as err:
        RenderStep.configure({"fixed": {}})
    assert err.value.errors()[0]["loc"] == ("fixed", "layout")
