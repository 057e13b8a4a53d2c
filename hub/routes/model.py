"""Route and endpoint models: what a YAML route file may say (validated by pydantic).

Vocabulary after Apache Camel's YAML DSL: a route has ``from`` (a match on the inbound
message), ``steps`` (parse, transform, validate, filter, split, set_header, ...), ``to``
(endpoints, multicast) and an error policy (retries with backoff, then a dead letter).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, field_validator, model_validator

from hub.broker.topology import key_token

NAME = r"^[a-z0-9][a-z0-9_-]{0,62}$"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(value: Any) -> float:
    """``500ms``, ``2s``, ``5m``, ``1h`` or a number of seconds → seconds."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a string like 2s, 500ms, 5m")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        m = _DURATION.match(str(value))
        if not m:
            raise ValueError(f"bad duration {value!r}: use seconds or a string like 2s, 500ms, 5m, 1h")
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration), WithJsonSchema({
    "anyOf": [{"type": "number", "minimum": 0}, {"type": "string", "pattern": _DURATION.pattern}],
    "description": "seconds, or a string like 500ms, 2s, 5m, 1h"})]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Match(Strict):
    """Which inbound messages a route takes. format/doctype/sender become the topic binding
    (``<format>.<doctype>.<sender>``; omitted = any); headers are checked by the worker."""

    format: str | None = Field(None, description="csv, json, x12, edifact, xml, fixed ...")
    doctype: str | None = Field(None, description="Document type, e.g. cycle_count, 856, DESADV")
    sender: str | list[str] | None = Field(None, description="Sender / partner id(s)")
    headers: dict[str, str] = Field(default_factory=dict, description="Exact header values required")

    @field_validator("format", "doctype")
    @classmethod
    def _word(cls, v: str | None) -> str | None:
        if v is not None and (not v or any(c in v for c in ".#* ")):
            raise ValueError(f"{v!r} must be one word without '.', '*', '#' or spaces (omit it to match any)")
        return v

    @field_validator("sender")
    @classmethod
    def _senders(cls, v: str | list[str] | None) -> str | list[str] | None:
        for s in [v] if isinstance(v, str) else (v or []):
            if not s or any(c in s for c in "#*"):
                raise ValueError(f"sender {s!r} must be a literal id (omit sender to match any)")
        if isinstance(v, list) and not v:
            raise ValueError("sender list is empty")
        return v

    def binding_keys(self) -> tuple[str, ...]:
        fmt = key_token(self.format) if self.format else "*"
        doc = key_token(self.doctype) if self.doctype else "*"
        senders = [self.sender] if isinstance(self.sender, str) else (self.sender or [])
        return tuple(f"{fmt}.{doc}.{key_token(s)}" for s in senders) if senders else (f"{fmt}.{doc}.*",)

    def headers_match(self, headers: dict[str, Any]) -> bool:
        return all(str(headers.get(k)) == v for k, v in self.headers.items())


class Backoff(Strict):
    initial: Duration = Field(1.0, description="First retry delay")
    max: Duration = Field(300.0, description="Longest delay")
    multiplier: float = Field(2.0, ge=1.0, le=10.0)
    jitter: float = Field(0.1, ge=0.0, le=1.0, description="Random ± fraction of each delay")

    def delay(self, retries_done: int, rand: float) -> float:
        """Delay before retry number ``retries_done + 1``; ``rand`` in [0, 1)."""
        base = min(self.max, self.initial * (self.multiplier ** retries_done))
        return max(0.0, base * (1 + self.jitter * (2 * rand - 1)))


class DeadLetter(Strict):
    notify: list[str] = Field(default_factory=list, description="Endpoints told about each dead letter")


class ErrorPolicy(Strict):
    """Failures that belong to the document (an endpoint answering 500 or 408 for it while it
    takes others, a step failing unexpectedly) are retried with backoff: ``retries: 5`` means
    six attempts. What still fails, and what can never succeed (bad input, a 4xx business
    reject), goes to the route's or the endpoint's dead-letter queue with the last reason.
    An endpoint that is down is not the document's fault: see ``CircuitPolicy``."""

    retries: int = Field(5, ge=0, le=100, description="Retries after the first attempt")
    backoff: Backoff = Field(default_factory=Backoff)
    dead_letter: DeadLetter = Field(default_factory=DeadLetter)


