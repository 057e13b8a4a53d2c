"""The console in a real browser (Playwright driving Debian's Chromium) against a real `hub run`
on the embedded default: log in, find a pushed message by its business key, read its payloads,
replay a dead letter, fix a bad file by editing and resubmitting it, resolve an exception, see
each action in the audit trail; an anonymous visitor and a viewer cannot act.

Screenshots of the main pages are written to HUB_CONSOLE_SCREENSHOTS when it names a folder
(docs/console/ holds the ones the docs show)."""

from __future__ import annotations

import os
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hub.console.operators import add_operator
from hub.partners import PartnerRegistry
from hub.sniff import peek
from tests.backbone.conftest import HubEnv, embedded_hub, erp_stub, wait_for  # noqa: F401 - fixtures
from tests.conftest import ROOT
from tests.console.conftest import PASSWORD

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
X12 = ROOT / "examples/supplier-x12"
CSV = ROOT / "examples/cycle-counts"
FIXED = b"Facility,Location,Item,Lot,Expiry,Counted Qty,UOM\nHOSP1,A03,ST-1,L1,2027-09-30,4,EA\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def console(embedded_hub: HubEnv) -> Iterator[tuple[HubEnv, str]]:  # noqa: F811
    """`hub run` with the console on a free port, the example partners, an operator and a viewer."""
    hub = embedded_hub.hub
    PartnerRegistry(hub.db).load_file(ROOT / "routes" / "partners.yaml")
    add_operator(hub.db, "otto", "operator", password=PASSWORD)
    add_operator(hub.db, "vera", "viewer", password=PASSWORD)
    port = free_port()
    embedded_hub.env.update({"HUB_API_PORT": str(port), "SUPPLIER_OUTBOX_DIR": str(embedded_hub.root / "suppliers"),
                             "ERP_SUPPLIER_DOCUMENTS_URL": f"{embedded_hub.stub.url}/supplier/documents"})
    embedded_hub.spawn("run", log="run")
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: _answers(f"{url}/healthz"), 60, 0.2, "the console to listen")
    yield embedded_hub, url


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def push_file(env: HubEnv, path: Path) -> str:
    raw = path.read_bytes()
    seen = peek(raw)
    return env.push(raw, fmt=seen.format, doctype=seen.doctype or "cycle_count", sender=seen.sender or "legacy-stock",
                    filename=path.name)


