"""The inbound HTTP API (FastAPI): partners post messages; operators probe health and metrics.

- ``POST /api/v1/messages``: the raw body (X12, EDIFACT, CSV, XML, JSON ...). The format comes
  from ``?format=`` or the Content-Type (else detected); document type and sender from the EDI
  envelope, or ``?doctype=`` (for XML the root element's name is the default). The partner is
  authenticated first, before any parameter is looked at (a dependency: 401 always comes
  before 422), by API key (``X-API-Key`` or ``Authorization: ApiKey <key>``) or by a client
  certificate a trusted TLS terminator vouches for. Then the message must be the partner's to
  send (``connectors.inbound.admission``): every EDI envelope and group sender, as the EDI
  engines read the whole body, belongs to the partner, and the document type is one its
  registry entry agrees, for every format; otherwise 400/403 and a recorded security event.
  Larger than ``HUB_MAX_MESSAGE_BYTES``: 413. On success 202 with the message id once the
  message is committed, and whether it is published yet (while the broker is away the outbox
  relay publishes it later).
  ``?ack=sync`` returns the acknowledgement (997/999/TA1, CONTRL) in the response as well
  (``acks``: kind, control number, content type, text), see ``connectors.inbound.syncack``.
  ``Idempotency-Key: <1-255 printable ASCII>`` makes a retry safe: the key is committed with the
  message (scoped to the partner, remembered ``HUB_API_IDEMPOTENCY_TTL``, default 7 days); the
  same key with the same body answers 202 again with the first message id, its current status
  and ``Idempotent-Replayed: true``; with another body 409 (``hub.store.ingest_keys``).
- ``GET /api/v1/messages/{id}``: status and trace of one of the partner's own messages.
- ``/healthz`` (the process answers), ``/readyz`` (database and broker): public.
  ``/metrics`` (Prometheus, computed from the store so every process reports the same
  numbers): only with the operations token ``HUB_API_METRICS_TOKEN`` (a bearer token).
- OpenAPI at ``/openapi.json`` (the contract: ``connectors.inbound.apimodels``), docs at ``/docs``.
  Every refusal is ``{"error": ...}`` (422 adds ``problems``).

The server's own limits (slow requests, header sizes) are ``connectors.inbound.httpserver``'s.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import re
import threading
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Path, Query, Request, Response, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from connectors.inbound.admission import Admitted, NotAdmitted, admit
from connectors.inbound.apimodels import (
    API_KEY,
    API_KEY_AUTHORIZATION,
    CONTENT_TYPES,
    DOCTYPE_PATTERN,
    FILENAME_PATTERN,
    GET_RESPONSES,
    MESSAGE_ID_PATTERN,
    METRICS_RESPONSES,
    METRICS_TOKEN,
    POST_RESPONSES,
    PRINTABLE_ASCII,
    PUBLIC,
    PUBLIC_RESPONSES,
    RAW_BODY,
    REPLAYED_HEADER,
    ErrorBody,
    Health,
    MessageAccepted,
    MessageStatus,
    Problem,
    Readiness,
)
from connectors.inbound.pickup import store_away
from connectors.inbound.syncack import SyncAckError, acknowledge_now, forget
from connectors.security import partner_for_certificate, partner_for_key, record_event
from hub.canonical.enums import PartnerStatus
from hub.exchange import TEST_HEADER
from hub.ids import new_id
from hub.ingest import Accepted, Inbound, Ingest, MessageTooLarge
from hub.operations.terminal import printable
from hub.partners import DocumentFormat, PartnerConfig, PartnerRegistry
from hub.sniff import peek
from hub.store import Message
from hub.store.ingest_keys import DEFAULT_TTL, ClientKey, KeyConflict

log = logging.getLogger(__name__)

PARTNER_CACHE_SECONDS = 30.0
IDEMPOTENCY_KEY = re.compile(r"[\x20-\x7e]{1,255}")  # printable ASCII: what every client and proxy carries intact
# Refusals of unauthenticated callers cost a row and a log line each: bounded per address.
UNAUTHENTICATED_KINDS = frozenset({"auth_failed", "untrusted_cert_header", "metrics_auth_failed"})


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
    metrics_token: SecretStr | None = Field(
        None, description="Bearer token for GET /metrics (operations, not partners); unset: /metrics answers 403")
    auth_failures_recorded_per_minute: int = Field(
        10, ge=1, description="Refused authentications recorded (row and log line) per remote address per minute")
    max_headers: int = Field(100, ge=10, description="Most request headers accepted (else 431)")
    max_header_bytes: int = Field(16384, ge=1024, description="Most bytes of request headers accepted (else 431)")
    header_timeout: float = Field(10.0, gt=0, description="Seconds for a request head to arrive (else 408)")
    request_timeout: float = Field(120.0, gt=0, description="Seconds for a whole request, body included (else 408)")
    keep_alive: float = Field(5.0, gt=0, description="Seconds an idle keep-alive connection is kept")
    max_connections: int = Field(256, ge=1, description="Concurrent connections/requests before 503")

    def proxies(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [ipaddress.ip_network(p.strip()) for p in self.trusted_proxies.split(",") if p.strip()]


@dataclass
class Caller:
    partner: PartnerConfig
    method: str  # api_key or client_cert


class Refused(Exception):
    """A request refused with ``status``; recorded as a security event when ``kind`` is set."""

    def __init__(self, status: int, reason: str, kind: str | None = None, *, challenge: str | None = None,
                 **event: Any) -> None:
        super().__init__(reason)
        self.status, self.reason, self.kind, self.event = status, reason, kind, event
        self.challenge = challenge or ("ApiKey" if status == 401 else None)


class Abandoned(Exception):
    """The client went away before its body was complete."""

    def __init__(self, received: int) -> None:
        super().__init__(f"upload abandoned after {received} bytes")
        self.received = received


def format_of(content_type: str | None, given: str | None, raw: bytes) -> str:
    if given:
        return given  # one of DocumentFormat: checked by the query's schema
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


class RecordingBudget:
    """How many refusals of one kind from one address are recorded (row and log line) per
    minute. Beyond that they are only counted, and the count goes with the next one recorded:
    a caller guessing keys cannot fill the table or the log."""

    WINDOW = 60.0
    MAX_ADDRESSES = 10_000

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._windows: dict[tuple[str, str], list[float]] = {}  # (address, kind) → [start, recorded, skipped]
        self._lock = threading.Lock()

    def take(self, address: str, kind: str) -> int | None:
        """None: do not record this one; else how many were skipped before it."""
        now = time.monotonic()
        with self._lock:
            if len(self._windows) > self.MAX_ADDRESSES:
                self._windows = {k: w for k, w in self._windows.items() if now - w[0] < self.WINDOW}
            window = self._windows.setdefault((address, kind), [now, 0, 0])
            if now - window[0] >= self.WINDOW:
                window[0], window[1] = now, 0
            if window[1] >= self.per_minute:
                window[2] += 1
                return None
            window[1] += 1
            skipped, window[2] = int(window[2]), 0
            return skipped


class InboundApi:
    """The request logic, kept apart from FastAPI's wiring (``create_app``)."""

    def __init__(self, hub, settings: ApiSettings | None = None) -> None:
        self.hub = hub
        self.settings = settings or ApiSettings()
        self.registry = PartnerRegistry(hub.db)
        self.ingest = Ingest(hub)
        self._proxies = self.settings.proxies()
        self._partners: tuple[float, list[PartnerConfig]] = (0.0, [])
        self.budget = RecordingBudget(self.settings.auth_failures_recorded_per_minute)

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

    def authenticate(self, key: str | None, headers: dict[str, str], peer: str | None) -> Caller:
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

    def operator(self, token: str | None, peer: str | None) -> None:
        """GET /metrics: the operations token, compared in constant time; never a partner key."""
        expected = self.settings.metrics_token
        if expected is None:
            raise Refused(403, "metrics are off: set HUB_API_METRICS_TOKEN and scrape with it as a bearer token")
        if token is None or not hmac.compare_digest(token.encode(), expected.get_secret_value().encode()):
            raise Refused(401, "a valid operations token (Authorization: Bearer ...) is needed for /metrics",
                          "metrics_auth_failed", challenge="Bearer", remote_addr=peer)

    # -- what they send ----------------------------------------------------------------------

    def admit(self, caller: Caller, raw: bytes, fmt: str, doctype: str | None, peer: str | None) -> Admitted:
        """The partner's own envelopes and agreed documents only (``connectors.inbound.admission``);
        a refusal keeps the bytes as evidence."""
        try:
            return admit(self.registry, caller.partner, raw, fmt, doctype)
        except NotAdmitted as exc:
            raise Refused(exc.status, exc.reason, exc.kind, partner_id=caller.partner.id, claimed=exc.claimed,
                          remote_addr=peer, raw=raw, detail={**exc.detail, "auth": caller.method}) from None

    def accept(self, caller: Caller, raw: bytes, *, fmt: str, doctype: str | None, filename: str | None,
               peer: str | None, correlation_id: str | None, ack_sync: bool = False,
               idempotency_key: str | None = None) -> dict[str, Any]:
        admitted = self.admit(caller, raw, fmt, doctype, peer)
        doctype, sender, receiver = admitted.doctype, admitted.sender, admitted.receiver
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
                         **({"filename": filename} if filename else {}), **ack_headers,
                         # A partner in testing: its documents reach test endpoints only.
                         **({TEST_HEADER: True} if str(caller.partner.status) == "ONBOARDING" else {})},
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
        """Store the refusal as a security event and log it, within the recording budget for
        callers nobody authenticated."""
        if refused.kind is None:
            return
        event = dict(refused.event)
        if refused.kind in UNAUTHENTICATED_KINDS:
            skipped = self.budget.take(event.get("remote_addr") or "-", refused.kind)
            if skipped is None:
                return
            if skipped:
                event["detail"] = {**(event.get("detail") or {}), "not_recorded_before": skipped}
        record_event(self.hub, refused.kind, refused.reason, **event)
        more = f" ({event['detail']['not_recorded_before']} more not recorded)" if "not_recorded_before" in (
            event.get("detail") or {}) else ""
        log.warning("api: refused (%s): %s%s", refused.kind, printable(refused.reason), more)


