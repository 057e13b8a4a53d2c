"""Inbound AS2 on the API server: ``POST /as2`` (or ``/as2/{partner id}``).

For each POST, in this order:

1. An asynchronous MDN (a ``multipart/report``, signed or not) for a message the hub sent is
   verified against the partner's certificate, matched by its Original-Message-ID and recorded
   (``connectors.as2.store``); the delivery waiting for it settles.
2. A message: AS2-From must be a partner's ``as2.as2_id`` (and the one of the path, when a path
   names a partner), AS2-To the hub's ``HUB_AS2_ID``. pyas2lib decrypts it with the hub's key,
   decompresses it and verifies its signature against the partner's certificate; the agreement
   decides what is required (``sign``/``encrypt``: an unsigned or unencrypted message is
   refused). An expired certificate is refused with its date.
3. The content is held to the partner's agreement by the same check as the API
   (``connectors.inbound.admission``: one reading of the EDI envelope, its senders the
   partner's own), then stored through ``hub.ingest`` with the AS2 Message-ID as the
   partner's idempotency key: a Message-ID sent again with the same content is answered again
   and not stored twice; with other content it is refused.
4. Only then is the MDN answered — in the response (synchronous) or posted to the partner's
   ``Receipt-Delivery-Option`` URL (asynchronous) — signed when the partner asked. Every refusal
   is a negative MDN naming why (``authentication-failed``, ``decryption-failed``,
   ``insufficient-message-security``, ``unexpected-processing-error`` with the reason), and a
   security event. A store that does not answer gets HTTP 503 and no MDN: nothing was stored,
   the partner sends again.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from email import message_from_bytes
from types import SimpleNamespace
from typing import Any

import httpx
from fastapi import Path as PathParam
from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool

from connectors.as2 import store
from connectors.as2.identity import As2Settings, As2Unusable, as2_partner, by_as2_id, hub_organization
from connectors.as2.identity import partner_certificates
from hub.canonical.enums import PartnerStatus
from hub.operations.terminal import printable
from hub.partners import PartnerConfig, PartnerRegistry

log = logging.getLogger(__name__)

IDEMPOTENCY_TTL = timedelta(days=30)  # AS2 partners resend within hours; a Message-ID is remembered a month
PARTNER_CACHE_SECONDS = 30.0
ASYNC_MDN_TRIES = (0, 5, 30, 120)  # seconds before each try to post an asynchronous MDN


@dataclass
class Answer:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class Refusal(Exception):
    """A message refused with an MDN disposition modifier and a reason."""

    def __init__(self, modifier: str, reason: str, kind: str = "as2_refused") -> None:
        super().__init__(reason)
        self.modifier, self.reason, self.kind = modifier, reason, kind


def unquote(value: str | None) -> str:
    value = (value or "").strip()
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value


class As2Receiver:
    """The request logic of ``/as2``, kept apart from FastAPI's wiring (``mount``)."""

    def __init__(self, hub, settings: As2Settings | None = None) -> None:
        self.hub = hub
        self.settings = settings or As2Settings()
        self.registry = PartnerRegistry(hub.db)
        self._partners: tuple[float, list[PartnerConfig]] = (0.0, [])

    @property
    def max_bytes(self) -> int:
        return self.settings.max_bytes or 2 * self.hub.settings.max_message_bytes

    def _all_partners(self) -> list[PartnerConfig]:
        at, partners = self._partners
        if time.monotonic() - at > PARTNER_CACHE_SECONDS:
            partners = self.registry.all()
            self._partners = (time.monotonic(), partners)
        return partners

    def _partner(self, as2_id: str) -> PartnerConfig | None:
        found = by_as2_id(self._all_partners(), as2_id)
        if found is None:  # added since the last read: look once more
            self._partners = (0.0, [])
            found = by_as2_id(self._all_partners(), as2_id)
        return found

    # -- entry -------------------------------------------------------------------------------

    def receive(self, headers: dict[str, str], body: bytes, peer: str | None, path_partner: str | None = None) -> Answer:
        headers = {k.lower(): v for k, v in headers.items()}
        raw = b"".join(f"{k}: {v}\r\n".encode("latin-1", "replace") for k, v in headers.items()) + b"\r\n" + body
        if _is_mdn(headers, raw):
            return self._mdn(headers, raw, peer)
        return self._message(headers, raw, peer, path_partner)

    # -- asynchronous MDNs for what the hub sent ------------------------------------------------

    def _mdn(self, headers: dict[str, str], raw: bytes, peer: str | None) -> Answer:
        from connectors.as2.compat import pyas2lib
        from connectors.as2.outbound import mdn_outcome

        partner = self._partner(unquote(headers.get("as2-from")))
        if partner is None:
            self._event("as2_unknown_partner", f"MDN from unknown AS2 name {headers.get('as2-from')!r}", peer, None)
            return Answer(403, b"unknown AS2-From\n")

        def original(message_id: str, recipient: str | None):
            row = store.find_outbound(self.hub.db, message_id)
            if row is None or row.partner_id != partner.id:
                return None
            mic = row.mic.split(",")[0].strip().encode() if row.mic else None
            return SimpleNamespace(message_id=message_id, mic=mic,
                                   receiver=as2_partner(partner, self.hub.settings.routes_dir))

        mdn = pyas2lib().Mdn()
        status, detail = mdn.parse(raw, original)
        if detail == "original-message-not-found":
            return Answer(404, f"no message {mdn.orig_message_id} was sent to {partner.id}\n".encode())
        outcome, reason = mdn_outcome(status, detail)
        receipt = store.Receipt(store.PROCESSED if outcome == "delivered" else store.FAILED,
                                "processed" if outcome == "delivered" else reason, mdn.message_id)
        store.record_receipt(self.hub.db, partner.id, mdn.orig_message_id, receipt)
        log.info("as2: MDN from %s for %s: %s", partner.id, printable(mdn.orig_message_id or "-"), receipt.detail)
        return Answer(200, b"MDN received\n")

    # -- messages ----------------------------------------------------------------------------

    def _message(self, headers: dict[str, str], raw: bytes, peer: str | None, path_partner: str | None) -> Answer:
        as2_from, as2_to = unquote(headers.get("as2-from")), unquote(headers.get("as2-to"))
        message_id = unquote(headers.get("message-id")).strip("<>")
        if not as2_from or not as2_to or not message_id:
            return Answer(400, b"an AS2 message needs AS2-From, AS2-To and Message-ID headers\n")
        partner = self._partner(as2_from)
        if partner is None or (path_partner and partner.id != path_partner):
            self._event("as2_unknown_partner", f"AS2-From {as2_from!r} is not a registered partner"
                        + (f" of /as2/{path_partner}" if path_partner else ""), peer, None, claimed=as2_from)
            return Answer(403, f"AS2-From {as2_from!r} is not a trading partner of this hub\n".encode())
        try:
            org = hub_organization(self.settings)
        except As2Unusable as exc:
            log.error("as2: cannot receive from %s: %s", partner.id, exc)
            return Answer(503, b"AS2 is not configured on this hub\n", {"Retry-After": "300"})
        from connectors.as2.compat import pyas2lib

        as2 = pyas2lib()
        message = as2.Message()
        problem: Refusal | None = None
        if as2_to != self.settings.id:
            problem = Refusal("unknown-trading-partner", f"AS2-To {as2_to!r} is not this hub ({self.settings.id})")
        elif partner.status == PartnerStatus.SUSPENDED:
            problem = Refusal("unexpected-processing-error", f"partner {partner.id} is suspended", "partner_suspended")
        theirs = None
        try:
            theirs = as2_partner(partner, self.hub.settings.routes_dir, check_dates=False)
            partner_certificates(partner, self.hub.settings.routes_dir)  # the dates, with a clear reason
        except As2Unusable as exc:
            problem = problem or Refusal("authentication-failed", str(exc), "as2_certificate")
        if theirs is None:  # no usable certificate at all: nothing verifies, the MDN says why
            theirs = as2.Partner(as2_name=partner.as2.as2_id, sign=True, encrypt=partner.as2.encrypt)
        status, (exc, _), mdn = message.parse(raw, find_org_cb=lambda _id: org, find_partner_cb=lambda _id: theirs)
        if problem is None and status != "processed":
            problem = Refusal(getattr(exc, "disposition_modifier", "") or "unexpected-processing-error",
                              f"{type(exc).__name__}: {exc}")
        mic = f"{message.mic.decode()}, {message.digest_alg}" if message.mic else None
        accepted = None
        if problem is None:
            try:
                accepted = self._store(partner, message, headers, mic, peer)
            except Refusal as refusal:
                problem = refusal
            except _StoreAway:
                return Answer(503, b"the message store does not answer: nothing was stored, send again later\n",
                              {"Retry-After": "60"})
        return self._answer(message, mdn, partner, problem, accepted, mic, peer)

    def _store(self, partner: PartnerConfig, message, headers: dict[str, str], mic: str | None, peer: str | None):
        from connectors.inbound.admission import NotAdmitted, admit
        from connectors.inbound.pickup import store_away
        from hub.ingest import Inbound, Ingest, MessageTooLarge
        from hub.sniff import peek
        from hub.store.ingest_keys import ClientKey, KeyConflict

        content = message.content if isinstance(message.content, bytes) else str(message.content).encode()
        fmt = peek(content).format
        try:
            admitted = admit(self.registry, partner, content, fmt)
        except NotAdmitted as exc:
            self._event(exc.kind, exc.reason, peer, partner.id, claimed=exc.claimed, raw=content)
            raise Refusal("unexpected-processing-error", exc.reason, exc.kind) from None
        filename = message.payload.get_filename() if message.payload is not None else None
        as2 = {"as2_message_id": message.message_id, "as2_from": partner.as2.as2_id, "as2_to": self.settings.id,
               "as2_mic": mic, "as2_signed": message.signed, "as2_encrypted": message.encrypted,
               "as2_compressed": message.compressed,
               "as2_mdn": _mdn_asked(headers)}
        try:
            return Ingest(self.hub).accept(Inbound(
                raw=content, format=fmt, doctype=admitted.doctype, sender=admitted.sender, channel="as2",
                receiver=admitted.receiver, filename=filename,
                headers={"partner_id": partner.id, "channel": "as2", **as2},
                client_key=ClientKey.for_body(f"as2:{partner.id}", message.message_id, content, IDEMPOTENCY_TTL)))
        except KeyConflict:
            raise Refusal("unexpected-processing-error", f"Message-ID {message.message_id} was received before with "
                          "other content: use a new Message-ID for a new message", "as2_duplicate_conflict") from None
        except MessageTooLarge as exc:
            raise Refusal("unexpected-processing-error", str(exc)) from None
        except Exception as exc:
            if store_away(exc):
                raise _StoreAway() from exc
            raise

    def _answer(self, message, mdn, partner: PartnerConfig, problem: Refusal | None, accepted, mic: str | None,
                peer: str | None) -> Answer:
        if problem is not None:
            self._event(problem.kind, problem.reason, peer, partner.id, claimed=message.message_id)
            log.warning("as2: refused message %s from %s: %s: %s", printable(message.message_id or "-"), partner.id,
                        problem.modifier, printable(problem.reason))
            if mdn is not None:  # the same MDN, with the failure the hub found
                mdn.build(message=message, status="processed/Error", detailed_status=problem.modifier,
                          failed_text=f"The AS2 message was refused: {problem.reason}")
        else:
            log.info("as2: message %s from %s stored as %s%s", printable(message.message_id), partner.id,
                     accepted.message_id, " (a resend: answered again, not stored twice)" if accepted.replayed else "")
        status = store.PROCESSED if problem is None else store.FAILED
        detail = "processed" if problem is None else f"processed/Error: {problem.modifier}: {problem.reason}"
        mode = "none" if mdn is None else ("async" if mdn.mdn_mode == "ASYNC" else "sync")
        store.record_inbound(self.hub.db, partner_id=partner.id, as2_message_id=message.message_id or "-",
                             message_id=accepted.message_id if accepted else None, mic=mic, mdn_mode=mode,
                             mdn_status=status if mdn is not None else store.NOT_ASKED, detail=detail)
        if mdn is None:
            return Answer(200 if problem is None else 403, b"" if problem is None else f"{problem.reason}\n".encode())
        if mdn.mdn_mode == "ASYNC":
            threading.Thread(target=post_async_mdn, args=(mdn,), name="as2-async-mdn", daemon=True).start()
            return Answer(200, b"accepted; the MDN follows asynchronously\n")
        return Answer(200, mdn.content if isinstance(mdn.content, bytes) else mdn.content.encode(),
                      {k: v for k, v in mdn.headers.items()})

    def _event(self, kind: str, reason: str, peer: str | None, partner_id: str | None, **extra: Any) -> None:
        from connectors.security import record_event

        try:
            record_event(self.hub, kind, reason, channel="as2", partner_id=partner_id, remote_addr=peer, **extra)
        except Exception:  # noqa: BLE001 - the refusal still stands when it cannot be recorded
            log.warning("as2: could not record a security event (%s)", kind, exc_info=True)


