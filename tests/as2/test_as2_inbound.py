"""Inbound AS2 against ``openssl cms``: messages signed and encrypted by the command line, posted
to the hub's ``/as2`` on a real server; the signed MDN checked by ``openssl cms -verify``."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from connectors.as2.store import As2Message
from connectors.security import SecurityEvent
from hub.store import Message
from tests.as2.conftest import (
    As2Env,
    mic_of,
    mime_entity,
    smime_encrypt,
    smime_sign,
    split_entity,
    verify_smime,
)

pytestmark = pytest.mark.postgres

ENVELOPED = 'application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"'


def x12_855(sender: str = "ACMEAS2", po: str = "PO-1", control: str = "000000101") -> bytes:
    return (f"ISA*00*          *00*          *ZZ*{sender:<15}*ZZ*HOSPITAL       *261120*1200*^*00401*{control}*0*P*>~"
            f"GS*PR*{sender}*HOSPITAL*20261120*1200*1*X*004010~ST*855*0001~BAK*00*AD*{po}*20261120~SE*3*0001~"
            f"GE*1*1~IEA*1*{control}~").encode()


def signed_encrypted(env: As2Env, content: bytes, *, crt=None, key=None, tamper: bool = False) -> tuple[bytes, bytes]:
    """(what is posted, the signed entity whose MIC the MDN must carry)."""
    entity = mime_entity(content)
    signed = smime_sign(entity, crt or env.partner_crt, key or env.partner_key, env.folder)
    if tamper:  # a byte of the signed content changed after signing: the signature no longer holds
        signed = signed.replace(b"PO-1", b"PO-9", 1)
    return smime_encrypt(signed, env.hub_crt, env.folder), entity


def mdn_report(env: As2Env, response) -> str:
    """The MDN's signed report, verified with openssl against the hub's certificate."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("multipart/signed")
    return verify_smime(dict(response.headers), response.content, env.hub_crt, env.folder).decode()


def stored(env: As2Env, as2_message_id: str) -> list[Message]:
    with env.hub.db.read() as session:
        rows = session.scalars(select(Message).where(Message.channel == "as2")).all()
        return [m for m in rows if (m.headers or {}).get("as2_message_id") == as2_message_id]


def test_a_message_built_with_openssl_is_stored_and_answered_with_a_signed_mdn(as2_env: As2Env) -> None:
    body, entity = signed_encrypted(as2_env, x12_855())
    message_id = f"{uuid.uuid4()}@acme.example"
    report = mdn_report(as2_env, as2_env.post(body, as2_from="ACME-AS2", message_id=message_id,
                                              content_type=ENVELOPED))
    assert "Disposition: automatic-action/MDN-sent-automatically; processed\r\n" in report
    assert f"Original-Message-ID: <{message_id}>" in report
    assert f"Received-content-MIC: {mic_of(entity)}, sha256" in report  # the MIC openssl's bytes give

    (message,) = stored(as2_env, message_id)
    assert message.format == "x12" and message.doctype == "855" and message.headers["partner_id"] == "P-AS2"
    assert message.headers["as2_mic"] == f"{mic_of(entity)}, sha256"
    assert message.headers["as2_signed"] and message.headers["as2_encrypted"]
    assert as2_env.hub.store.raw(message) == x12_855()
    with as2_env.hub.db.read() as session:
        row = session.scalar(select(As2Message).where(As2Message.as2_message_id == message_id))
    assert (row.direction, row.mdn_status, row.message_id) == ("in", "processed", message.id)
    from hub.operations.trace import format_trace

    assert (f"AS2 Message-ID <{message_id}> from ACME-AS2; MDN signed sync (processed); MIC {mic_of(entity)}, sha256"
            in format_trace(as2_env.hub, message.id))

    # The same Message-ID and content again: answered again, not stored twice.
    again = mdn_report(as2_env, as2_env.post(body, as2_from="ACME-AS2", message_id=message_id,
                                             content_type=ENVELOPED))
    assert "; processed\r\n" in again and len(stored(as2_env, message_id)) == 1


def test_a_tampered_message_is_refused_with_a_negative_signed_mdn(as2_env: As2Env) -> None:
    body, _ = signed_encrypted(as2_env, x12_855(control="000000102"), tamper=True)
    message_id = f"{uuid.uuid4()}@acme.example"
    report = mdn_report(as2_env, as2_env.post(body, as2_from="ACME-AS2", message_id=message_id,
                                              content_type=ENVELOPED))
    assert "; processed/Error: authentication-failed" in report
    assert stored(as2_env, message_id) == []
    with as2_env.hub.db.read() as session:
        event = session.scalar(select(SecurityEvent).where(SecurityEvent.claimed == message_id))
    assert event is not None and event.channel == "as2" and event.partner_id == "P-AS2"


def test_a_partner_certificate_that_has_expired_is_refused_naming_its_date(as2_env: As2Env) -> None:
    body, _ = signed_encrypted(as2_env, x12_855("OLDCO"), crt=as2_env.old_crt, key=as2_env.old_key)
    message_id = f"{uuid.uuid4()}@old.example"
    response = as2_env.post(body, as2_from="OLD-AS2", message_id=message_id, content_type=ENVELOPED)
    report = mdn_report(as2_env, response)
    assert "; processed/Error: authentication-failed" in report
    assert "expired on" in report  # the MDN's text says why
    assert stored(as2_env, message_id) == []


def test_an_unencrypted_message_is_refused_when_the_agreement_requires_encryption(as2_env: As2Env) -> None:
    signed = smime_sign(mime_entity(x12_855(control="000000103")), as2_env.partner_crt, as2_env.partner_key,
                        as2_env.folder)
    headers, body = split_entity(signed)
    message_id = f"{uuid.uuid4()}@acme.example"
    report = mdn_report(as2_env, as2_env.post(body, as2_from="ACME-AS2", message_id=message_id,
                                              content_type=headers["Content-Type"]))
    assert "; processed/Error: insufficient-message-security" in report
    assert stored(as2_env, message_id) == []


def test_an_envelope_that_is_not_the_as2_partners_is_refused(as2_env: As2Env) -> None:
    """AS2-From is ACME-AS2, the interchange inside claims OLDCO: one reading of the envelope,
    as the API does, and the message is refused."""
    body, _ = signed_encrypted(as2_env, x12_855("OLDCO", control="000000104"))
    message_id = f"{uuid.uuid4()}@acme.example"
    report = mdn_report(as2_env, as2_env.post(body, as2_from="ACME-AS2", message_id=message_id,
                                              content_type=ENVELOPED))
    assert "; processed/Error: unexpected-processing-error" in report
    assert "belongs to partner P-OLD, not to the authenticated partner P-AS2" in report
    assert stored(as2_env, message_id) == []


def test_an_unknown_as2_name_gets_403_and_a_security_event(as2_env: As2Env) -> None:
    body, _ = signed_encrypted(as2_env, x12_855(control="000000105"))
    response = as2_env.post(body, as2_from="NOBODY", message_id="x@nobody", content_type=ENVELOPED)
    assert response.status_code == 403 and "NOBODY" in response.text
    with as2_env.hub.db.read() as session:
        count = session.scalar(select(func.count()).select_from(SecurityEvent)
                               .where(SecurityEvent.kind == "as2_unknown_partner"))
    assert count >= 1
