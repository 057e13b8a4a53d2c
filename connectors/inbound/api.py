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
  ``Idempotency-Key: <1-255 printable ASCII>`` makes a retry safe: the key is committed with the
  message (scoped to the partner, remembered ``HUB_API_IDEMPOTENCY_TTL``, default 7 days); the
  same key with the same body answers 202 again with the first message id, its current status
  and ``Idempotent-Replayed: true``; with another body 409 (``hub.store.ingest_keys``).
- ``GET /api/v1/messages/{id}``: status and trace of one of the partner's own messages.
- ``/healthz`` (the process answers), ``/readyz`` (database and broker), ``/metrics``
  (Prometheus, computed from the store so every process reports the same numbers).
- OpenAPI at ``/openapi.json``, docs at ``/docs``.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
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
from hub.ingest import Accepted, Inbound, Ingest, MessageTooLarge
from hub.partners import PartnerConfig, PartnerRegistry
from hub.sniff import peek
from hub.store import Message
from hub.store.ingest_keys import DEFAULT_TTL, ClientKey, KeyConflict

log = logging.getLogger(__name__)

CONTENT_TYPES = {
    "application/edi-x12": "x12", "application/x12": "x12", "application/edifact": "edifact",
    "application/edi-edifact": "edifact", "text/csv": "csv", "application/csv": "csv",
    "application/xml": "xml", "text/xml": "xml", "application/json": "json", "text/plain": "text",
}
FORMATS = sorted(set(CONTENT_TYPES.values()) | {"fixed"})
PARTNER_CACHE_SECONDS = 30.0
IDEMPOTENCY_KEY = re.compile(r"[\x20-\x7e]{1,255}")  # printable ASCII: what every client and proxy carries intact
REPLAYED_HEADER = "Idempotent-Replayed"


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
    idempotency_ttl: timedelta = Field(
        DEFAULT_TTL, gt=timedelta(0),
        description="How long an Idempotency-Key is remembered (seconds or ISO 8601, e.g. P7D)")

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


def checked_idempotency_key(value: str | None) -> str | None:
    """The ``Idempotency-Key`` header as given, or 400: a key the hub cannot store exactly
    would not find the first request again."""
    if value is None or IDEMPOTENCY_KEY.fullmatch(value):
        return value
    if not value or len(value) > 255:
        problem = f"is {len(value)} characters long"
    else:
        # Header bytes arrive decoded as Latin-1, so a character's code is the byte the client sent.
        position = next(i for i, c in enumerate(value) if not IDEMPOTENCY_KEY.fullmatch(c))
        problem = f"has byte 0x{ord(value[position]):02X} at position {position + 1}"
    raise Refused(400, f"Idempotency-Key must be 1 to 255 printable ASCII characters; this one {problem}")


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
               peer: str | None, correlation_id: str | None, ack_sync: bool = False,
               idempotency_key: str | None = None) -> dict[str, Any]:
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
        client_key = (ClientKey.for_body(caller.partner.id, idempotency_key, raw, self.settings.idempotency_ttl)
                      if idempotency_key is not None else None)
        # A retry is answered before the synchronous ack: building that ack again would log the
        # interchange a second time and answer the partner's own retry as a duplicate.
        earlier = self.ingest.replay(client_key) if client_key is not None else None
        if earlier is not None:
            return self.replayed(caller, earlier)
        message_id = new_id()
        acks, ack_headers = self._sync_ack(raw, fmt, message_id) if ack_sync else (None, {})
        try:
            accepted = self.ingest.accept(Inbound(
                raw=raw, format=fmt, doctype=doctype, sender=sender, receiver=receiver, channel="api",
                filename=filename, correlation_id=correlation_id, message_id=message_id,
                headers={"channel": "api", "partner_id": caller.partner.id, "auth": caller.method,
                         **({"filename": filename} if filename else {}), **ack_headers},
                client_key=client_key,
            ))
        except Exception:
            if ack_sync:
                forget(self.hub, message_id)  # not stored: its retry must not look like a duplicate
            raise
        if accepted.replayed:  # a concurrent request with the same key was committed first
            if ack_sync:
                forget(self.hub, message_id)
            return self.replayed(caller, accepted)
        result = {"message_id": accepted.message_id, "partner_id": caller.partner.id, "format": fmt,
                  "doctype": doctype, "sender": sender, "routing_key": accepted.routing_key,
                  "published": accepted.published, "routed": accepted.routed,
                  "status": "published" if accepted.published else "stored",
                  "status_url": f"/api/v1/messages/{accepted.message_id}", "replayed": False}
        if ack_sync:
            result["acks"] = acks
        return result

    def replayed(self, caller: Caller, earlier: Accepted) -> dict[str, Any]:
        """The answer to a retry: the first request's message as it is now (``status`` is its
        status in the store: received, transformed, delivered ...). No ``acks``: they were
        built and logged for the first request; building them again would log a duplicate."""
        with self.hub.db.read() as session:
            msg = session.get(Message, earlier.message_id)
        return {"message_id": msg.id, "partner_id": caller.partner.id, "format": msg.format, "doctype": msg.doctype,
                "sender": msg.sender, "routing_key": earlier.routing_key, "published": earlier.published,
                "routed": earlier.routed, "status": msg.status,
                "received_at": msg.received_at.isoformat(), "status_url": f"/api/v1/messages/{msg.id}",
                "replayed": True}

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

