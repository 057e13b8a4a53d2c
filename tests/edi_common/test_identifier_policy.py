"""One policy in both engines for identifiers that fail their check (domain.md C #12, severity
H): the document translates, the value is kept as sent with ``invalid_reason`` and a located
warning, and the ``identifier_check`` step records an ``invalid_identifier`` business exception
and holds the document (or forwards it, when the route says so)."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import select

from hub.business_exceptions import BusinessException
from hub.canonical.items import ItemIdentifier
from hub.canonical.parties import PartyIdentifier
from hub.canonical.identifiers import gs1_check_digit
from hub.canonical.shipping import ShipNoticePack
from hub.db import Database
from hub.exchange import Exchange
from hub.registry import PARSERS, SPLITTERS, STEPS, TRANSFORMS, RouteEnv, load_plugins
from tests.edifact.test_mapping import HEALTHCARE_DESADV
from tests.x12.helpers import PO_850, interchange

load_plugins()

BAD_GTIN, BAD_GLN = "00612345678906", "0614141000013"  # check digits 7 and 2 would be right


def gs1(body: str) -> str:
    return body + str(gs1_check_digit(body))


def run_route(raw: bytes, fmt: str, transform: str, env: RouteEnv, on_exception: str = "hold",
              ack: bool = False) -> Exchange:
    """parse → (ack) → split → transform → identifier_check, as a route runs them."""
    ex = Exchange(message_id=f"m-{secrets.token_hex(4)}", body=raw, format=fmt, doctype="-", sender="S")
    parsed = PARSERS[fmt].fn(raw, None, ex)
    if ack:  # maps every part for the acknowledgement; the transform then takes those documents
        ex.body = parsed
        STEPS["ack"](STEPS["ack"].Config(endpoint="acks", unknown_sender="accept"), env).process(ex)
    (part,) = SPLITTERS["transaction"].fn(parsed, ex)
    doc_ex = ex.derive(part, part=0)
    doc_ex = doc_ex.derive(TRANSFORMS[transform].fn(part, doc_ex))
    step = STEPS["identifier_check"]
    (out,) = step(step.Config(on_exception=on_exception), env).process(doc_ex)
    return out


def recorded(db: Database, message_id: str) -> list[BusinessException]:
    with db.session() as session:
        return list(session.scalars(select(BusinessException).where(BusinessException.message_id == message_id)
                                    .order_by(BusinessException.field_path)))


def test_models_keep_a_flagged_value_as_sent_and_still_check_the_others() -> None:
    kept = ItemIdentifier(scheme="GTIN", value=" 123 ", invalid_reason="GTIN must have 8/12/13/14 digits")
    assert kept.value == " 123 " and kept.invalid_reason.startswith("GTIN must")
    assert ItemIdentifier(scheme="GTIN", value="0614141000036").value == "00614141000036"
    with pytest.raises(ValueError, match="check digit"):
        ItemIdentifier(scheme="GTIN", value=BAD_GTIN)
    assert PartyIdentifier(scheme="GLN", value=BAD_GLN, invalid_reason="bad check digit").value == BAD_GLN
    with pytest.raises(ValueError, match="check digit"):
        PartyIdentifier(scheme="GLN", value=BAD_GLN)
    assert ShipNoticePack(pack_id="1", sscc="123", sscc_invalid_reason="SSCC must have 18 digits").sscc == "123"
    with pytest.raises(ValueError, match="SSCC"):
        ShipNoticePack(pack_id="1", sscc="123")


@pytest.mark.postgres
@pytest.mark.parametrize("ack", [False, True], ids=["without-ack", "after-ack"])
def test_x12_bad_gtin_and_gln_are_held_as_invalid_identifier_exceptions(pg_db: Database, ack: bool) -> None:
    body = [s.replace("UK*00612345678907", f"UK*{BAD_GTIN}").replace("UL*0614141000012", f"UL*{BAD_GLN}")
            for s in PO_850]
    raw = interchange([("850", body)], sender=f"S{secrets.token_hex(4)}")
    out = run_route(raw, "x12", "x12.850_to_purchase_order", RouteEnv("po-in", {"db": pg_db}), ack=ack)
    assert out.held
    assert out.body.lines[0].item_ids_sent[2].value == BAD_GTIN and out.body.buyer_org.identifiers[0].value == BAD_GLN
    rows = recorded(pg_db, out.message_id)
    assert [(r.kind, r.severity, r.field_path, r.offending_value) for r in rows] == [
        ("invalid_identifier", "HOLD", "buyer_org.identifiers.0.value", BAD_GLN),
        ("invalid_identifier", "HOLD", "lines.0.item_ids_sent.2.value", BAD_GTIN)]
    assert rows[0].detail["location"] == "segment 6 (N1), element 4"
    assert rows[1].detail["location"] == "segment 11 (PO1), element 11"
    assert rows[1].message == ("segment 11 (PO1), element 11: lines.0.item_ids_sent.2.value: GTIN 00612345678906 has "
                               "check digit 6, expected 7; kept as sent for review")
    assert "segment 11 (PO1), element 11: UK identifier '00612345678906' kept as sent, flagged invalid: GTIN " \
           "00612345678906 has check digit 6, expected 7" in out.warnings


@pytest.mark.postgres
@pytest.mark.parametrize("ack", [False, True], ids=["without-ack", "after-ack"])
def test_edifact_bad_sscc_is_recorded_and_forwarded_when_the_route_says_so(pg_db: Database, ack: bool) -> None:
    good = gs1("35412345000000001")
    bad = good[:-1] + str((int(good[-1]) + 5) % 10)
    raw = HEALTHCARE_DESADV.replace(good.encode(), bad.encode())
    raw = raw.replace(b"UNB+UNOC:3+", b"UNB+UNOC:3+S" + secrets.token_hex(4).encode())  # a fresh interchange
    out = run_route(raw, "edifact", "edifact.desadv_to_ship_notice", RouteEnv("asn-in", {"db": pg_db}),
                    on_exception="forward", ack=ack)
    assert not out.held and out.body.packs[0].sscc == bad
    (row,) = recorded(pg_db, out.message_id)
    assert (row.kind, row.field_path, row.offending_value) == ("invalid_identifier", "packs.0.sscc", bad)
    assert row.detail["location"] == "segment 16 (GIN), element 2, component 1"
    assert out.exceptions[0]["kind"] == "invalid_identifier"


@pytest.mark.postgres
def test_a_clean_document_passes_the_check_untouched(pg_db: Database) -> None:
    out = run_route(interchange([("850", PO_850)]), "x12", "x12.850_to_purchase_order",
                    RouteEnv("po-in", {"db": pg_db}))
    assert not out.held and not out.exceptions and recorded(pg_db, out.message_id) == []
