"""The pages show what the store holds, partner text always escaped; payloads are readable
(EDI a segment a line, JSON and XML indented, XML without its entities expanded); the search
pages by keyset with a capped total; the operations API is in the OpenAPI document with its
security schemes and 4xx answers; /docs needs no CDN."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from hub.console.operators import add_operator
from hub.console.passwords import WeakPassword, hash_password, verify_password
from hub.console.payloads import show
from hub.console.search import BadCursor, search
from hub.operations.messages import MessageFilter
from tests.conftest import ROOT
from tests.console.conftest import PASSWORD, make_console_hub, open_exception, park, push

HOSTILE = "<script>alert(1)</script>\u202egpj.exe\r\nforged line"


def test_partner_text_is_escaped_on_every_page(clients, console_hub) -> None:
    message_id = push(console_hub, f"Facility,Location\n{HOSTILE},x\n".encode(), filename=HOSTILE,
                      sender="legacy-stock")
    park(console_hub, message_id, error=HOSTILE)
    open_exception(console_hub, message_id, key=HOSTILE)
    vera = clients["vera"]
    for path in (f"/messages/{message_id}", "/messages?file=*script*", "/dead-letters", "/review"):
        page = vera.get(path)
        assert page.status_code == 200, path
        assert "<script>alert" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text, path
        assert "\u202e" not in page.text and "\\u202e" in page.text, path  # direction override shown, not obeyed


def test_the_message_page_shows_trace_payloads_and_letters(clients, console_hub) -> None:
    message_id = push(console_hub, b"Facility,Location,Item,Counted Qty\nH1,A03,ST-1,four\n", filename="page.csv")
    park(console_hub, message_id)
    page = clients["otto"].get(f"/messages/{message_id}")
    assert page.status_code == 200
    for part in ('id="trace"', "received", "published", "dead_lettered", 'id="pane-raw"', "H1,A03,ST-1,four",
                 'id="replay-form"', 'id="resubmit-form"', "bad_csv"):
        assert part in page.text, part
    raw = clients["vera"].get(f"/messages/{message_id}/raw")
    assert raw.content.endswith(b"four\n") and raw.headers["content-disposition"].startswith("attachment")
    assert clients["vera"].get("/messages/no-such-message").status_code == 404
    api = clients["vera"].get(f"/api/v1/ops/messages/{message_id}").json()
    assert api["status"] == "dead_lettered" and api["dead_letters"][0]["reason"] == "bad_csv"
    assert [t["stage"] for t in api["trace"]][:2] == ["received", "published"]


def test_payloads_are_shown_readably() -> None:
    x12 = show((ROOT / "examples/supplier-x12/acme-855-po-ack.x12").read_bytes())
    assert x12.kind == "x12" and x12.text.splitlines()[2].split() == ["3", "@158", "ST*855*0001~"]
    edifact = show((ROOT / "examples/supplier-edifact/nordmed-desadv.edi").read_bytes())
    assert edifact.kind == "edifact" and edifact.text.splitlines()[0].split()[:2] == ["1", "@0"]
    assert "UNA:+.? '" in edifact.text.splitlines()[0]
    assert show(b'{"a":[1]}').text == '{\n  "a": [\n    1\n  ]\n}'
    xml = show(b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "EXPANDED">]><a><b>&x;</b></a>')
    assert xml.kind == "xml" and "EXPANDED" not in xml.text and "&x;" in xml.text
    broken = show(b"<a><b></a>")
    assert broken.kind == "text" and "not well-formed" in broken.notes[0]
    assert "\\u202e" in show("name\u202efdp.exe".encode()).text
    assert show(bytes(range(256)) * 4).kind in ("binary", "text")


def test_search_pages_by_keyset_with_a_capped_total(tmp_path) -> None:
    hub = make_console_hub(tmp_path / "data")
    ids = [push(hub, f"n,{n}\n".encode(), filename=f"page-{n:03d}.csv", sender="P-1") for n in range(120)]
    f = MessageFilter(partner="P-1", limit=50)
    first = search(hub, f, count_cap=100)
    assert [r.message_id for r in first.rows] == ids[::-1][:50] and (first.total, first.capped) == (100, True)
    second = search(hub, f, before=first.older, count_cap=1000)
    assert [r.message_id for r in second.rows] == ids[::-1][50:100] and second.total == 120
    back = search(hub, f, after=second.newer)
    assert [r.message_id for r in back.rows] == [r.message_id for r in first.rows]
    last = search(hub, f, before=search(hub, f, before=second.older).older or second.older)
    assert last.older is None
    assert search(hub, MessageFilter(file="page-00?.csv")).total == 10
    with pytest.raises(BadCursor):
        search(hub, f, before="not-a-cursor")
    hub.db.dispose()


def test_the_search_page_and_the_route_filter(clients, console_hub) -> None:
    message_id = push(console_hub, b"Facility,Location,Item,Counted Qty\nH1,A,1,x\n", filename="routed.csv")
    park(console_hub, message_id)  # parked by cycle-counts before any route run
    page = clients["vera"].get("/messages", params={"route": "cycle-counts", "file": "routed.csv"})
    assert page.status_code == 200 and f"/messages/{message_id}" in page.text and "1 message(s) match" in page.text
    bad = clients["vera"].get("/messages", params={"since": "yesterday"})
    assert bad.status_code == 200 and "is not a date or time" in bad.text
    api = clients["vera"].get("/api/v1/ops/messages", params={"before": "garbage"})
    assert api.status_code == 400


def test_every_page_renders_for_a_viewer(clients, console_hub) -> None:
    push(console_hub, b"a,b\n1,2\n")
    for path in ("/", "/?hours=6", "/messages", "/dead-letters", "/dead-letters?state=all", "/review?status=all",
                 "/trail", "/trail?number=4500012345", "/partners", "/partners/P-0042", "/audit", "/operators"):
        page = clients["vera"].get(path)
        assert page.status_code == 200, path
        assert page.headers["Cache-Control"] == "no-store"
    assert clients["vera"].get("/partners/P-9999").status_code == 404
    overview = clients["vera"].get("/").text
    assert '<svg class="chart"' in overview and 'id="health"' in overview


def test_the_operations_api_is_in_the_openapi_document(app) -> None:
    with TestClient(app) as client:
        spec = client.get("/openapi.json").json()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["OperatorToken"]["scheme"] == "bearer" and schemes["OperatorSession"]["in"] == "cookie"
    ops = {path: methods for path, methods in spec["paths"].items() if path.startswith("/api/v1/ops/")}
    assert len(ops) >= 20
    for path, methods in ops.items():
        for method, op in methods.items():
            assert {"OperatorToken": []} in op["security"] and {"OperatorSession": []} in op["security"], path
            assert {"401", "422"} <= set(op["responses"]), (path, method)
            if method == "post":
                assert {"400", "403", "404", "409"} <= set(op["responses"]), path
    assert not any(p in spec["paths"] for p in ("/", "/login", "/messages", "/dead-letters"))  # pages: no API


def test_docs_use_local_assets_only(app) -> None:
    with TestClient(app) as client:
        docs = client.get("/docs").text
        assert "/docs-static/swagger-ui-bundle.js" in docs and "cdn" not in docs.lower()
        assert client.get("/docs-static/swagger-ui-bundle.js").status_code == 200
        assert "/docs-static/redoc.standalone.js" in client.get("/redoc").text
        assert client.get("/console-static/htmx.min.js").status_code == 200


def test_passwords_are_scrypt_hashes_and_short_ones_are_refused(console_hub) -> None:
    hashed = hash_password(PASSWORD)
    assert hashed.startswith("scrypt$") and PASSWORD not in hashed
    assert verify_password(PASSWORD, hashed) and not verify_password("wrong", hashed)
    assert not verify_password(PASSWORD, None)
    with pytest.raises(WeakPassword):
        add_operator(console_hub.db, "shorty", "viewer", password="short")
    with pytest.raises(ValueError, match="operator name"):
        add_operator(console_hub.db, "Bad Name", "viewer", password=PASSWORD)