class _StoreAway(Exception):
    pass


def _mdn_asked(headers: dict[str, str]) -> str:
    if not headers.get("disposition-notification-to"):
        return "none"
    signed = "signed" if "signed-receipt-protocol" in headers.get("disposition-notification-options", "") else "unsigned"
    return f"{signed} {'async' if headers.get('receipt-delivery-option') else 'sync'}"


def _is_mdn(headers: dict[str, str], raw: bytes) -> bool:
    """An MDN rather than a message: a multipart/report, alone or signed."""
    kind = headers.get("content-type", "").lower()
    if "multipart/report" in kind:
        return True
    if "multipart/signed" not in kind:
        return False
    parsed = message_from_bytes(raw)
    return any(part.get_content_type() == "multipart/report" for part in parsed.walk())


def post_async_mdn(mdn) -> bool:
    """Post an asynchronous MDN to the URL the partner asked for, a few times over minutes."""
    body = mdn.content if isinstance(mdn.content, bytes) else mdn.content.encode()
    for pause in ASYNC_MDN_TRIES:
        time.sleep(pause)
        try:
            response = httpx.post(mdn.mdn_url, content=body, headers=dict(mdn.headers.items()), timeout=30)
            if response.status_code < 300:
                return True
            log.warning("as2: async MDN for %s to %s: HTTP %s", mdn.orig_message_id, mdn.mdn_url, response.status_code)
        except httpx.HTTPError as exc:
            log.warning("as2: async MDN for %s to %s: %s", mdn.orig_message_id, mdn.mdn_url, exc)
    log.error("as2: async MDN for %s could not be delivered to %s", mdn.orig_message_id, mdn.mdn_url)
    return False


def mount(app, hub) -> None:
    """``POST /as2`` and ``POST /as2/{partner_id}`` on the API application."""
    receiver = As2Receiver(hub)
    app.state.as2 = receiver

    async def receive(request: Request, partner_id: str | None = None) -> Response:
        limit = receiver.max_bytes
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                return Response(f"AS2 message exceeds {limit} bytes\n", status_code=413)
            chunks.append(chunk)
        peer = request.client.host if request.client else None
        answer = await run_in_threadpool(receiver.receive, dict(request.headers.items()), b"".join(chunks), peer,
                                         partner_id)
        return Response(answer.body, status_code=answer.status, headers=answer.headers,
                        media_type=None if "Content-Type" in answer.headers else "text/plain")

    @app.post("/as2", include_in_schema=False)
    async def as2_post(request: Request) -> Response:
        return await receive(request)

    @app.post("/as2/{partner_id}", include_in_schema=False)
    async def as2_partner_post(request: Request, partner_id: str = PathParam(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")) -> Response:
        return await receive(request, partner_id)


__all__ = ["As2Receiver", "mount", "partner_certificates"]