class Route(Strict):
    name: str = Field(pattern=NAME)
    description: str = ""
    enabled: bool = True
    from_: Match = Field(alias="from")
    steps: list[dict[str, Any]] = Field(default_factory=list, description="One-key mappings: - parse: csv")
    to: list[str] = Field(default_factory=list, description="Endpoint names (multicast)")
    on_error: ErrorPolicy = Field(default_factory=ErrorPolicy)

    @field_validator("steps")
    @classmethod
    def _one_key(cls, steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for i, s in enumerate(steps):
            if not isinstance(s, dict) or len(s) != 1:
                raise ValueError(f"step {i + 1} must be a mapping with exactly one key, like '- parse: csv'")
        return steps

    @field_validator("to")
    @classmethod
    def _unique_to(cls, to: list[str]) -> list[str]:
        if len(set(to)) != len(to):
            raise ValueError("an endpoint is listed twice in 'to'")
        return to


# -- endpoints ---------------------------------------------------------------------------------

PayloadFormat = Literal["json", "raw", "xml"]
ENV_VAR = r"^[A-Z_][A-Z0-9_]*$"
EnvVar = Annotated[str, Field(pattern=ENV_VAR, description="Name of an environment variable (never the value)")]


class OAuth2Config(Strict):
    """OAuth2 client credentials (RFC 6749 4.4). The token is cached per worker process and
    fetched again before it expires (``refresh_before``) and after a 401."""

    token_url: str = Field(pattern=r"^https?://")
    client_id_env: EnvVar
    client_secret_env: EnvVar
    scope: str | None = None
    audience: str | None = None
    client_auth: Literal["basic", "body"] = Field("basic", description="client_secret_basic or client_secret_post")
    refresh_before: Duration = Field(30.0, description="Fetch a new token this long before the old one expires")


class HttpAuth(Strict):
    """Secrets are never written in YAML: only the names of environment variables."""

    bearer_env: str | None = None
    basic_user_env: str | None = None
    basic_password_env: str | None = None
    oauth2: OAuth2Config | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> HttpAuth:
        basic = (self.basic_user_env, self.basic_password_env)
        if sum(map(bool, (self.bearer_env, any(basic), self.oauth2))) > 1:
            raise ValueError("choose one of bearer_env, basic_*_env or oauth2")
        if any(basic) and not all(basic):
            raise ValueError("basic auth needs basic_user_env and basic_password_env")
        return self


class RateLimit(Strict):
    per_second: float = Field(gt=0, description="Sustained calls per second, shared by every worker process")
    burst: int = Field(1, ge=1, description="Calls allowed back to back above the sustained rate")


class HttpConfig(Strict):
    url: str = Field(pattern=r"^https?://")
    method: Literal["POST", "PUT", "PATCH"] = "POST"
    format: PayloadFormat = "json"
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: Duration = Field(10.0, description="Read/write/pool timeout of one call")
    connect_timeout: Duration | None = Field(None, description="TCP/TLS connect timeout; default: timeout")
    auth: HttpAuth | None = None
    max_concurrency: int | None = Field(None, ge=1, le=1000, description="Calls in flight at once, all workers")
    rate_limit: RateLimit | None = None
    max_wait: Duration = Field(10.0, description="Longest a delivery waits for a concurrency slot or a "
                               "rate-limit token; after that it is retried later (no call is made)")

    @field_validator("headers")
    @classmethod
    def _no_secret_headers(cls, headers: dict[str, str]) -> dict[str, str]:
        for name in headers:
            if name.lower() in {"authorization", "proxy-authorization", "x-api-key", "cookie"}:
                raise ValueError(f"header {name!r} carries a secret: use auth.*_env to read it from the environment")
        return headers


class FileConfig(Strict):
    path: str = Field(description="Target folder")
    format: PayloadFormat = "json"
    filename: str = Field("{message_id}-{seq}.{ext}", description="Template: {message_id} {seq} {route} "
                          "{document_type} {document_key} {ext}")

    @field_validator("filename")
    @classmethod
    def _template(cls, v: str) -> str:
        return filename_template(v)


def filename_template(v: str) -> str:
    allowed = {"message_id", "seq", "route", "document_type", "document_key", "ext", "delivery_id"}
    for name in re.findall(r"{([^{}]*)}", v):
        if name not in allowed:
            raise ValueError(f"unknown placeholder {{{name}}} (allowed: {', '.join(sorted(allowed))})")
    if "/" in v or "\\" in v:
        raise ValueError("filename must not contain a path separator")
    return v


class SftpAuth(Strict):
    """SFTP credentials by reference: names of environment variables only."""

    username_env: EnvVar
    password_env: EnvVar | None = None
    private_key_env: EnvVar | None = Field(None, description="Variable holding the PATH of a private key file")
    passphrase_env: EnvVar | None = Field(None, description="Variable holding the private key's passphrase")

    @model_validator(mode="after")
    def _some_secret(self) -> SftpAuth:
        if not (self.password_env or self.private_key_env):
            raise ValueError("give password_env or private_key_env (or both)")
        return self


class SftpServer(Strict):
    host: str = Field(min_length=1)
    port: int = Field(22, ge=1, le=65535)
    auth: SftpAuth
    host_key_sha256: str | None = Field(None, pattern=r"^SHA256:[A-Za-z0-9+/]{43}=?$",
                                        description="Server key fingerprint as `ssh-keygen -lf` prints it")
    known_hosts: str | None = Field(None, description="OpenSSH known_hosts file holding the server key")
    connect_timeout: Duration = 15.0
    io_timeout: Duration = Field(30.0, description="An SFTP request the server does not answer within this "
                                 "drops the session, with the reason (a frozen server)")
    path: str = Field(min_length=1, description="Remote folder")

    @model_validator(mode="after")
    def _host_key_checked(self) -> SftpServer:
        if (self.host_key_sha256 is None) == (self.known_hosts is None):
            raise ValueError("give exactly one of host_key_sha256 or known_hosts: the server's key is always checked")
        return self


class SftpEndpointConfig(SftpServer):
    """Outbound SFTP: written to a temporary name in ``path``, then renamed into place."""

    format: PayloadFormat = "raw"
    filename: str = Field("{message_id}-{seq}.{ext}", description="Same placeholders as file endpoints")

    @field_validator("filename")
    @classmethod
    def _template(cls, v: str) -> str:
        return filename_template(v)


class As2EndpointConfig(Strict):
    """Outbound AS2 (connectors.as2, docs/as2.md): signed, encrypted and compressed as the
    partner's registry agreement says, posted, and delivered only on a positive MDN whose MIC
    matches. Identities and certificates come from the registry entry of ``partner``."""

    partner: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$", description="Partner id in the registry")
    url: str | None = Field(None, pattern=r"^https?://", description="Default: the partner's as2.url")
    format: PayloadFormat = "raw"
    subject: str | None = Field(None, max_length=200, description="AS2 Subject; default the document type and key")
    filename: str = Field("{document_type}-{document_key}.{ext}", description="Content-Disposition file name "
                          "(the file endpoint's placeholders)")
    timeout: Duration = Field(30.0, description="Connect and read timeout of the POST (a synchronous MDN comes back in it)")
    mdn_wait: Duration = Field(20.0, description="Asynchronous MDN: how long an attempt waits for it before the "
                               "delivery is tried again (the same Message-ID; the partner's as2.mdn_within "
                               "says when it is overdue)")

    @field_validator("filename")
    @classmethod
    def _template(cls, v: str) -> str:
        return filename_template(v)

    @model_validator(mode="after")
    def _within_lease(self) -> As2EndpointConfig:
        # A delivery's claim lasts 60 s plus a margin for kinds without their own lease rule
        # (hub.delivery.deliver.lease_seconds): an attempt must end well within it.
        if self.timeout + self.mdn_wait > 60:
            raise ValueError("timeout + mdn_wait must not exceed 60s (one delivery attempt's claim)")
        return self


ENDPOINT_KINDS = ("http", "file", "sftp", "as2")


class CircuitPolicy(Strict):
    """When an endpoint counts as down, and how it is probed (hub.delivery.circuit). Outage
    answers (connection refused or reset, timeouts, DNS/TLS failures, 502/503/504, 429) never
    spend a document's retries: they open the circuit and the deliveries wait."""

    failures: int = Field(3, ge=1, le=1000, description="Consecutive outage answers that open the circuit "
                          "(a 429 or a Retry-After opens it at once)")
    probe_initial: Duration = Field(2.0, description="First probe this long after the circuit opens")
    probe_max: Duration = Field(30.0, description="Longest pause between probes (doubles after each failed one)")
    max_outage: Duration = Field(24 * 3600.0, description="After this long down, waiting deliveries are "
                                 "dead-lettered as endpoint_unavailable")


ORDERED_BY = Literal["document_key"]
BATCH_KINDS = ("http", "file")
BATCH_KEY_HEADER_MAX = 200  # keys in one X-Hub-Idempotency-Keys header: ≈7.4 KB, under common 8 KB line limits


class BatchPolicy(Strict):
    """An endpoint that accepts many documents per call (an HTTP body holding a JSON array, a
    file holding many documents): the hub sends up to ``max_documents`` of the deliveries it has
    for the endpoint at once and records each document's outcome from the answer
    (connectors.outbound.batching, docs/connectors.md "Batches")."""

    max_documents: int = Field(50, ge=2, le=1000, description="Documents per request or file at most")
    items: Literal["documents", "keyed"] = Field("documents", description=(
        "json: `documents` sends the documents as they are, their idempotency keys in the "
        "X-Hub-Idempotency-Keys header in array order; `keyed` wraps each as {idempotency_key, delivery_id, "
        "message_id, document_type, document}"))
    separator: str = Field("\n", description="raw: bytes put between two documents (a file of EDI interchanges, "
                           "CSV lines ...)")
    filename: str = Field("batch-{batch_id}.{ext}", description="file: the batch file's name; placeholders "
                          "{batch_id} (stable for the same documents) {count} {document_type} {ext}")

    @field_validator("filename")
    @classmethod
    def _template(cls, v: str) -> str:
        for name in re.findall(r"{([^{}]*)}", v):
            if name not in ("batch_id", "count", "document_type", "ext"):
                raise ValueError(f"unknown placeholder {{{name}}} (allowed: batch_id, count, document_type, ext)")
        if "{batch_id}" not in v:
            raise ValueError("a batch file name needs {batch_id}: other batches would clash with it")
        if "/" in v or "\\" in v:
            raise ValueError("filename must not contain a path separator")
        return v

    @model_validator(mode="after")
    def _header_fits(self) -> BatchPolicy:
        if self.items == "documents" and self.max_documents > BATCH_KEY_HEADER_MAX:
            raise ValueError(f"items: documents carries every key in one header: at most {BATCH_KEY_HEADER_MAX} "
                             "documents (use items: keyed for larger batches)")
        return self


class Endpoint(Strict):
    description: str = ""
    http: HttpConfig | None = None
    file: FileConfig | None = None
    sftp: SftpEndpointConfig | None = None
    as2: As2EndpointConfig | None = None
    on_error: ErrorPolicy | None = Field(None, description="Overrides the route's policy for this endpoint")
    circuit: CircuitPolicy = Field(default_factory=CircuitPolicy, description="Outage detection and probing")
    ordered_by: ORDERED_BY | None = Field(None, description="Deliver documents with the same key in the order "
                                          "their messages were received (a dead-lettered one steps aside)")
    test_endpoint: str | None = Field(None, pattern=NAME, description="Where documents of a partner in testing go "
                                      "instead (its test interchanges, its posts); without one they are not sent "
                                      "here at all")
    batch: BatchPolicy | None = Field(None, description="The endpoint accepts many documents per call (http, file)")

    @model_validator(mode="after")
    def _exactly_one(self) -> Endpoint:
        kinds = [k for k in ENDPOINT_KINDS if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(f"an endpoint has exactly one kind: {', '.join(ENDPOINT_KINDS)}")
        if self.batch is not None:
            if kinds[0] not in BATCH_KINDS:
                raise ValueError(f"batch: a {kinds[0]} endpoint takes one document per transfer "
                                 f"(batches: {', '.join(BATCH_KINDS)})")
            if self.payload_format == "xml":
                raise ValueError("batch: format xml has no batch form; use json (an array) or raw (documents "
                                 "joined by batch.separator)")
            if self.http is not None and self.payload_format == "raw" and \
                    self.batch.max_documents > BATCH_KEY_HEADER_MAX:
                raise ValueError(f"batch: raw documents over HTTP carry their keys in one header: at most "
                                 f"{BATCH_KEY_HEADER_MAX} documents")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ENDPOINT_KINDS if getattr(self, k) is not None)

    @property
    def payload_format(self) -> str:
        return getattr(self, self.kind).format


def bound_partner() -> Any:
    return Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$", description=(
        "Partner id (registry) this channel belongs to: every file must then carry that partner's own "
        "EDI envelopes and be a document the partner may send (its registry agreement); others go to "
        "error/ and are recorded as security events"))


