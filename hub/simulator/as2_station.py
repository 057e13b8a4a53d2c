"""The simulated partner over AS2 (RFC 4130): its own AS2 server on 127.0.0.1, where the hub's
``as2:`` endpoint posts the partner's orders, and its answers posted to the hub's ``/as2``.

Why pyas2lib on both sides, with the partner's own key: an AS2 partner is its certificate and
key. The simulator holds the partner's private key (``HUB_SIMULATOR_AS2_KEY``, a file: for the
shipped ``nordmed`` example ``examples/as2/nordmed-example.key``, NOT FOR PRODUCTION) and the
hub's public certificate (``HUB_AS2_CERTIFICATE``, the one the hub sends its partners), so
every message is really decrypted, verified, signed and encrypted — what the hub's sender and
receiver check is what a real partner's AS2 software would do, not a shortcut.

- In: each POST is parsed by pyas2lib as the partner (decrypt with its key, verify the hub's
  signature, decompress); the answer is the MDN the hub asked for — signed, with the MIC of
  what arrived, in the response or posted to the hub's ``Receipt-Delivery-Option`` URL. A
  message that fails gets the negative MDN pyas2lib builds (the hub then rejects the delivery)
  and is kept out of the orders. A Message-ID seen before (the hub's retry of one delivery) is
  answered again, and its order is not taken twice.
- Out: each answer is one AS2 message built as the partner's agreement says (``sign``,
  ``encrypt``, ``compress``, algorithms), asking a synchronous MDN (signed when ``mdn_signed``),
  posted to the hub's ``/as2`` (``HUB_SIMULATOR_API_URL`` or ``http://127.0.0.1:<HUB_API_PORT>``,
  plus ``/as2``). The MDN is verified against the hub's certificate and its MIC against the
  message's; anything but ``processed`` is an error naming what the hub said.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub.partners import PartnerConfig
from hub.simulator.channels import ChannelError, PostListener, edi_content_type

KEY_ENV = "HUB_SIMULATOR_AS2_KEY"
PASSPHRASE_ENV = "HUB_SIMULATOR_AS2_KEY_PASSPHRASE"


@dataclass
class PartnerSide:
    """The partner as the simulator plays it (a pyas2lib ``Organization`` holding its key) and
    the hub as the partner's trading partner (a pyas2lib ``Partner`` holding the hub's
    certificate and the agreement)."""

    org: Any
    hub: Any
    as2_id: str
    hub_id: str


def partner_side(hub, partner: PartnerConfig) -> PartnerSide:
    """Refused with the variable or file to fix when the partner has no AS2 agreement, its key
    is not given, or the hub's certificate is unknown."""
    from connectors.as2.compat import pyas2lib
    from connectors.as2.identity import As2Settings, As2Unusable, partner_certificates, pem, read_certificate

    agreement = partner.as2
    if agreement is None:
        raise ChannelError(f"partner {partner.id} has no as2 section in the partner registry: nothing says its "
                           "AS2 name, certificate or agreement")
    key_file = os.environ.get(KEY_ENV)
    if not key_file:
        raise ChannelError(f"partner {partner.id}: set {KEY_ENV} to the file of the partner's AS2 private key (the "
                           "key of its certificate in the registry; for the shipped example: "
                           "examples/as2/nordmed-example.key, not for production)")
    settings = As2Settings()
    if settings.certificate is None:
        raise ChannelError("HUB_AS2_CERTIFICATE is not set: the partner encrypts to the hub's certificate and "
                           "verifies the hub's signatures with it")
    try:
        verify, encrypt = partner_certificates(partner, hub.settings.routes_dir)
    except As2Unusable as exc:
        raise ChannelError(str(exc) if str(exc).startswith("partner ") else f"partner {partner.id}: {exc}") from None
    try:
        read_certificate(settings.certificate)  # names the file when it is missing or no certificate
        hub_cert = pem(settings.certificate)
    except As2Unusable as exc:
        raise ChannelError(f"HUB_AS2_CERTIFICATE: {exc}") from None
    try:
        key = Path(key_file).read_bytes()
    except OSError as exc:
        raise ChannelError(f"{KEY_ENV} {key_file}: {exc.strerror or exc}") from None
    as2 = pyas2lib()
    passphrase = os.environ.get(PASSPHRASE_ENV) or None
    try:
        org = as2.Organization(as2_name=agreement.as2_id, sign_key=key + b"\n" + pem(verify.path),
                               sign_key_pass=passphrase, decrypt_key=key + b"\n" + pem(encrypt.path),
                               decrypt_key_pass=passphrase, domain=_domain(agreement.as2_id))
    except Exception as exc:  # noqa: BLE001 - pyas2lib's AS2Exception / oscrypto errors: say which file
        raise ChannelError(f"{KEY_ENV} {key_file}: {exc} (a PEM private key matching {verify.path}; "
                           f"{PASSPHRASE_ENV} if it is encrypted)") from None
    mdn = agreement.mdn != "none"
    theirs = as2.Partner(as2_name=settings.id, verify_cert=hub_cert, encrypt_cert=hub_cert, validate_certs=False,
                         compress=agreement.compress, sign=agreement.sign, digest_alg=agreement.signature,
                         encrypt=agreement.encrypt, enc_alg=agreement.encryption, mdn_mode="SYNC" if mdn else None,
                         mdn_digest_alg=agreement.signature if mdn and agreement.mdn_signed else None)
    return PartnerSide(org, theirs, agreement.as2_id, settings.id)


