"""Outbound AS2: an ``as2:`` endpoint's sender (registered as kind ``as2`` in connectors.as2).

One delivery is one AS2 message, signed, encrypted and compressed as the partner's registry
agreement says, POSTed to the partner's URL. Its Message-ID is made from the delivery id, so a
retry of the same delivery sends the same Message-ID and the partner can recognise it.

Answers, in the delivery core's vocabulary (``hub.delivery.sending``):

- ``delivered``: a positive MDN whose MIC is the one the hub computed (or, with ``mdn: none``,
  a 2xx);
- ``reject``: a negative MDN (``processed/Error: decryption-failed`` …), an MDN whose MIC
  differs, an MDN whose signature does not verify, or a 4xx — each with the reason;
- ``retry``: a 2xx without the synchronous MDN, an asynchronous MDN that has not come within
  ``mdn_wait``, 408 and the other 5xx;
- ``unavailable``: the partner does not answer (refused, reset, timeout, DNS, TLS), 502/503/504
  and 429; and, without a call, an unusable identity (the hub's key missing, the partner's
  certificate expired): no document can go out until it is fixed, and no replay is needed.

Asynchronous MDNs arrive at the hub's ``/as2`` (``connectors.as2.inbound``) and are matched by
their Original-Message-ID (``connectors.as2.store``). A retried delivery first looks there: an
MDN that came meanwhile settles it without a second POST; the message is posted again only
once the agreed ``mdn_within`` has passed without one.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import timedelta
from types import SimpleNamespace

import httpx

from connectors.as2 import store
from connectors.as2.identity import As2Settings, As2Unusable, as2_partner, hub_organization
from connectors.outbound.file import target_name
from connectors.outbound.http import OUTAGE, retry_after
from hub.delivery.sending import MAX_RESPONSE, DeliveryResult, Payload
from hub.partners import PartnerRegistry
from hub.routes.model import As2EndpointConfig
from hub.store.models import utcnow

log = logging.getLogger(__name__)

MDN_POLL = 0.25  # seconds between looks for an asynchronous MDN


def mdn_outcome(status: str | None, detail: str | None) -> tuple[str, str]:
    """(outcome, reason) of a parsed MDN (pyas2lib's ``Mdn.parse`` answer)."""
    if status == "processed":
        return "delivered", "MDN processed"
    if status == "processed/warning" and detail and "integrity" in detail.lower():
        return "reject", "MIC mismatch: the MDN's Received-Content-MIC is not the MIC of what the hub sent"
    if status == "failed/Failure" and detail == "mdn-not-found":
        return "retry", "no MDN in the answer"
    if status == "failed/Failure":
        return "reject", f"MDN refused: {detail}"
    return "reject", f"negative MDN: {status}" + (f": {detail}" if detail else "")


class As2Sender:
    def __init__(self, name: str, config: As2EndpointConfig, db, routes_dir, settings: As2Settings | None = None) -> None:
        self.name = name
        self.config = config
        self.db = db
        self.routes_dir = routes_dir
        self.settings = settings or As2Settings()
        self._client: httpx.Client | None = None
        self._pid = -1

    @property
    def client(self) -> httpx.Client:
        if self._client is None or self._pid != os.getpid():  # never share a pool across fork
            self._client = httpx.Client(timeout=httpx.Timeout(self.config.timeout), follow_redirects=False)
            self._pid = os.getpid()
        return self._client

    # -- one delivery ------------------------------------------------------------------------

    def send(self, payload: Payload) -> DeliveryResult:
        try:
            org, partner, agreement = self._parties()
        except As2Unusable as exc:
            return DeliveryResult("unavailable", error=str(exc), called=False)
        earlier = store.outbound(self.db, payload.delivery_id) if self.db is not None else None
        if earlier is not None and earlier.mdn_status in (store.PROCESSED, store.FAILED):
            return self._settled(earlier)  # the asynchronous MDN came after the last attempt
        if earlier is not None and earlier.mdn_status == store.PENDING and agreement.mdn == "async" \
                and earlier.sent_at and utcnow() - earlier.sent_at < timedelta(seconds=agreement.mdn_within_seconds):
            return self._await_mdn(earlier.as2_message_id, earlier.mic)  # not overdue: wait, do not post again
        return self._post(payload, org, partner, agreement)

    def _parties(self):
        registry = PartnerRegistry(self.db) if self.db is not None else None
        entry = registry.by_id(self.config.partner) if registry else None
        if entry is None or entry.as2 is None:
            raise As2Unusable(f"as2 endpoint {self.name}: partner {self.config.partner} is not in the partner "
                              "registry with an as2 section")
        org = hub_organization(self.settings)
        return org, as2_partner(entry, self.routes_dir), SimpleNamespace(
            mdn=entry.as2.mdn, mdn_within_seconds=_seconds(entry.as2.mdn_within), url=self.config.url or entry.as2.url)

    def _post(self, payload: Payload, org, partner, agreement) -> DeliveryResult:
        from connectors.as2.compat import pyas2lib

        if not agreement.url:
            return DeliveryResult("unavailable", error=f"as2 endpoint {self.name}: no url (endpoint url or the "
                                                       f"partner's as2.url)", called=False)
        if agreement.mdn == "async" and not org.mdn_url:
            return DeliveryResult("unavailable", error="asynchronous MDN agreed but HUB_AS2_MDN_URL (the hub's "
                                                       "public /as2 URL) is not set", called=False)
        message = pyas2lib().Message(org, partner)
        subject = self.config.subject or f"{payload.document_type or 'document'} {payload.document_key or ''}".strip()
        message.build(payload.body, filename=target_name(self.config.filename, payload), subject=subject,
                      content_type=payload.content_type or "application/octet-stream",
                      message_id=payload.delivery_id, disposition_notification_to=f"as2@{org.domain}")
        mic = f"{message.mic.decode()}, {message.digest_alg}" if message.mic else None
        headers = {k: v for k, v in message.headers.items()}
        try:
            response = self.client.post(agreement.url, content=message.content, headers=headers)
        except httpx.TimeoutException as exc:
            return DeliveryResult("unavailable", error=f"AS2 {agreement.url}: no answer within "
                                                       f"{self.config.timeout:g}s ({type(exc).__name__})")
        except httpx.TransportError as exc:  # refused, reset, DNS, TLS
            return DeliveryResult("unavailable", error=f"AS2 {agreement.url}: {type(exc).__name__}: {exc}")
        code = response.status_code
        if code in OUTAGE:
            return DeliveryResult("unavailable", code, response.text[:MAX_RESPONSE], error=f"HTTP {code}",
                                  retry_after=retry_after(response.headers.get("Retry-After")))
        if code == 408 or code >= 500:
            return DeliveryResult("retry", code, response.text[:MAX_RESPONSE], error=f"HTTP {code}")
        if code >= 300:
            return DeliveryResult("reject", code, response.text[:MAX_RESPONSE],
                                  error=f"HTTP {code}: the partner's AS2 server refused the message")
        if self.db is not None:
            store.record_sent(self.db, partner_id=self.config.partner, as2_message_id=message.message_id,
                              message_id=payload.message_id, delivery_id=payload.delivery_id, mic=mic,
                              mdn_mode=agreement.mdn, mdn_within=agreement.mdn_within_seconds)
        if agreement.mdn == "none":
            return DeliveryResult("delivered", code, f"AS2 Message-ID <{message.message_id}>; no MDN asked; MIC {mic}")
        if agreement.mdn == "async":
            return self._await_mdn(message.message_id, mic)
        raw = b"".join(f"{k}: {v}\r\n".encode("latin-1", "replace") for k, v in response.headers.items())
        return self._receipt(message, raw + b"\r\n" + response.content, code, mic)

    def _receipt(self, message, raw: bytes, code: int, mic: str | None) -> DeliveryResult:
        from connectors.as2.compat import pyas2lib

        mdn = pyas2lib().Mdn()
        status, detail = mdn.parse(raw, lambda message_id, recipient: message)
        outcome, reason = mdn_outcome(status, detail)
        if self.db is not None and outcome != "retry":
            store.record_receipt(self.db, self.config.partner, message.message_id, store.Receipt(
                store.PROCESSED if outcome == "delivered" else store.FAILED, reason if outcome != "delivered" else
                "processed", mdn.message_id))
        signed = "signed " if mdn.digest_alg else ""
        text = (f"AS2 Message-ID <{message.message_id}>; {signed}MDN {status or 'missing'}"
                f"{': ' + detail if detail else ''}; MIC {mic}")
        if outcome == "delivered":
            return DeliveryResult("delivered", code, f"{text} matched")
        return DeliveryResult(outcome, code, text, error=f"AS2 <{message.message_id}>: {reason}")

    def _await_mdn(self, as2_message_id: str, mic: str | None) -> DeliveryResult:
        """An asynchronous MDN: look for it for ``mdn_wait`` seconds, else try again later."""
        deadline = time.monotonic() + self.config.mdn_wait
        while True:
            row = store.find_outbound(self.db, as2_message_id)
            if row is not None and row.mdn_status in (store.PROCESSED, store.FAILED):
                return self._settled(row)
            if time.monotonic() >= deadline:
                due = f", overdue after {row.due_at:%Y-%m-%d %H:%M:%S} UTC" if row is not None and row.due_at else ""
                return DeliveryResult("retry", error=f"AS2 <{as2_message_id}>: no asynchronous MDN within "
                                                     f"{self.config.mdn_wait:g}s{due}; MIC {mic}")
            time.sleep(MDN_POLL)

    @staticmethod
    def _settled(row: store.As2Message) -> DeliveryResult:
        text = f"AS2 Message-ID <{row.as2_message_id}>; MDN {row.mdn_status}: {row.mdn_detail}; MIC {row.mic}"
        if row.mdn_status == store.PROCESSED:
            return DeliveryResult("delivered", None, f"{text} matched")
        return DeliveryResult("reject", None, text, error=f"AS2 <{row.as2_message_id}>: {row.mdn_detail}")


def _seconds(duration: str) -> float:
    from hub.partners import duration_seconds

    return float(duration_seconds(duration))