@pytest.fixture
def browser():
    from playwright import sync_api  # a dev extra: `make test` installs it
    assert Path(CHROMIUM).exists(), "Debian's chromium is needed (apt-get install -y chromium; .ci/run does it)"
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def shoot(page, name: str) -> None:
    folder = os.environ.get("HUB_CONSOLE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def log_in(browser, url: str, name: str):
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    page.goto(f"{url}/")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/")
    return page


def test_operations_in_the_browser(console, browser) -> None:
    from playwright.sync_api import expect

    env, url = console
    started = time.monotonic()
    po_ack = push_file(env, X12 / "acme-855-po-ack.x12")
    counts = push_file(env, CSV / "counts-2026-11-20.csv")
    bad = push_file(env, CSV / "bad-counts.csv")
    invoices = [push_file(env, X12 / "acme-810-invoice.x12") for _ in range(2)]  # the same interchange twice
    env.wait_status(po_ack, "delivered", 60)
    env.wait_status(counts, "delivered", 60)
    env.wait_status(bad, "dead_lettered", 60)
    # One is taken, the other refused as a duplicate held for review: which one depends on which
    # pool process registers the interchange first (two processes may run them side by side).
    wait_for(lambda: sorted(env.message(m).status for m in invoices) == ["delivered", "refused"], 60,
             what="one invoice delivered and its duplicate refused")

    # An anonymous visitor gets the login page, whatever they ask for, and cannot act.
    anon = browser.new_page()
    anon.goto(f"{url}/dead-letters")
    assert "/login" in anon.url and anon.locator("input[name=password]").is_visible()
    assert anon.locator("nav").count() == 0
    refused = anon.request.post(f"{url}/api/v1/ops/messages/{bad}/rerun", data={"reason": "anonymous"})
    assert refused.status == 401

    page = log_in(browser, url, "otto")
    shoot(page, "overview")
    assert page.locator("#dlq-depths").inner_text().count("bad_csv") == 1

    # Find the PO acknowledgement by its PO number and read what came in, what the hub made, what went out.
    page.goto(f"{url}/messages")
    page.fill("input[name=key]", "4500012345")
    page.click("#search button[type=submit]")
    # The search swaps the results in place (htmx): wait for the filtered list, not the one before it.
    expect(page.locator("#message-table td a")).to_have_count(2, timeout=10_000)  # the 855, and the 810 naming the PO
    page.wait_for_selector(f"#message-table a[href='/messages/{po_ack}']")
    expect(page.locator("#total")).to_have_text("2 message(s) match")
    shoot(page, "messages")
    page.click(f"#message-table a[href='/messages/{po_ack}']")
    page.wait_for_selector("#payloads")
    assert "BAK*00*AC*4500012345" in page.locator("#pane-raw").inner_text()
    assert re.search(r"\d+\s+@\d+\s+ST\*855\*0001~", page.locator("#pane-raw").inner_text())  # a segment a line
    assert '"document_type": "purchase_order_ack"' in page.locator("#pane-canonical").inner_text()
    assert "erp-supplier-documents" in page.locator("#pane-sent").inner_text()
    assert "997" in page.locator("#acks-sent").inner_text()
    shoot(page, "message")

    # Replay the bad file's dead letter, then fix the file and resubmit it as a new version.
    page.goto(f"{url}/dead-letters")
    shoot(page, "dead-letters")
    page.check(f"#letter-table input[type=checkbox] >> nth=0")
    page.fill("#letters-form input[name=reason]", "retry after the export fix")
    page.click("#letters-form button[value=replay]")
    assert "replayed 1 dead letter(s)" in page.locator(".flash.ok").inner_text()
    page.goto(f"{url}/messages/{bad}")
    page.fill("#resubmit-form textarea", FIXED.decode())
    page.fill("#resubmit-form input[name=reason]", "expiry 2027-09-31 corrected to 2027-09-30")
    page.click("#resubmit-form button[type=submit]")
    assert "stored version 2" in page.locator(".flash.ok").inner_text()
    fixed_id = page.url.rsplit("/", 1)[1]
    env.wait_status(fixed_id, "delivered", 60)

    # Resolve the duplicate interchange's exception.
    page.goto(f"{url}/review?kind=duplicate_interchange")
    shoot(page, "review")
    page.check("#exception-table input[type=checkbox] >> nth=0")
    page.fill("#resolve-form input[name=reason]", "supplier resent by mistake")
    page.click("#resolve-form button[type=submit]")
    assert "resolved 1 exception(s)" in page.locator(".flash.ok").inner_text()

    page.goto(f"{url}/trail?number=4500012345")
    assert page.locator("#ladder .seen").first.inner_text().startswith("PO ack")
    shoot(page, "trail")
    page.goto(f"{url}/partners/P-0042")
    shoot(page, "partner")
    page.goto(f"{url}/audit?operator=otto")
    audit = page.locator("#audit-table").inner_text()
    for action in ("replay_dead_letters", "edit_and_resubmit", "resolve_exceptions", "login"):
        assert action in audit, action
    assert "supplier resent by mistake" in audit
    shoot(page, "audit")

    # A viewer reads everything but is offered no action and refused every one.
    viewer = log_in(browser, url, "vera")
    viewer.goto(f"{url}/messages/{bad}")
    assert viewer.locator("#actions").count() == 0 and viewer.locator("#pane-raw").is_visible()
    token = viewer.locator("input[name=csrf]").first.get_attribute("value")
    denied = viewer.request.post(f"{url}/api/v1/ops/messages/{bad}/rerun", data={"reason": "viewer"},
                                 headers={"X-CSRF-Token": token})
    assert denied.status == 403
    form = viewer.request.post(f"{url}/review/resolve", form={"csrf": token, "id": "x", "reason": "viewer"})
    assert form.status == 403
    assert time.monotonic() - started < 120