def _domain(as2_id: str) -> str:
    return (re.sub(r"[^a-z0-9-]+", "-", as2_id.lower()).strip("-") or "partner") + ".simulator.as2"


@dataclass
class As2Station(PostListener):
    """The partner's AS2 server at ``url`` (127.0.0.1): takes what the hub posts, answers MDNs."""

    url: str
    side: PartnerSide
    refused: list[str] = field(default_factory=list)  # why messages were answered with a negative MDN

    @property
    def where(self) -> str:
        return self.url

    def __post_init__(self) -> None:
        self._seen: set[str] = set()
        self._listen(self.url, "simulator-as2-station")

    def answer(self, path: str, headers, body: bytes) -> tuple[int, dict[str, str], bytes]:
        if path.split("?")[0] != self.path:
            return 404, {}, f"no AS2 station at {path}; this one is {self.path}\n".encode()
        raw = b"".join(f"{k}: {v}\r\n".encode("latin-1", "replace") for k, v in headers.items())
        return self.receive(raw + b"\r\n" + body)

    def receive(self, raw: bytes) -> tuple[int, dict[str, str], bytes]:
        """One posted message: (HTTP status, headers, body) — the MDN when one was asked."""
        from connectors.as2.compat import pyas2lib

        message = pyas2lib().Message()
        status, (exc, _), mdn = message.parse(
            raw, find_org_cb=lambda name: self.side.org if name == self.side.as2_id else None,
            find_partner_cb=lambda name: self.side.hub if name == self.side.hub_id else None)
        if status == "processed":
            content = message.content if isinstance(message.content, bytes) else str(message.content).encode()
            name = (message.payload.get_filename() if message.payload is not None else None) or message.message_id
            with self._lock:
                new = message.message_id not in self._seen  # else the hub's retry of a delivery: answered,
                self._seen.add(message.message_id)  # not taken again
            if new:
                self.keep(name, content)
        else:
            with self._lock:
                self.refused.append(f"AS2 <{message.message_id}>: {type(exc).__name__}: {exc}")
        if mdn is None:
            return (200 if status == "processed" else 403), {}, b""
        if mdn.mdn_mode == "ASYNC":
            from connectors.as2.inbound import post_async_mdn

            threading.Thread(target=post_async_mdn, args=(mdn,), name="simulator-as2-mdn", daemon=True).start()
            return 200, {}, b"accepted; the MDN follows asynchronously\n"
        body = mdn.content if isinstance(mdn.content, bytes) else mdn.content.encode()
        return 200, dict(mdn.headers.items()), body

    def refusals(self) -> list[str]:
        """Why messages were answered with a negative MDN since the last call."""
        with self._lock:
            out, self.refused[:] = list(self.refused), []
        return out


@dataclass
class As2ToHub:
    """The hub's ``/as2``, as the partner posts its answers to it."""

    url: str
    side: PartnerSide
    timeout: float = 30.0

    @property
    def where(self) -> str:
        return self.url

    def put(self, name: str, data: bytes) -> str:
        import httpx

        from connectors.as2.compat import pyas2lib

        as2 = pyas2lib()
        message = as2.Message(self.side.org, self.side.hub)
        message.build(data, filename=name, subject=name, content_type=edi_content_type(data),
                      disposition_notification_to=f"edi@{self.side.org.domain}")
        try:
            response = httpx.post(self.url, content=message.content, headers=dict(message.headers.items()),
                                  timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise ChannelError(f"AS2 {self.url}: {name} not sent: {type(exc).__name__}: {exc}") from None
        sent = f"AS2 <{message.message_id}>"
        if response.status_code != 200:
            raise ChannelError(f"AS2 {self.url} answered {response.status_code} to {name} ({sent}): "
                               f"{response.text[:300]}")
        if self.side.hub.mdn_mode is None:
            return f"{self.url} ({sent}, no MDN asked)"
        raw = b"".join(f"{k}: {v}\r\n".encode("latin-1", "replace") for k, v in response.headers.items())
        mdn = as2.Mdn()
        status, detail = mdn.parse(raw + b"\r\n" + response.content, lambda message_id, recipient: message)
        if status != "processed":
            raise ChannelError(f"AS2 {self.url}: the hub's MDN for {name} ({sent}) says {status}"
                               + (f": {detail}" if detail else ""))
        return f"{self.url} ({sent}, {'signed ' if mdn.digest_alg else ''}MDN processed)"