IDEMPOTENCY_DOC = (
    "Your key for this message (1-255 printable ASCII characters, e.g. a UUID): send the same key "
    "again when you retry. It is committed with the message and remembered for HUB_API_IDEMPOTENCY_TTL "
    "(default 7 days), per partner. The same key with the same body answers 202 with the first "
    "request's message id and that message's current status, marked replayed (body `replayed: true`, "
    "header `Idempotent-Replayed: true`); nothing is stored or delivered again. The same key with a "
    "different body answers 409. After the time has passed the key is free again.")
ERROR_SCHEMA = {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}
POST_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {"description": "Stored (or, for a retried Idempotency-Key, the message stored the first time)",
          "headers": {"Location": {"description": "Status URL of the message", "schema": {"type": "string"}},
                      REPLAYED_HEADER: {"description": "`true` when this answers a retry of an earlier "
                                                       "request with the same Idempotency-Key",
                                        "schema": {"type": "string", "enum": ["true"]}}}},
    400: {"description": "Empty body, unknown format, bad envelope, or an Idempotency-Key that is not "
                         "1-255 printable ASCII characters",
          "content": {"application/json": {"schema": ERROR_SCHEMA}}},
    409: {"description": "The Idempotency-Key was used before (within its time) with a different body",
          "content": {"application/json": {"schema": {
              "type": "object", "required": ["error", "idempotency_key", "message_id"],
              "properties": {"error": {"type": "string"},
                             "idempotency_key": {"type": "string", "description": "The key you sent"},
                             "message_id": {"type": "string",
                                            "description": "The message the key was first used for"}}}}}},
}


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

    @app.exception_handler(KeyConflict)
    async def key_conflict(request: Request, exc: KeyConflict) -> JSONResponse:
        return JSONResponse({"error": f"Idempotency-Key {exc.key!r} was already used for message {exc.message_id} "
                                      "with a different body: use a new key for a new message",
                             "idempotency_key": exc.key, "message_id": exc.message_id}, status_code=409)

    def peer(request: Request) -> str | None:
        return request.client.host if request.client else None

    async def caller_of(request: Request) -> Caller:
        headers = {k.lower(): v for k, v in request.headers.items()}
        return await run_in_threadpool(api.authenticate, headers, peer(request))

    @app.post("/api/v1/messages", status_code=202, openapi_extra=RAW_BODY, responses=POST_RESPONSES,
              summary="Send one message (stored durably before the 202)")
    async def post_message(
        request: Request, response: Response,
        format: Annotated[str | None, Query(description=f"One of {', '.join(FORMATS)}; default from "
                                                        "Content-Type, else detected")] = None,
        doctype: Annotated[str | None, Query(description="Default: from the EDI envelope / XML root")] = None,
        filename: Annotated[str | None, Query(max_length=255, description="Original file name (kept as data)")] = None,
        ack: Annotated[str | None, Query(pattern="^sync$", description="sync: return the acknowledgement")] = None,
        correlation_id: Annotated[str | None, Header(max_length=128)] = None,
        # Checked by checked_idempotency_key, not by FastAPI: a bad key is a 400 with our error.
        idempotency_key: Annotated[str | None, Header(
            alias="Idempotency-Key", description=IDEMPOTENCY_DOC,
            json_schema_extra={"minLength": 1, "maxLength": 255, "pattern": "^[\\x20-\\x7e]+$"})] = None,
    ) -> dict[str, Any]:
        caller = await caller_of(request)
        client_key = checked_idempotency_key(idempotency_key)
        raw = await read_body(request, hub.settings.max_message_bytes)
        if not raw:
            raise Refused(400, "empty body")
        fmt = format_of(request.headers.get("content-type"), format, raw)
        result = await run_in_threadpool(api.accept, caller, raw, fmt=fmt, doctype=doctype, filename=filename,
                                         peer=peer(request), correlation_id=correlation_id, ack_sync=ack == "sync",
                                         idempotency_key=client_key)
        response.headers["Location"] = result["status_url"]
        if result["replayed"]:
            response.headers[REPLAYED_HEADER] = "true"
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
    from hub.operations.trace import trace

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

