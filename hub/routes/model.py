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
    """Transient failures (endpoint 408/429/5xx, connection errors) are retried with backoff;
    what still fails, and what can never succeed (bad input, 4xx business reject), goes to the
    route's or the endpoint's dead-letter queue."""

    retries: int = Field(5, ge=0, le=100)
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

PayloadFormat = Literal["json", "raw"]


class HttpAuth(Strict):
    """Secrets are never written in YAML: only the names of environment variables."""

    bearer_env: str | None = None
    basic_user_env: str | None = None
    basic_password_env: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> HttpAuth:
        basic = (self.basic_user_env, self.basic_password_env)
        if self.bearer_env and any(basic):
            raise ValueError("choose bearer_env or basic_*_env, not both")
        if any(basic) and not all(basic):
            raise ValueError("basic auth needs basic_user_env and basic_password_env")
        return self


class HttpConfig(Strict):
    url: str = Field(pattern=r"^https?://")
    method: Literal["POST", "PUT", "PATCH"] = "POST"
    format: PayloadFormat = "json"
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: Duration = 10.0
    auth: HttpAuth | None = None

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
        allowed = {"message_id", "seq", "route", "document_type", "document_key", "ext", "delivery_id"}
        for name in re.findall(r"{([^{}]*)}", v):
            if name not in allowed:
                raise ValueError(f"unknown placeholder {{{name}}} (allowed: {', '.join(sorted(allowed))})")
        if "/" in v or "\\" in v:
            raise ValueError("filename must not contain a path separator")
        return v


class Endpoint(Strict):
    description: str = ""
    http: HttpConfig | None = None
    file: FileConfig | None = None
    on_error: ErrorPolicy | None = Field(None, description="Overrides the route's policy for this endpoint")

    @model_validator(mode="after")
    def _exactly_one(self) -> Endpoint:
        kinds = [k for k in ("http", "file") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("an endpoint has exactly one kind: http or file")
        return self

    @property
    def kind(self) -> str:
        return "http" if self.http else "file"

    @property
    def payload_format(self) -> str:
        return (self.http or self.file).format  # type: ignore[union-attr]


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


class Channel(Strict):
    description: str = ""
    filedrop: FileDropConfig


class RouteFile(Strict):
    """Top level of a YAML file under routes/. Any of the keys may appear."""

    route: Route | None = None
    routes: list[Route] = Field(default_factory=list)
    endpoints: dict[Annotated[str, Field(pattern=NAME)], Endpoint] = Field(default_factory=dict)
    channels: dict[Annotated[str, Field(pattern=NAME)], Channel] = Field(default_factory=dict)
    # Partner registry entries are validated by hub.partners; accepted here so one folder works.
    partners: Any = None
