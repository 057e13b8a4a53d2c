"""Outbound AS2 against a receiver built on ``openssl cms``: it decrypts with the partner's key,
verifies the hub's signature, computes the MIC and answers an MDN it signs with openssl. The
hub's sender (``connectors.as2.outbound``) must read each answer right."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from connectors.as2.identity import As2Settings
from connectors.as2.outbound import As2Sender
from connectors.as2.store import As2Message
from hub.delivery.sending import Payload
from hub.routes.model import As2EndpointConfig
from tests.as2.conftest import HUB_AS2, As2Env, mic_of, openssl, split_entity

pytestmark = pytest.mark.postgres

BOUNDARY = "----openssl-receiver-report"


@dataclass
class OpensslReceiver:
    """An AS2 receiver made of openssl commands. ``mode``: ok, negative, badmic, nomdn, down."""

    env: As2Env
    work: Path
    mode: str = "ok"
    received: list[bytes] = field(default_factory=list)

    def answer(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        if self.mode == "down":
            return 503, {}, b"maintenance"
        (self.work / "in.der").write_bytes(body)
        signed = openssl("cms", "-decrypt", "-inform", "DER", "-in", self.work / "in.der",
                         "-inkey", self.env.partner_key, "-recip", self.env.partner_crt)
        (self.work / "in.smime").write_bytes(signed)
        entity = openssl("cms", "-verify", "-in", self.work / "in.smime", "-CAfile", self.env.hub_crt,
                         "-purpose", "any")
        self.received.append(entity)
        if self.mode == "nomdn":
            return 200, {}, b""
        if self.mode == "async":  # 200 now, the signed MDN posted to the hub's /as2 a moment later
            threading.Timer(0.5, self.post_mdn, args=(headers, entity)).start()
            return 200, {}, b""
        return self.mdn(headers, entity)

    def post_mdn(self, headers: dict[str, str], entity: bytes) -> None:
        _, mdn_headers, body = self.mdn(headers, entity)
        httpx.post(headers["receipt-delivery-option"], content=body, headers=mdn_headers, timeout=10)

    def mdn(self, headers: dict[str, str], entity: bytes) -> tuple[int, dict[str, str], bytes]:
        mic = mic_of(entity) if self.mode != "badmic" else mic_of(b"something else")
        disposition = "processed" if self.mode != "negative" else "processed/error: decryption-failed"
        report = (f"Content-Type: multipart/report; report-type=disposition-notification; boundary=\"{BOUNDARY}\"\r\n\r\n"
                  f"--{BOUNDARY}\r\nContent-Type: text/plain\r\n\r\nReceipt from the openssl receiver\r\n"
                  f"--{BOUNDARY}\r\nContent-Type: message/disposition-notification\r\n\r\n"
                  f"Reporting-UA: openssl test receiver\r\nOriginal-Recipient: rfc822; {headers['as2-to']}\r\n"
                  f"Final-Recipient: rfc822; {headers['as2-to']}\r\nOriginal-Message-ID: {headers['message-id']}\r\n"
                  f"Disposition: automatic-action/MDN-sent-automatically; {disposition}\r\n"
                  f"Received-content-MIC: {mic}, sha256\r\n\r\n--{BOUNDARY}--\r\n").encode()
        (self.work / "report.mime").write_bytes(report)
        signed_mdn = openssl("cms", "-sign", "-binary", "-crlfeol", "-in", self.work / "report.mime",
                             "-signer", self.env.partner_crt, "-inkey", self.env.partner_key, "-md", "sha256")
        mdn_headers, mdn_body = split_entity(signed_mdn)
        return 200, {"Content-Type": mdn_headers["Content-Type"], "AS2-From": headers["as2-to"],
                     "AS2-To": headers["as2-from"], "Message-ID": f"<{uuid.uuid4()}@receiver>"}, mdn_body


@pytest.fixture
def receiver(as2_env: As2Env, tmp_path: Path) -> Iterator[tuple[OpensslReceiver, str]]:
    state = OpensslReceiver(as2_env, tmp_path)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server naming
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, headers, answer = state.answer({k.lower(): v for k, v in self.headers.items()}, body)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}/as2"
    server.shutdown()
    server.server_close()


def sender(env: As2Env, url: str, partner: str = "P-AS2") -> As2Sender:
    settings = As2Settings(id=HUB_AS2, certificate=env.hub_crt, private_key=env.hub_key, mdn_url=f"{env.base}/as2")
    return As2Sender("acme-as2", As2EndpointConfig(partner=partner, url=url, timeout=10, mdn_wait=5), env.hub.db,
                     env.hub.settings.routes_dir, settings)


def payload(body: bytes = b"ISA*00*ORDER~") -> Payload:
    delivery = str(uuid.uuid4())
    return Payload(delivery_id=delivery, message_id=str(uuid.uuid4()), route="orders", endpoint="acme-as2", seq=0,
                   body=body, content_type="application/edi-x12", idempotency_key=delivery,
                   document_type="purchase_order", document_key="PO-77")


def test_delivered_on_the_openssl_receivers_signed_mdn_with_the_mic_it_computed(as2_env, receiver) -> None:
    state, url = receiver
    sent = payload()
    result = sender(as2_env, url).send(sent)
    assert result.outcome == "delivered", result.summary()
    assert state.received and state.received[0].endswith(sent.body)  # decrypted and verified by openssl
    assert f"MIC {mic_of(state.received[0])}, sha256 matched" in result.response
    assert f"AS2 Message-ID <{sent.delivery_id}@" in result.response and "signed MDN processed" in result.response
    with as2_env.hub.db.read() as session:
        row = session.scalar(select(As2Message).where(As2Message.delivery_id == sent.delivery_id))
    assert (row.direction, row.mdn_status) == ("out", "processed")


@pytest.mark.parametrize(("mode", "outcome", "reason"), [
    ("negative", "reject", "negative MDN: processed/error: decryption-failed"),
    ("badmic", "reject", "MIC mismatch"),
    ("nomdn", "retry", "no MDN in the answer"),
    ("down", "unavailable", "HTTP 503"),
])
def test_what_the_receiver_answers_decides_the_outcome(as2_env, receiver, mode, outcome, reason) -> None:
    state, url = receiver
    state.mode = mode
    result = sender(as2_env, url).send(payload())
    assert result.outcome == outcome, result.summary()
    assert reason in result.summary()


def test_a_partner_that_does_not_answer_is_unavailable(as2_env) -> None:
    result = sender(as2_env, "http://127.0.0.1:9/as2").send(payload())
    assert result.outcome == "unavailable" and "ConnectError" in result.error


def test_no_identity_means_no_call(as2_env, receiver) -> None:
    state, url = receiver
    broken = sender(as2_env, url)
    broken.settings = As2Settings(id=HUB_AS2)  # HUB_AS2_CERTIFICATE / HUB_AS2_PRIVATE_KEY unset
    result = broken.send(payload())
    assert (result.outcome, result.called) == ("unavailable", False) and "HUB_AS2_PRIVATE_KEY" in result.error
    assert state.received == []


def test_an_asynchronous_mdn_posted_to_the_hub_settles_the_delivery(as2_env, receiver) -> None:
    state, url = receiver
    state.mode = "async"
    sent = payload()
    result = sender(as2_env, url, partner="P-ASYNC").send(sent)
    assert result.outcome == "delivered", result.summary()
    assert "MDN processed" in result.response and f"<{sent.delivery_id}@" in result.response
    with as2_env.hub.db.read() as session:
        row = session.scalar(select(As2Message).where(As2Message.delivery_id == sent.delivery_id))
    assert (row.mdn_mode, row.mdn_status, row.due_at is not None) == ("async", "processed", True)


def test_an_asynchronous_mdn_that_does_not_come_is_retried_then_listed_overdue(as2_env, receiver) -> None:
    from datetime import UTC, datetime, timedelta

    from connectors.as2.store import listing

    state, url = receiver
    state.mode = "nomdn"
    sent = payload()
    quick = sender(as2_env, url, partner="P-ASYNC")
    quick.config = quick.config.model_copy(update={"mdn_wait": 0.5})
    result = quick.send(sent)
    assert result.outcome == "retry" and "no asynchronous MDN within 0.5s, overdue after" in result.error
    again = quick.send(sent)  # not overdue yet: waits again, posts nothing
    assert again.outcome == "retry" and len(state.received) == 1
    late = listing(as2_env.hub.db, overdue_at=datetime.now(UTC) + timedelta(hours=2))
    assert sent.delivery_id in {row.delivery_id for row in late}
