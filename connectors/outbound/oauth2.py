"""OAuth2 client credentials for outbound HTTP: fetch a token, cache it, refresh it.

Tokens are cached per worker process (keyed by token URL, client id, scope and audience) and
never written to the database or logs: fetching one is cheap and a token at rest is a secret
at rest. A token is replaced ``refresh_before`` seconds before it expires, and at once when
the resource server answers 401 (``invalidate``), after which the call is made once more.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

import httpx

from hub.routes.model import OAuth2Config

DEFAULT_LIFETIME = 300.0  # seconds, when the token endpoint omits expires_in


class TokenError(Exception):
    """No token could be had; the message names the token endpoint and the reason."""


@dataclass(frozen=True)
class Token:
    value: str
    expires_at: float  # time.monotonic()


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise TokenError(f"environment variable {name} (OAuth2 client credential) is not set")
    return value


def fetch_token(config: OAuth2Config, client: httpx.Client) -> Token:
    client_id, secret = _env(config.client_id_env), _env(config.client_secret_env)
    form = {"grant_type": "client_credentials"}
    if config.scope:
        form["scope"] = config.scope
    if config.audience:
        form["audience"] = config.audience
    auth = None
    if config.client_auth == "basic":
        auth = httpx.BasicAuth(client_id, secret)
    else:
        form.update(client_id=client_id, client_secret=secret)
    started = time.monotonic()
    try:
        resp = client.post(config.token_url, data=form, auth=auth, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise TokenError(f"token endpoint {config.token_url}: {type(exc).__name__}: {exc}") from None
    if resp.status_code != 200:
        raise TokenError(f"token endpoint {config.token_url} answered HTTP {resp.status_code}: {resp.text[:300]}")
    try:
        data = resp.json()
        value = data["access_token"]
        lifetime = float(data.get("expires_in") or DEFAULT_LIFETIME)
    except (ValueError, KeyError, TypeError):
        raise TokenError(f"token endpoint {config.token_url} sent no access_token in JSON") from None
    if str(data.get("token_type", "bearer")).lower() != "bearer":
        raise TokenError(f"token endpoint {config.token_url} sent a {data.get('token_type')!r} token, not bearer")
    return Token(str(value), started + lifetime)


class TokenCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[tuple, Token] = {}
        self.fetches = 0  # how many tokens this process fetched (shown by tests and metrics)

    @staticmethod
    def _key(config: OAuth2Config) -> tuple:
        return config.token_url, os.environ.get(config.client_id_env), config.scope, config.audience

    def get(self, config: OAuth2Config, client: httpx.Client) -> str:
        key = self._key(config)
        with self._lock:  # one fetch at a time per process; the others reuse its token
            token = self._tokens.get(key)
            if token is None or time.monotonic() >= token.expires_at - config.refresh_before:
                token = self._tokens[key] = fetch_token(config, client)
                self.fetches += 1
            return token.value

    def invalidate(self, config: OAuth2Config, value: str) -> None:
        """Forget ``value`` if it is still the cached token (a 401 said it is no good)."""
        key = self._key(config)
        with self._lock:
            if key in self._tokens and self._tokens[key].value == value:
                del self._tokens[key]


TOKENS = TokenCache()