def _partner_owns_sender(config: Any) -> Any:
    if config.partner and config.sender:
        raise ValueError("a channel bound to a partner takes its sender from the partner (or its EDI envelope): "
                         "leave out sender")
    return config


class FileDropConfig(Strict):
    """A folder watched for files. Defaults: ``HUB_DATA_DIR/inbox/<channel>``, complete when
    the size holds for ``stable_seconds``; with ``done_suffix`` only when ``<file><suffix>`` exists."""

    path: str | None = None
    pattern: str = "*"
    format: str | None = Field(None, description="Omit to detect (x12, edifact, json, xml, csv)")
    doctype: str | None = Field(None, description="Omit to detect from the EDI envelope")
    sender: str | None = Field(None, description="Omit to take it from the EDI envelope (else the channel name)")
    done_suffix: str | None = None
    stable_seconds: Duration | None = None
    partner: str | None = bound_partner()

    _sender = model_validator(mode="after")(_partner_owns_sender)


class SftpChannelConfig(SftpServer):
    """A remote folder polled over SFTP with the file drop's safe-pickup rules; ``processing/``,
    ``archive/`` and ``error/`` live inside ``path`` on the server."""

    pattern: str = "*"
    format: str | None = Field(None, description="Omit to detect (x12, edifact, json, xml, csv)")
    doctype: str | None = Field(None, description="Omit to detect from the EDI envelope")
    sender: str | None = Field(None, description="Omit to take it from the EDI envelope (else the channel name)")
    done_suffix: str | None = None
    stable_seconds: Duration | None = Field(None, description="Default HUB_INBOX_STABLE_SECONDS")
    poll_interval: Duration = 10.0
    partner: str | None = bound_partner()

    _sender = model_validator(mode="after")(_partner_owns_sender)


CHANNEL_KINDS = ("filedrop", "sftp")


class Channel(Strict):
    description: str = ""
    filedrop: FileDropConfig | None = None
    sftp: SftpChannelConfig | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Channel:
        if sum(getattr(self, k) is not None for k in CHANNEL_KINDS) != 1:
            raise ValueError(f"a channel has exactly one kind: {', '.join(CHANNEL_KINDS)}")
        return self


class RouteFile(Strict):
    """Top level of a YAML file under routes/. Any of the keys may appear."""

    route: Route | None = None
    routes: list[Route] = Field(default_factory=list)
    endpoints: dict[Annotated[str, Field(pattern=NAME)], Endpoint] = Field(default_factory=dict)
    channels: dict[Annotated[str, Field(pattern=NAME)], Channel] = Field(default_factory=dict)
    # Partner registry entries are validated by hub.partners; accepted here so one folder works.
    partners: Any = None
