"""The inbound API's contract as OpenAPI declares it: the answers' models, the security schemes,
the documented statuses of every operation, the accepted content types. Kept apart from the
request logic (``connectors.inbound.api``) so the contract reads in one place."""

from __future__ import annotations

from typing import Any, Literal, get_args

from fastapi.security import APIKeyHeader, HTTPBearer
from pydantic import BaseModel, Field

from hub.partners import DocumentFormat

FORMATS: tuple[str, ...] = get_args(DocumentFormat)
# A document type becomes one word of the routing key <format>.<doctype>.<sender>: no dots (they
# would add words and reach other routes), no control characters, at most 64 characters.
DOCTYPE_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
# Kept as data and shown to operators (escaped); NUL and control characters have no place in a
# file name and PostgreSQL cannot store NUL in text.
FILENAME_PATTERN = r"^[^\x00-\x1f\x7f]{1,255}$"
PRINTABLE_ASCII = r"^[\x20-\x7e]{1,255}$"
MESSAGE_ID_PATTERN = r"^[A-Za-z0-9-]{1,64}$"
REPLAYED_HEADER = "Idempotent-Replayed"

# -- security schemes ------------------------------------------------------------------------------

API_KEY = APIKeyHeader(name="X-API-Key", scheme_name="ApiKey", auto_error=False,
                       description="Partner API key `shk_<key id>_<secret>` (`hub partners api-key create`)")
API_KEY_AUTHORIZATION = APIKeyHeader(
    name="Authorization", scheme_name="ApiKeyAuthorization", auto_error=False,
    description="The same key as `Authorization: ApiKey shk_...`. (A client certificate verified by the TLS "
                "terminator in front of the API is the third way in; see docs/connectors.md.)")
METRICS_TOKEN = HTTPBearer(scheme_name="MetricsToken", auto_error=False,
                           description="The operations token HUB_API_METRICS_TOKEN (not a partner key)")
PUBLIC: dict[str, Any] = {"security": []}  # health and readiness: no credentials


# -- answers ---------------------------------------------------------------------------------------

class Problem(BaseModel):
    where: str = Field(description="The parameter at fault: query.doctype, header.Idempotency-Key ...")
    reason: str


class ErrorBody(BaseModel):
    """Every refusal has this shape: the API's own and FastAPI's parameter validation alike."""


    error: str = Field(description="What was refused and why")
    problems: list[Problem] | None = Field(None, description="422: each invalid parameter")
    idempotency_key: str | None = Field(None, description="409: the key you sent")
    message_id: str | None = Field(None, description="409: the message the key was first used for")


class Ack(BaseModel):
    document_type: str = Field(description="TA1, 997, 999, CONTRL")
    control_number: str | None = None
    content_type: str
    data: str


class MessageAccepted(BaseModel):
    message_id: str
    partner_id: str
    format: str
    doctype: str
    sender: str
    routing_key: str
    published: bool = Field(description="false: stored, the outbox relay publishes it when the broker is back")
    routed: bool
    status: str
    status_url: str
    replayed: bool = Field(description="true when this answers a retry with the same Idempotency-Key")
    received_at: str | None = Field(None, description="Replays: when the first request was stored")
    acks: list[Ack] | None = Field(None, description="?ack=sync: the acknowledgements built")


class TraceLine(BaseModel):
    stage: str
    at: str
    where: str | None = None
    error: str | None = None


class DeliveryCounts(BaseModel):
    attempts: int
    delivered: int


class MessageStatus(BaseModel):
    message_id: str
    status: str
    received_at: str
    format: str
    doctype: str
    sender: str
    filename: str | None = None
    size: int
    sha256: str
    trace: list[TraceLine]
    deliveries: DeliveryCounts


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    database: str = Field(description="ok, or down: <reason> (then 503)")
    outbox_pending: int | None = None
    broker: str = Field(description="ok, or down: <reason> (still ready: the outbox keeps messages)")
    accepting: bool


# -- documented statuses ---------------------------------------------------------------------------

def error(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {**error("No credentials, or an unknown or revoked key, or an unregistered certificate"),
          "headers": {"WWW-Authenticate": {"description": "ApiKey", "schema": {"type": "string"}}}},
    403: error("The partner is suspended, or the message is not the partner's to send (an envelope "
               "sender or document type the registry does not give it)"),
    422: error("A parameter is invalid (each one named in `problems`)"),
    431: error("Too many request headers, or too many header bytes"),
}
POST_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {"description": "Stored (or, for a retried Idempotency-Key, the message stored the first time)",
          "headers": {"Location": {"description": "Status URL of the message", "required": True,
                                   "schema": {"type": "string"}},
                      REPLAYED_HEADER: {"description": "`true` when this answers a retry of an earlier request "
                                                       "with the same Idempotency-Key",
                                        "schema": {"type": "string", "enum": ["true"]}}},
          # The status URL as a link, so clients (and schemathesis' stateful phase) follow it.
          "links": {"GetMessage": {"operationId": "getMessage",
                                   "parameters": {"message_id": "$response.body#/message_id"}}}},
    400: error("Empty body, a body that is not what its format says, an EDI body whose bytes are not all in "
               "interchanges the engines can read, ack=sync on a non-EDI body, or an Idempotency-Key that is "
               "not 1-255 printable ASCII characters"),
    **AUTH_RESPONSES,
    408: error("The request head or body did not arrive in time (HUB_API_HEADER_TIMEOUT, HUB_API_REQUEST_TIMEOUT)"),
    409: error("The Idempotency-Key was used before (within its time) with a different body"),
    413: error("The body is larger than HUB_MAX_MESSAGE_BYTES"),
    503: error("The message store does not answer: nothing was stored, send again later"),
}
GET_RESPONSES: dict[int | str, dict[str, Any]] = {
    **AUTH_RESPONSES,
    404: error("No such message of yours"),
    503: error("The message store does not answer"),
}
def json_error(description: str) -> dict[str, Any]:
    """An error answer of an operation whose own answer is not JSON (the media type is then not
    taken from the operation's response class)."""
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}


METRICS_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "Prometheus text exposition", "content": {"text/plain": {"schema": {"type": "string"}}}},
    401: {**json_error("No or a wrong operations token"),
          "headers": {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}}},
    403: json_error("Metrics are off: HUB_API_METRICS_TOKEN is not set"),
    431: json_error("Too many request headers, or too many header bytes"),
    503: json_error("The store does not answer"),
}
PUBLIC_RESPONSES: dict[int | str, dict[str, Any]] = {
    431: error("Too many request headers, or too many header bytes"),
}

# The content types a message may be posted with, and the format each one means.
CONTENT_TYPES = {
    "application/edi-x12": "x12", "application/x12": "x12", "application/edifact": "edifact",
    "application/edi-edifact": "edifact", "text/csv": "csv", "application/csv": "csv",
    "application/xml": "xml", "text/xml": "xml", "application/json": "json", "text/plain": "text",
}
_BINARY = {"type": "string", "format": "binary", "minLength": 1}
RAW_BODY = {"requestBody": {
    "required": True,
    "description": "The message exactly as the partner's system wrote it. The content type names its format "
                   "(application/octet-stream: detected from the bytes; `?format=` overrides).",
    "content": {**{ct: {"schema": _BINARY} for ct in CONTENT_TYPES}, "application/octet-stream": {"schema": _BINARY},
                "text/csv": {"schema": _BINARY, "example": "Facility,Location,Item,Counted Qty\nHOSP1,A03,ST-1,4\n"}},
}}
