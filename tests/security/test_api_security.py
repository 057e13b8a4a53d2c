"""The inbound API, probed as an attacker holding one partner's key would: a second interchange
appended after the partner's own, written so a quick scan of the bytes misses it but the EDI
engine reads it (multi-byte element separator, blank ISA01, an ISA broken by a line break, a
second UNA in an EDIFACT file); a group sender that is someone else's; bytes outside every
interchange; documents the partner may not send in any format; a stated document type or
format that would widen what it may send. Every one is refused (400/403), recorded as a
security event with the bytes kept, and nothing is stored; the partners' legitimate files
still go in. Against ``hub api``'s own server on 127.0.0.1."""

from __future__ import annotations

import hashlib

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from edi.common.route_steps import InterchangeView
from edi.edifact.plugin import EdifactAdapter
from edi.x12.plugin import X12Adapter
from hub.app import Hub
from hub.exchange import Exchange
from hub.registry import PARSERS, StepError, load_plugins
from tests.security.conftest import RunningApi, events, stored_bodies, unique
from tests.security.edi import edifact, x12

pytestmark = pytest.mark.postgres


def post(api: RunningApi, key: str, body: bytes, content_type: str, **params: str) -> httpx.Response:
    return httpx.post(f"{api.url}/api/v1/messages", content=body, params=params, timeout=30,
                      headers={"X-API-Key": key, "Content-Type": content_type})


def own_x12() -> str:
    return x12("ACMEMED", unique())


def smuggled() -> dict[str, tuple[str, bytes, str]]:
    """name → (key's partner, body, content type): the partner's own interchange first, then one
    of a registered rival's (RIVALMED = P-0777, 4012345000009 = P-0107) that the old byte scan missed."""
    rival = x12("RIVALMED", unique())
    return {
        "x12-multibyte-element-separator": (
            "P-0042", (own_x12() + x12("RIVALMED", unique(), sep="§")).encode(), "application/edi-x12"),
        "x12-blank-isa01": ("P-0042", (own_x12() + x12("RIVALMED", unique(), isa01="  ")).encode(),
                            "application/edi-x12"),
        "x12-isa-broken-by-a-line-break": ("P-0042", (own_x12() + rival.replace("ISA*00*", "ISA*0\r\n0*", 1)).encode(),
                                           "application/edi-x12"),
        "edifact-second-una-in-the-middle": (
            "P-0888", (edifact("5790000000001", "14", unique()[-6:])
                       + edifact("4012345000009", "14", unique()[-6:], una="|*.? #")).encode(), "application/edifact"),
    }


VARIANTS = sorted(smuggled())


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_smuggled_interchange_is_refused_recorded_and_not_stored(variant: str, api: RunningApi, sec_hub: Hub,
                                                                   keys: dict[str, str]) -> None:
    partner, body, content_type = smuggled()[variant]
    before = len(events(sec_hub, "sender_not_owned"))
    resp = post(api, keys[partner], body, content_type)
    assert resp.status_code == 403, resp.text
    error = resp.json()["error"]
    assert "belongs to partner" in error and f"not to the authenticated partner {partner}" in error
    (event,) = events(sec_hub, "sender_not_owned")[before:]
    assert event.partner_id == partner and event.sha256 == hashlib.sha256(body).hexdigest()
    assert sec_hub.store.blobs.get(event.blob) == body  # the evidence, byte for byte
    assert event.sha256 not in stored_bodies(sec_hub)


def test_the_partners_own_files_still_go_in_whatever_their_layout(api: RunningApi, keys: dict[str, str]) -> None:
    """The same layouts, every interchange the partner's own: accepted (the check reads what the
    engine reads; it does not refuse what looks unusual)."""
    own = {
        "one interchange": own_x12(),
        "two interchanges": own_x12() + own_x12(),
        "multi-byte element separator": own_x12() + x12("ACMEMED", unique(), sep="§"),
        "blank ISA01": own_x12() + x12("ACMEMED", unique(), isa01="  "),
        "ISA broken by a line break": own_x12() + own_x12().replace("ISA*00*", "ISA*0\r\n0*", 1),
    }
    for name, text in own.items():
        resp = post(api, keys["P-0042"], text.encode(), "application/edi-x12")
        assert resp.status_code == 202, (name, resp.text)
        assert resp.json()["sender"] == "ACMEMED" and resp.json()["doctype"] == "855"
    both = edifact("4012345000009", "14", unique()[-6:]) + edifact("4012345000009", "14", unique()[-6:], una="|*.? #")
    assert post(api, keys["P-0107"], both.encode(), "application/edifact").status_code == 202


