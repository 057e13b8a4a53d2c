"""HTTP endpoint: POST/PUT the payload with an Idempotency-Key that never changes for the
same delivery (retries and replays included), so an endpoint that honours it applies a
document once.

Hardening, per endpoint (options in docs/connectors.md):

- auth: bearer token or basic credentials from environment variables, or OAuth2 client
  credentials (``connectors.outbound.oauth2``: cached token, refreshed before expiry and
  after a 401, then the call is made once more);
- timeouts: ``timeout`` for reads/writes/pool, ``connect_timeout`` for the connection;
- ``max_concurrency`` and ``rate_limit`` hold across every worker process
  (``connectors.outbound.guards``). A delivery waits at most ``max_wait`` for a slot or a
  token, then is tried again shortly without a call (``busy``).

Answers are classified for the delivery core (``hub.delivery.sending``): 2xx delivered;
502/503/504, 429, connection errors and timeouts mean the endpoint is down (``unavailable``:
its circuit opens, the document waits without spending a retry; ``Retry-After`` is passed
on); 408 and the other 5xx are this document's failure (``retry``); any other 4xx is a
business reject.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus

import httpx

from connectors.outbound import batching
from connectors.outbound.guards import PROBE_MARGIN, Guards, LocalGuards
from connectors.outbound.oauth2 import TOKENS, TokenCache, TokenError
from connectors.outbound.wire import Wire, WireError, proxied
from hub.delivery.sending import MAX_RESPONSE, DeliveryResult, Payload
from hub.routes.model import BatchPolicy, HttpConfig

OUTAGE = {429, 502, 503, 504}  # the endpoint (or what fronts it) is down or asks us to back off
MAX_RETRY_AFTER = 3600.0  # an endpoint's Retry-After is honoured up to an hour
_SLOT_POLL = (0.02, 0.25)  # first and longest pause between tries for a concurrency slot


class Busy(Exception):
    """No slot or rate-limit token within max_wait: retry later, no call made."""


class HttpSender:
    def __init__(self, name: str, config: HttpConfig, guards: Guards | None = None,
                 tokens: TokenCache = TOKENS) -> None:
        self.name = name
        self.config = config
        self.guards: Guards = guards if guards is not None else LocalGuards()
        self.tokens = tokens
        self._client: httpx.Client | None = None
        self._pid = -1
        # Deliveries go over http.client (connectors.outbound.wire) unless a proxy is configured
        # for the URL; httpx stays for token requests and proxied endpoints.
        self.wire = None if proxied(config.url) else Wire(config.url, config.timeout,
                                                           config.connect_timeout or config.timeout)

    @property
    def client(self) -> httpx.Client:
        if self._client is None or self._pid != os.getpid():  # never share a pool across fork
            cfg = self.config
            timeout = httpx.Timeout(cfg.timeout, connect=cfg.connect_timeout or cfg.timeout)
            self._client = httpx.Client(timeout=timeout, follow_redirects=False)
            self._pid = os.getpid()
        return self._client

    def close(self) -> None:
        """Close this sender's keep-alive sockets (a reload replaced the endpoint's configuration)."""
        if self.wire is not None:
            self.wire.close()
        if self._client is not None and self._pid == os.getpid():
            self._client.close()
        self._client = None

    # -- auth ------------------------------------------------------------------------------------

    def _auth_headers(self) -> dict[str, str]:
        auth = self.config.auth
        if auth is None:
            return {}
        if auth.oauth2 is not None:
            return {"Authorization": f"Bearer {self.tokens.get(auth.oauth2, self.client)}"}
        if auth.bearer_env:
            token = os.environ.get(auth.bearer_env)
            if not token:
                raise LookupError(f"environment variable {auth.bearer_env} (bearer token) is not set")
            return {"Authorization": f"Bearer {token}"}
        user, password = os.environ.get(auth.basic_user_env or ""), os.environ.get(auth.basic_password_env or "")
        if user is None or password is None:
            raise LookupError(f"environment variables {auth.basic_user_env}/{auth.basic_password_env} are not set")
        return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")}

    # -- guards ----------------------------------------------------------------------------------

    @contextmanager
    def _slot(self, deadline: float) -> Iterator[None]:
        slots = self.config.max_concurrency
        if slots is None:
            yield
            return
        pause = _SLOT_POLL[0]
        lease = self.config.timeout + (self.config.connect_timeout or self.config.timeout) + PROBE_MARGIN
        while (token := self.guards.acquire(self.name, slots, lease)) is None:
            if time.monotonic() + pause > deadline:
                raise Busy(f"all {slots} concurrency slots busy for {self.config.max_wait:g}s (max_wait)")
            time.sleep(pause)
            pause = min(pause * 2, _SLOT_POLL[1])
        try:
            yield
        finally:
            self.guards.release(self.name, token)

    def _pace(self, deadline: float) -> None:
        limit = self.config.rate_limit
        if limit is None:
            return
        wait = self.guards.reserve(self.name, limit.per_second, limit.burst, max(0.0, deadline - time.monotonic()))
        if wait is None:
            raise Busy(f"rate limit {limit.per_second:g}/s (burst {limit.burst}) booked beyond "
                       f"{self.config.max_wait:g}s (max_wait)")
        time.sleep(wait)

    # -- sending ---------------------------------------------------------------------------------

    def send(self, payload: Payload) -> DeliveryResult:
        headers = {**self.config.headers, **payload.headers, "Content-Type": payload.content_type,
                   "Idempotency-Key": payload.idempotency_key, "X-Hub-Message-Id": payload.message_id,
                   "X-Hub-Delivery-Id": payload.delivery_id}
        if payload.document_type:
            headers["X-Hub-Document-Type"] = payload.document_type
        return self._guarded(payload.body, headers)[0]

    def send_batch(self, payloads: list[Payload], policy: BatchPolicy, payload_format: str) -> list[DeliveryResult]:
        """Many documents in one call (connectors.outbound.batching): one result per document."""
        types = {p.content_type for p in payloads}
        headers = {**self.config.headers, **payloads[0].headers,
                   "Content-Type": types.pop() if len(types) == 1 else "application/octet-stream",
                   "Idempotency-Key": batching.batch_id(payloads), "X-Hub-Batch-Size": str(len(payloads))}
        if payload_format == "raw" or policy.items == "documents":
            headers[batching.KEYS_HEADER] = ",".join(p.idempotency_key for p in payloads)
        if (doc_type := batching.common_type(payloads)) is not None:
            headers["X-Hub-Document-Type"] = doc_type
        whole, text = self._guarded(batching.body(policy, payload_format, payloads), headers)
        return batching.outcomes(whole, text, payloads, lambda code, answer: classify(code, answer))

    def _guarded(self, body: bytes, headers: dict[str, str]) -> tuple[DeliveryResult, str | None]:
        """One call within the endpoint's concurrency and rate limits → (result, the whole answer)."""
        deadline = time.monotonic() + self.config.max_wait
        if self.wire is None:
            self.client  # noqa: B018 - build the pool first: a booked send time should not wait for it
        try:
            with self._slot(deadline):
                self._pace(deadline)
                return self._call_with_auth(body, headers)
        except Busy as exc:
            return DeliveryResult("busy", error=f"not sent: {exc}", called=False), None

    def _call_with_auth(self, body: bytes, headers: dict[str, str]) -> tuple[DeliveryResult, str | None]:
        try:
            auth = self._auth_headers()
        except (LookupError, TokenError) as exc:
            # Missing credentials or a token server that is down: no document can go out, so the
            # endpoint counts as unavailable (fixing the environment needs no replay).
            return DeliveryResult("unavailable", error=str(exc), called=False), None
        result = self._call(body, headers, auth)
        oauth2 = self.config.auth.oauth2 if self.config.auth else None
        if result[0].status_code == 401 and oauth2 is not None:
            # The token was revoked or expired early: fetch a new one and try once more.
            self.tokens.invalidate(oauth2, auth["Authorization"].removeprefix("Bearer "))
            try:
                auth = self._auth_headers()
            except TokenError as exc:
                return DeliveryResult("unavailable", error=str(exc)), None
            result = self._call(body, headers, auth)
        return result

    def _call(self, body: bytes, headers: dict[str, str], auth: dict[str, str]) -> tuple[DeliveryResult, str | None]:
        if self.wire is not None:
            return self._call_wire(body, {**headers, **auth})
        try:
            resp = self.client.request(self.config.method, self.config.url, content=body, headers={**headers, **auth})
        except httpx.TimeoutException as exc:
            return self._timeout(type(exc).__name__), None
        except httpx.TransportError as exc:  # refused, reset, DNS, TLS
            return self._unreachable(type(exc).__name__, exc), None
        text = resp.text
        return classify(resp.status_code, text[:MAX_RESPONSE], resp.reason_phrase, resp.headers.get("Retry-After")), text

    def _call_wire(self, body: bytes, headers: dict[str, str]) -> tuple[DeliveryResult, str | None]:
        try:
            answer = self.wire.request(self.config.method, body, headers)
        except WireError as exc:
            return (self._timeout(exc.kind) if exc.timeout else self._unreachable(exc.kind, exc)), None
        text = answer.text
        return classify(answer.status, text[:MAX_RESPONSE], answer.reason, answer.headers.get("Retry-After")), text

    def _timeout(self, kind: str) -> DeliveryResult:
        return DeliveryResult("unavailable", error=f"timeout after {self.config.timeout}s: {kind}")

    @staticmethod
    def _unreachable(kind: str, exc: BaseException) -> DeliveryResult:
        return DeliveryResult("unavailable", error=f"connection error: {kind}: {exc}")


def classify(code: int, text: str, reason: str = "", retry_after_header: str | None = None) -> DeliveryResult:
    """An HTTP status in the core's vocabulary (see the module docstring)."""
    reason = reason or _phrase(code)
    if 200 <= code < 300:
        return DeliveryResult("delivered", code, text)
    if code in OUTAGE:
        wait = retry_after(retry_after_header)
        # "Too many requests" is about all our documents: back off at once, even unasked.
        return DeliveryResult("unavailable", code, text, error=f"HTTP {code} {reason}",
                              retry_after=0.0 if wait is None and code == 429 else wait)
    if code == 408 or code >= 500:
        return DeliveryResult("retry", code, text, error=f"HTTP {code} {reason}")
    return DeliveryResult("reject", code, text, error=f"HTTP {code} {reason}: {text[:500]}")


def _phrase(code: int) -> str:
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return ""


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delay-seconds or an HTTP date), at most an hour."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value) if value.isdigit() else (
            parsedate_to_datetime(value).astimezone(UTC) - datetime.now(UTC)).total_seconds()
    except (TypeError, ValueError, OverflowError):
        return None
    return min(MAX_RETRY_AFTER, max(0.0, seconds))