def _api_key_from_authorization(value: str | None) -> str | None:
    if value and value.lower().startswith("apikey "):
        return value[7:].strip()
    return None


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it passes ``limit`` (declared or streamed)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise Refused(413, str(MessageTooLarge(int(declared), limit)))
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise Refused(413, f"message exceeds the limit of {limit} bytes (HUB_MAX_MESSAGE_BYTES)")
            chunks.append(chunk)
    except ClientDisconnect:
        raise Abandoned(size) from None
    return b"".join(chunks)


# -- the FastAPI application -----------------------------------------------------------------------

IDEMPOTENCY_DOC = (
    "Your key for this message (1-255 printable ASCII characters, e.g. a UUID): send the same key "
    "again when you retry. It is committed with the message and remembered for HUB_API_IDEMPOTENCY_TTL "
    "(default 7 days), per partner. The same key with the same body answers 202 with the first "
    "request's message id and that message's current status, marked replayed (body `replayed: true`, "
    "header `Idempotent-Replayed: true`); nothing is stored or delivered again. The same key with a "
    "different body answers 409. After the time has passed the key is free again.")


def _error(status: int, body: ErrorBody, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers)


def _problems(exc: RequestValidationError) -> list[Problem]:
    out = []
    for e in exc.errors():
        where = ".".join(str(p) for p in e["loc"])
        out.append(Problem(where=where, reason=str(e["msg"])))
    return out