def test_a_group_sender_of_someone_else_is_refused(api: RunningApi, sec_hub: Hub, keys: dict[str, str]) -> None:
    body = x12("ACMEMED", unique(), gs_sender="RIVALMED").encode()
    resp = post(api, keys["P-0042"], body, "application/edi-x12")
    assert resp.status_code == 403
    assert resp.json()["error"] == ("segment 2 (GS): group sender RIVALMED belongs to partner P-0777, not to the "
                                    "authenticated partner P-0042 (expected ACMEMED)")
    assert events(sec_hub, "sender_not_owned")[-1].claimed == "X12 group RIVALMED"


def test_bytes_outside_every_interchange_are_refused(api: RunningApi, sec_hub: Hub, keys: dict[str, str]) -> None:
    body = (own_x12() + "ZZZ*not an interchange~\n").encode()
    resp = post(api, keys["P-0042"], body, "application/edi-x12")
    assert resp.status_code == 400
    assert "after the last IEA was skipped" in resp.json()["error"]
    assert "bytes outside every interchange are not accepted" in resp.json()["error"]
    assert events(sec_hub, "envelope_unaccounted")[-1].sha256 == hashlib.sha256(body).hexdigest()


# -- what a partner may send, in every format --------------------------------------------------------

def test_a_supplier_may_not_post_cycle_counts_or_xml_orders(api: RunningApi, sec_hub: Hub,
                                                            keys: dict[str, str]) -> None:
    counts = b"Facility,Location,Item,Counted Qty\nHOSP1,A03,ST-1,4\n"
    resp = post(api, keys["P-0042"], counts, "text/csv", doctype="cycle_count")
    assert resp.status_code == 403
    assert resp.json()["error"] == "partner P-0042 may not send document type 'cycle_count' as csv (allowed: none)"
    orders = b'<Orders xmlns="urn:example:legacy-erp:orders:1"><Order number="PO-9"/></Orders>'
    resp = post(api, keys["P-0042"], orders, "application/xml")
    assert resp.status_code == 403 and "'Orders' as xml" in resp.json()["error"]
    refused = events(sec_hub, "doctype_not_allowed")[-2:]
    assert [(e.partner_id, e.claimed) for e in refused] == [("P-0042", "cycle_count"), ("P-0042", "Orders")]
    assert not {hashlib.sha256(counts).hexdigest(), hashlib.sha256(orders).hexdigest()} & stored_bodies(sec_hub)
    # The hospital's stock system may: the same bytes go in from its key.
    assert post(api, keys["P-0500"], counts, "text/csv", doctype="cycle_count").status_code == 202
    assert post(api, keys["P-0500"], orders, "application/xml").status_code == 202


def test_a_stated_doctype_cannot_widen_what_the_partner_may_send(api: RunningApi, keys: dict[str, str]) -> None:
    po = x12("ACMEMED", unique(), set_id="850").encode()
    resp = post(api, keys["P-0042"], po, "application/edi-x12", doctype="855")
    assert resp.status_code == 403
    assert resp.json()["error"] == "document type '855' was stated, but the envelope holds 850"
    resp = post(api, keys["P-0042"], po, "application/edi-x12")
    assert resp.status_code == 403  # the 850 is what the hub sends P-0042, never the other way round
    assert resp.json()["error"] == ("partner P-0042 may not send document type '850' as x12: it is agreed "
                                    "outbound only (the hub sends it to the partner)")
    # XML: routed by the stated type, read by its root: both must be agreed.
    orders = b"<Orders><Order number='PO-10'/></Orders>"
    resp = post(api, keys["P-0500"], orders, "application/xml", doctype="cycle_count")
    assert resp.status_code == 403 and "'cycle_count' as xml" in resp.json()["error"]


def test_an_interchange_posted_as_another_format_is_refused(api: RunningApi, sec_hub: Hub,
                                                            keys: dict[str, str]) -> None:
    rival = x12("RIVALMED", unique()).encode()  # would skip the envelope check if taken as CSV
    resp = post(api, keys["P-0500"], rival, "text/csv", doctype="cycle_count")
    assert resp.status_code == 400
    assert resp.json()["error"] == ("the body is an X12 interchange but was sent as csv: send it as x12 so its "
                                    "envelope is checked")
    resp = post(api, keys["P-0500"], rival, "application/octet-stream", format="csv", doctype="cycle_count")
    assert resp.status_code == 400 and events(sec_hub, "format_mismatch")[-1].partner_id == "P-0500"


