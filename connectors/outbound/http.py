"""HTTP endpoint: POST/PUT the payload with an Idempotency-Key that never changes for the
same delivery (retries and replays included), so an endpoint that honours it applies a
document once."""

from __future__ import annotations

import base64
import os

import httpx

from connectors.outbound import MAX_RESPONSE, DeliveryResult, Payload

RETRYABLE = {408, 429}


class HttpSender:
    def __init__(self, name: str, config) -> None:
        self.name = name
        self.config = config
        self._client: httpx.Client | None = None
        self._pid = -1

    @property
    def client(self) -> httpx.Client:
        if self._client is None or self._pid != os.getpid():  # never share a pool across fork
            self._client = httpx.Client(timeout=self.config.timeout, follow_redirects=False)
            self._pid = os.getpid()
        return self._client

    def _auth_headers(self) -> dict[str, str]:
        auth = self.config.auth
        if auth is None:
            return {}
        if auth.bearer_env:
            token = os.environ.get(auth.bearer_env)
            if not token:
                raise LookupError(f"environment variable {auth.bearer_env} (bearer token) is not set")
            return {"Authorization": f"Bearer {token}"}
        user, password = os.environ.get(auth.basic_user_env or ""), os.environ.get(auth.basic_password_env or "")
        if user is None or password is None:
            raise LookupError(f"environment variables {auth.basic_user_env}/{auth.basic_password_env} are not set")
        return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")}

    def send(self, payload: Payload) -> DeliveryResult:
        try:
            auth = self._auth_headers()
        except LookupError as exc:
            return DeliveryResult("retry", error=str(exc))  # configuration may be fixed without a replay
        headers = {
            **self.config.headers,
            **payload.headers,
            **auth,
            "Content-Type": payload.content_type,
            "Idempotency-Key": payload.idempotency_key,
            "X-Hub-Message-Id": payload.message_id,
            "X-Hub-Delivery-Id": payload.delivery_id,
        }
        if payload.document_type:
            headers["X-Hub-Document-Type"] = payload.document_type
        try:
            resp = self.client.request(self.config.method, self.config.url, content=payload.body, headers=headers)
        except httpx.TimeoutException as exc:
            return DeliveryResult("retry", error=f"timeout after {self.config.timeout}s: {type(exc).__name__}")
        except httpx.TransportError as exc:
            return DeliveryResult("retry", error=f"connection error: {type(exc).__name__}: {exc}")
        text = resp.text[:MAX_RESPONSE]
        code = resp.status_code
        if 200 <= code < 300:
            return DeliveryResult("delivered", code, text)
        if code in RETRYABLE or code >= 500:
            return DeliveryResult("retry", code, text, error=f"HTTP {code} {resp.reason_phrase}")
        return DeliveryResult("reject", code, text, error=f"HTTP {code} {resp.reason_phrase}: {text[:500]}")