def _peer(request: Request) -> str | None:
    return request.client.host if request.client else None


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
    _handlers(app, api)

    async def partner(request: Request, x_api_key: Annotated[str | None, Security(API_KEY)] = None,
                      authorization: Annotated[str | None, Security(API_KEY_AUTHORIZATION)] = None) -> Caller:
        """Who is calling: runs before any parameter is validated, so a caller without valid
        credentials learns nothing about the parameters (401 always comes before 422)."""
        key = x_api_key or _api_key_from_authorization(authorization)
        headers = {k.lower(): v for k, v in request.headers.items()}
        return await run_in_threadpool(api.authenticate, key, headers, _peer(request))

    async def operator(request: Request, credentials: Annotated[
            HTTPAuthorizationCredentials | None, Security(METRICS_TOKEN)] = None) -> None:
        api.operator(credentials.credentials if credentials else None, _peer(request))

    @app.post("/api/v1/messages", status_code=202, openapi_extra=RAW_BODY, responses=POST_RESPONSES,
              operation_id="postMessage",
              response_model=MessageAccepted, response_model_exclude_none=True,
              summary="Send one message (stored durably before the 202)")
    async def post_message(
        request: Request, response: Response,
        format: Annotated[DocumentFormat | None, Query(description="Default from Content-Type, else detected",
                                                       examples=["csv"])] = None,
        doctype: Annotated[str | None, Query(pattern=DOCTYPE_PATTERN, max_length=64, examples=["cycle_count"],
                                             description=(
            "Default: from the EDI envelope / XML root. Must be one the partner may send (and, for EDI, one "
            "the envelope holds)"))] = None,
        filename: Annotated[str | None, Query(max_length=255, pattern=FILENAME_PATTERN,
                                              description="Original file name (kept as data)")] = None,
        ack: Annotated[str | None, Query(pattern="^sync$", description="sync: return the acknowledgement")] = None,
        correlation_id: Annotated[str | None, Header(max_length=128, pattern=PRINTABLE_ASCII)] = None,
        # Checked by checked_idempotency_key, not by FastAPI: a bad key is a 400 with our error.
        idempotency_key: Annotated[str | None, Header(
            alias="Idempotency-Key", description=IDEMPOTENCY_DOC,
            json_schema_extra={"minLength": 1, "maxLength": 255, "pattern": PRINTABLE_ASCII})] = None,
        # A default, not an annotation: the dependency is local to this app (annotations are strings here).
        caller: Caller = Depends(partner),
    ) -> dict[str, Any]:
        client_key = checked_idempotency_key(idempotency_key)
        raw = await read_body(request, hub.settings.max_message_bytes)
        if not raw:
            raise Refused(400, "empty body")
        fmt = format_of(request.headers.get("content-type"), format, raw)
        result = await run_in_threadpool(api.accept, caller, raw, fmt=fmt, doctype=doctype, filename=filename,
                                         peer=_peer(request), correlation_id=correlation_id,
                                         ack_sync=ack == "sync", idempotency_key=client_key)
        response.headers["Location"] = result["status_url"]
        if result["replayed"]:
            response.headers[REPLAYED_HEADER] = "true"
        return result

    @app.get("/api/v1/messages/{message_id}", summary="Status and trace of one of your messages",
             operation_id="getMessage",
             response_model=MessageStatus, responses=GET_RESPONSES)
    async def get_message(message_id: Annotated[str, Path(pattern=MESSAGE_ID_PATTERN)],
                          caller: Caller = Depends(partner)) -> dict[str, Any]:
        return await run_in_threadpool(message_status, hub, caller.partner.id, message_id)

    @app.get("/healthz", summary="The process is up", response_model=Health, openapi_extra=PUBLIC,
             operation_id="health",
             responses=PUBLIC_RESPONSES)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", summary="Database and broker reachable", response_model=Readiness, openapi_extra=PUBLIC,
             operation_id="ready",
             responses={503: {"model": Readiness, "description": "The database does not answer"},
                        **PUBLIC_RESPONSES})
    async def readyz() -> JSONResponse:
        body = await run_in_threadpool(readiness, hub)
        return JSONResponse(body, status_code=200 if body["database"] == "ok" else 503)

    @app.get("/metrics", summary="Prometheus metrics computed from the store (operations token)",
             operation_id="metrics",
             response_class=PlainTextResponse, responses=METRICS_RESPONSES, dependencies=[Depends(operator)])
    async def metrics() -> Response:
        from connectors.metrics import render_metrics

        data, content_type = await run_in_threadpool(render_metrics, hub.db)
        return Response(data, media_type=content_type)

    from hub.console import mount as mount_console  # the operations console: its own package (hub/console)

    mount_console(app, hub)
    from connectors.as2.inbound import mount as mount_as2  # POST /as2: its own package (connectors/as2)

    mount_as2(app, hub)
    return app