# -- one reading: whatever the engine reads as an interchange, the check has seen --------------------

SEPARATORS = st.sampled_from(["*", "|", "§", "\u00a6", "^", "!"])
BREAKS = st.sampled_from(["", "\n", "\r\n", "\r"])


@st.composite
def x12_bodies(draw: st.DrawFn) -> bytes:
    """P-0042's own interchange, then up to two more — its own or a rival's — in any layout an
    attacker would try: another element separator (multi-byte ones too), ISA01 blank or short, a
    line break anywhere in the ISA, something between the interchanges."""
    parts = [x12("ACMEMED", f"{draw(st.integers(1, 999_999_999)):09d}")]
    for _ in range(draw(st.integers(0, 2))):
        sender = draw(st.sampled_from(["ACMEMED", "RIVALMED", "NOBODY"]))
        text = x12(sender, f"{draw(st.integers(1, 999_999_999)):09d}", sep=draw(SEPARATORS),
                   isa01=draw(st.sampled_from(["00", "  ", "0"])), newline=draw(BREAKS))
        if draw(st.booleans()):
            cut = draw(st.integers(0, 60))
            text = text[:cut] + draw(BREAKS) + text[cut:]
        parts.append(draw(st.sampled_from(["", " ", "\n", "\x1a"])) + text)
    return "".join(parts).encode()


@st.composite
def edifact_bodies(draw: st.DrawFn) -> bytes:
    parts = []
    for n in range(draw(st.integers(1, 3))):
        sender = draw(st.sampled_from(["5790000000001", "4012345000009", "9999999999999"]))
        una = draw(st.sampled_from([":+.? '", "|*.? #", ":+,? '", "!~.? $"]))
        text = edifact(sender, "14", f"{draw(st.integers(1, 99999))}", una=una)
        if n and draw(st.booleans()):
            text = text[3 + 6:]  # without its UNA: read with the delimiters in force
        parts.append(draw(st.sampled_from(["", "\n", "\r\n"])) + text)
    return "".join(parts).encode()


def engine_senders(raw: bytes, fmt: str) -> list[str] | None:
    """The interchange senders the route's own parse step reads (``parse: x12`` / ``parse: edifact``
    as the ack step sees them), or None when it reads nothing."""
    load_plugins()
    parser = PARSERS[fmt]
    ex = Exchange(message_id="m", body=raw, format=fmt, doctype="", sender="", headers={})
    try:
        body = parser.fn(raw, parser.Config.model_validate({"envelope_errors": "keep"}), ex)
    except StepError:
        return None
    adapter = X12Adapter() if fmt == "x12" else EdifactAdapter()
    views: list[InterchangeView] = adapter.interchanges(body)
    return [str(v.sender) for v in views]


PROPERTY = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def accepted_only_if_the_engine_reads_the_partners(api: RunningApi, key: str, body: bytes, fmt: str,
                                                   content_type: str, sender: str) -> None:
    """The property: whatever the API accepts from the key, the route's engine reads as the
    key's partner's only."""
    resp = post(api, key, body, content_type)
    assert resp.status_code in (202, 400, 403), resp.text
    event(f"answered {resp.status_code}")  # --hypothesis-show-statistics: accepted and refused both occur
    if resp.status_code == 202:
        read = engine_senders(body, fmt)
        assert read is not None and set(read) == {sender}, (read, body)


@PROPERTY
@given(body=x12_bodies())
def test_every_x12_interchange_the_engine_reads_is_one_the_check_saw(api: RunningApi, keys: dict[str, str],
                                                                     body: bytes) -> None:
    accepted_only_if_the_engine_reads_the_partners(api, keys["P-0042"], body, "x12", "application/edi-x12",
                                                   "ZZ:ACMEMED")


@PROPERTY
@given(body=edifact_bodies())
def test_every_edifact_interchange_the_engine_reads_is_one_the_check_saw(api: RunningApi, keys: dict[str, str],
                                                                         body: bytes) -> None:
    accepted_only_if_the_engine_reads_the_partners(api, keys["P-0888"], body, "edifact", "application/edifact",
                                                   "14:5790000000001")
