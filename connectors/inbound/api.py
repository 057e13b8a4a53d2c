"""The inbound HTTP API (FastAPI): partners post messages; operators probe health and metrics.

- ``POST /api/v1/messages``: the raw body (X12, EDIFACT, CSV, XML, JSON ...). The format comes
  from ``?format=`` or the Content-Type (else detected); document type and sender from the EDI
  envelope, or ``?doctype=`` (for XML the root element's name is the default). The partner is
  authenticated by API key (``X-API-Key`` or ``Authorization: ApiKey <key>``) or by a client
  certificate a trusted TLS terminator vouches for. Every EDI envelope sender in the file must
  belong to that partner, and an EDI document type must be one of the partner's
  ``inbound_documents`` (when listed): otherwise 403 and a recorded security event. Larger than ``HUB_MAX_MESSAGE_BYTES``: 413.
  On success 202 with the message id once the message is committed, and whether it is published
  yet (while the broker is away the outbox relay publishes it later).
  ``?ack=sync`` returns the acknowledgement (997/999/TA1, CONTRL) in the response as well
  (``acks``: kind, control number, content type, text), see ``connectors.inbound.syncack``.
- ``GET /api/v1/messages/{id}``: status and trace of one of the partner's own messages.
- ``/healthz`` (the process answers), ``/readyz`` (database and broker), ``/metrics``
  (Prometheus, computed from the store so every process reports the same numbers).
- OpenAPI at ``/openapi.json``, docs at ``/docs``.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import FastAPI, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from connectors.inbound.envelopes import EnvelopeError, EnvelopeSender, envelope_senders
from connectors.inbound.syncack import SyncAckError, acknowledge_now, forget
from connectors.security import partner_for_certificate, partner_for_key, record_event
from hub.canonical.enums import PartnerStatus
from hub.ids import new_id
from hub.ingest import Inbound, Ingest, MessageTooLarge
from hub.partners import PartnerConfig, PartnerRegistry
from hub.sniff import peek

log = logging.getLogger(__name__)

CONTENT_TYPES = {
    "application/edi-x12": "x12", "application/x12": "x12", "application/edifact": "edifact",
    "application/edi-edifact": "edifact", "text/csv": "csv", "application/csv": "csv",
    "application/xml": "xml", "text/xml": "xml", "application/json": "json", "text/plain": "text",
}
FORMATS = sorted(set(CONTENT_TYPES.values()) | {"fixed"})
PARTNER_CACHE_SECONDS = 30.0


class ApiSettings(BaseSettings):
    """``HUB_API_*`` settings of the inbound API."""

    model_config = SettingsConfigDict(env_prefix="HUB_API_", extra="ignore")

    host: str = Field("127.0.0.1", description="Address to listen on")
    client_cert_fingerprint_header: str | None = Field(
        None, description="Header in which the TLS terminator passes the client certificate's SHA-256")
    client_cert_subject_header: str | None = Field(
        None, description="Header in which the TLS terminator passes the client certificate's subject DN")
    trusted_proxies: str = Field("127.0.0.1/32,::1/128",
                                 description="Peers (CIDRs, comma-separated) whose certificate headers are believed")
    relay: bool = Field(True, description="Run the outbox relay in the API process")

    def proxies(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [ipaddress.ip_network(p.strip()) for p in self.trusted_proxies.split(",") if p.strip()]


@dataclass
class Caller:
    partner: PartnerConfig
    method: str  # api_key or client_cert


class Refused(Exception):
    """A request refused with ``status``; recorded as a security event when ``kind`` is set."""

    def __init__(self, status: int, reason: str, kind: str | None = None, **event: Any) -> None:
        super().__init__(reason)
        self.status, self.reason, self.kind, self.event = status, reason, kind, event


def format_of(content_type: str | None, given: str | None, raw: bytes) -> str:
    if given:
        if given not in FORMATS:
            raise Refused(400, f"unknown format {given!r} (known: {', '.join(FORMATS)})")
        return given
    base = (content_type or "").split(";", 1)[0].strip().lower()
    if base in CONTENT_TYPES:
        return CONTENT_TYPES[base]
    return peek(raw).format  # application/octet-stream or none: look at the bytes


class InboundApi:
    """The request logic, kept apart from FastAPI's wiring (``create_app``)."""

    def __init__(self, hub, settings: ApiSettings | None = None) -> None:
        self.hub = hub
        self.settings = settings or ApiSettings()
        self.registry = PartnerRegistry(hub.db)
        self.ingest = Ingest(hub)
        self._proxies = self.settings.proxies()
        self._partners: tuple[float, list[PartnerConfig]] = (0.0, [])

    # -- who is calling ----------------------------------------------------------------------

    def _all_partners(self) -> list[PartnerConfig]:
        """The registry, re-read every PARTNER_CACHE_SECONDS: a suspension or a new certificate
        reaches the API within that time (a revoked API key stops at once: keys are not cached)."""
        at, partners = self._partners
        if time.monotonic() - at > PARTNER_CACHE_SECONDS:
            partners = self.registry.all()
            self._partners = (time.monotonic(), partners)
        return partners

    def _partner(self, partner_id: str) -> PartnerConfig | None:
        found = next((p for p in self._all_partners() if p.id == partner_id), None)
        if found is None:  # loaded since the last read: look once more before refusing
            self._partners = (0.0, [])
            found = next((p for p in self._all_partners() if p.id == partner_id), None)
        return found

    def _trusted(self, peer: str | None) -> bool:
        try:
            address = ipaddress.ip_address(peer or "")
        except ValueError:
            return False
        return any(address in net for net in self._proxies)

    def authenticate(self, headers: dict[str, str], peer: str | None) -> Caller:
        key = headers.get("x-api-key") or _api_key_from_authorization(headers.get("authorization"))
        if key:
            partner_id = partner_for_key(self.hub.db, key)
            partner = self._partner(partner_id) if partner_id else None
            if partner is None:
                raise Refused(401, "invalid or revoked API key", "auth_failed", remote_addr=peer)
            return self._usable(Caller(partner, "api_key"), peer)
        fp_header = self.settings.client_cert_fingerprint_header
        subject_header = self.settings.client_cert_subject_header
        fingerprint = headers.get(fp_header.lower()) if fp_header else None
        subject = headers.get(subject_header.lower()) if subject_header else None
        if fingerprint or subject:
            if not self._trusted(peer):
                raise Refused(401, "client certificate headers are accepted only from the TLS terminator",
                              "untrusted_cert_header", remote_addr=peer, claimed=fingerprint or subject)
            partner = partner_for_certificate(self._all_partners(), fingerprint, subject)
            if partner is None:
                raise Refused(401, "client certificate is not registered to a partner", "auth_failed",
                              remote_addr=peer, claimed=fingerprint or subject)
            return self._usable(Caller(partner, "client_cert"), peer)
        raise Refused(401, "authenticate with an API key (X-API-Key) or a client certificate")

    @staticmethod
    def _usable(caller: Caller, peer: str | None) -> Caller:
        if caller.partner.status == PartnerStatus.SUSPENDED:
            raise Refused(403, f"partner {caller.partner.id} is suspended", "partner_suspended",
                          partner_id=caller.partner.id, remote_addr=peer)
        return caller

    # -- what they send ----------------------------------------------------------------------

    def check_senders(self, caller: Caller, raw: bytes, fmt: str, peer: str | None) -> list[EnvelopeSender]:
        try:
            senders = envelope_senders(raw, fmt)
        except EnvelopeError as exc:
            raise Refused(400, f"{fmt} envelope: {exc}") from None
        for sender in senders:
            owner = (self.registry.by_isa(sender.qualifier, sender.identifier) if sender.standard == "X12"
                     else self.registry.by_unb(sender.identifier, sender.qualifier))
            if owner is None or owner.id != caller.partner.id:
                whose = f"partner {owner.id}" if owner else "no registered partner"
                raise Refused(403, f"interchange sender {sender} (byte {sender.offset}) belongs to {whose}, not to "
                                   f"the authenticated partner {caller.partner.id}", "sender_not_owned",
                              partner_id=caller.partner.id, claimed=f"{sender.standard} {sender}", remote_addr=peer,
                              raw=raw, detail={"owner": owner.id if owner else None, "auth": caller.method})
        return senders

    def accept(self, caller: Caller, raw: bytes, *, fmt: str, doctype: str | None, filename: str | None,
               peer: str | None, correlation_id: str | None, ack_sync: bool = False) -> dict[str, Any]:
        senders = self.check_senders(caller, raw, fmt, peer)
        seen = peek(raw)
        doctype = doctype or seen.doctype or (_xml_root(raw) if fmt == "xml" else None) or "unknown"
        allowed = caller.partner.inbound_documents  # EDI sets/messages (855, ORDRSP ...)
        if senders and allowed and doctype not in allowed:
            raise Refused(403, f"partner {caller.partner.id} may not send document type {doctype!r} "
                               f"(allowed: {', '.join(allowed)})", "doctype_not_allowed",
                          partner_id=caller.partner.id, claimed=doctype, remote_addr=peer, raw=raw)
        sender = senders[0].identifier if senders else caller.partner.id
        receiver = senders[0].receiver if senders else None
        message_id = new_id()
        acks, ack_headers = self._sync_ack(raw, fmt, message_id) if ack_sync else (None, {})
        try:
            accepted = self.ingest.accept(Inbound(
                raw=raw, format=fmt, doctype=doctype, sender=sender, receiver=receiver, channel="api",
                filename=filename, correlation_id=correlation_id, message_id=message_id,
                headers={"channel": "api", "partner_id": caller.partner.id, "auth": caller.method,
                         **({"filename": filename} if filename else {}), **ack_headers},
            ))
        except Exception:
            if ack_sync:
                forget(self.hub, message_id)  # not stored: its retry must not look like a duplicate
            raise
        result = {"message_id": accepted.message_id, "partner_id": caller.partner.id, "format": fmt,
                  "doctype": doctype, "sender": sender, "routing_key": accepted.routing_key,
                  "published": accepted.published, "routed": accepted.routed,
                  "status": "published" if accepted.published else "stored",
                  "status_url": f"/api/v1/messages/{accepted.message_id}"}
        if ack_sync:
            result["acks"] = acks
        return result

    def _sync_ack(self, raw: bytes, fmt: str, message_id: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        try:
            return acknowledge_now(self.hub, raw, fmt, message_id)
        except SyncAckError as exc:
            raise Refused(exc.status, exc.reason) from None

    def record(self, refused: Refused) -> None:
        if refused.kind is not None:
            record_event(self.hub, refused.kind, refused.reason, **refused.event)
            log.warning("api: refused (%s): %s", refused.kind, refused.reason)


def _api_key_from_authorization(value: str | None) -> str | None:
    if value and value.lower().startswith("apikey "):
        return value[7:].strip()
    return None


def _xml_root(raw: bytes) -> str | None:
    from connectors.formats.xmlin import root_name

    return root_name(raw)


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it passes ``limit`` (declared or streamed)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise Refused(413, str(MessageTooLarge(int(declared), limit)))
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Refused(413, f"message exceeds the limit of {limit} bytes (HUB_MAX_MESSAGE_BYTES)")
        chunks.append(chunk)
    return b"".join(chunks)


# -- the FastAPI application -----------------------------------------------------------------------

RAW_BODY = {"requestBody": {"required": True, "description": "The message exactly as the partner's system wrote it",
                            "content": {ct: {"schema": {"type": "string", "format": "binary"}}
                                        for ct in ("application/edi-x12", "application/edifact", "text/csv",
                                                   "application/xml", "application/json",
                                                   "application/octet-stream")}}}


def create_app(hub, settings: ApiSettings | None = None) -> FastAPI:
    api = InboundApi(hub, settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        relay = None
        if api.settings.relay:
            from hub.outbox import Relay

            relay = Relay(hub)
            relay.start()
        try:
            yield
        finally:
            if relay is not None:
                relay.stop()

    app = FastAPI(title="Supply Hub inbound API", version="1", lifespan=lifespan,
                  description="Partners post EDI, CSV, XML or JSON messages; the hub stores each durably "
                              "before answering 202, then routes and delivers it.")
    app.state.inbound = api

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> JSONResponse:
        if exc.kind is not None:
            await run_in_threadpool(api.record, exc)
        headers = {"WWW-Authenticate": "ApiKey"} if exc.status == 401 else None
        return JSONResponse({"error": exc.reason}, status_code=exc.status, headers=headers)

    def peer(request: Request) -> str | None:
        return request.client.host if request.client else None

    async def caller_of(request: Request) -> Caller:
        headers = {k.lower(): v for k, v in request.headers.items()}
        return await run_in_threadpool(api.authenticate, headers, peer(request))

    @app.post("/api/v1/messages", status_code=202, openapi_extra=RAW_BODY,
              summary="Send one message (stored durably before the 202)")
    async def post_message(
        request: Request, response: Response,
        format: Annotated[str | None, Query(description=f"One of {', '.join(FORMATS)}; default from "
                                                        "Content-Type, else detected")] = None,
        doctype: Annotated[str | None, Query(description="Default: from the EDI envelope / XML root")] = None,
        filename: Annotated[str | None, Query(max_length=255, description="Original file name (kept as data)")] = None,
        ack: Annotated[str | None, Query(pattern="^sync$", description="sync: return the acknowledgement")] = None,
        correlation_id: Annotated[str | None, Header(max_length=128)] = None,
    ) -> dict[str, Any]:
        caller = await caller_of(request)
        raw = await read_body(request, hub.settings.max_message_bytes)
        if not raw:
            raise Refused(400, "empty body")
        fmt = format_of(request.headers.get("content-type"), format, raw)
        result = await run_in_threadpool(api.accept, caller, raw, fmt=fmt, doctype=doctype, filename=filename,
                                         peer=peer(request), correlation_id=correlation_id, ack_sync=ack == "sync")
        response.headers["Location"] = result["status_url"]
        return result

    @app.get("/api/v1/messages/{message_id}", summary="Status and trace of one of your messages")
    async def get_message(request: Request, message_id: str) -> dict[str, Any]:
        caller = await caller_of(request)
        return await run_in_threadpool(message_status, hub, caller.partner.id, message_id)

    @app.get("/healthz", summary="The process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", summary="Database and broker reachable")
    async def readyz() -> JSONResponse:
        body = await run_in_threadpool(readiness, hub)
        return JSONResponse(body, status_code=200 if body["database"] == "ok" else 503)

    @app.get("/metrics", summary="Prometheus metrics computed from the store")
    async def metrics() -> Response:
        from connectors.metrics import render_metrics

        data, content_type = await run_in_threadpool(render_metrics, hub.db)
        return Response(data, media_type=content_type)

    return app


def message_status(hub, partner_id: str, message_id: str) -> dict[str, Any]:
    """A partner's view of its message: stages with times; errors only where the partner can act
    on them (its own file: parse and validation), never what an internal endpoint answered."""
    from hub.ops import trace

    try:
        msg, lines, attempts, _ = trace(hub, message_id)
    except KeyError:
        raise Refused(404, f"no message {message_id}") from None
    if (msg.headers or {}).get("partner_id") != partner_id:
        raise Refused(404, f"no message {message_id}")  # never confirm that another partner's id exists
    return {
        "message_id": msg.id, "status": msg.status, "received_at": msg.received_at.isoformat(),
        "format": msg.format, "doctype": msg.doctype, "sender": msg.sender, "filename": msg.filename,
        "size": msg.size, "sha256": msg.sha256,
        "trace": [{"stage": ln.stage, "at": ln.at.isoformat(), "where": ln.where or None,
                   **({"error": ln.error} if ln.error and "endpoint=" not in ln.where else {})} for ln in lines],
        "deliveries": {"attempts": len(attempts), "delivered": sum(a.outcome == "delivered" for a in attempts)},
    }


def readiness(hub) -> dict[str, Any]:
    """Database: required to accept anything (503 when down). Broker: reported; while it is
    down messages are still accepted into the outbox, so the API stays ready."""
    from sqlalchemy import func, select, text

    from hub.store import OutboxEntry

    body: dict[str, Any] = {}
    try:
        with hub.db.session() as session:
            session.execute(text("SELECT 1"))
            pending = session.scalar(select(func.count()).select_from(OutboxEntry)
                                     .where(OutboxEntry.published_at.is_(None)))
        body["database"] = "ok"
        body["outbox_pending"] = pending
    except Exception as exc:  # noqa: BLE001 - any database failure means not ready
        body["database"] = f"down: {type(exc).__name__}"
    try:
        with hub.connection() as conn:
            conn.ensure_connection(max_retries=1, timeout=3)
        body["broker"] = "ok"
    except Exception as exc:  # noqa: BLE001 - reported, not fatal: the outbox holds messages
        body["broker"] = f"down: {type(exc).__name__}"
    body["accepting"] = body["database"] == "ok"
    return body