def _handlers(app: FastAPI, api: InboundApi) -> None:
    """One error shape for every refusal: the API's own, FastAPI's validation, Starlette's."""

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> JSONResponse:
        if exc.kind is not None:
            await run_in_threadpool(api.record, exc)
        headers = {"WWW-Authenticate": exc.challenge} if exc.challenge else None
        return _error(exc.status, ErrorBody(error=exc.reason), headers)

    @app.exception_handler(KeyConflict)
    async def key_conflict(request: Request, exc: KeyConflict) -> JSONResponse:
        return _error(409, ErrorBody(
            error=f"Idempotency-Key {exc.key!r} was already used for message {exc.message_id} with a different "
                  "body: use a new key for a new message", idempotency_key=exc.key, message_id=exc.message_id))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = _problems(exc)
        summary = "; ".join(f"{p.where}: {p.reason}" for p in problems)
        return _error(422, ErrorBody(error=f"invalid request: {summary}", problems=problems))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, ErrorBody(error=str(exc.detail)), dict(exc.headers or {}) or None)

    @app.exception_handler(Abandoned)
    async def abandoned(request: Request, exc: Abandoned) -> Response:
        # One line, no traceback: a client that hangs up mid-upload is not the hub's error.
        log.warning("api: %s: %s", _peer(request) or "a client", exc)
        return Response(status_code=400)  # nobody is listening any more

    @app.exception_handler(SQLAlchemyError)
    async def store_down(request: Request, exc: SQLAlchemyError) -> JSONResponse:
        if not store_away(exc):
            raise exc  # a fault of the hub: a 500 with its traceback in the log
        log.warning("api: the message store does not answer: %s", type(exc).__name__)
        return _error(503, ErrorBody(error="the message store does not answer: nothing was stored, send again later"),
                      {"Retry-After": "5"})


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

