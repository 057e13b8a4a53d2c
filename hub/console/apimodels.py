"""The operations API's contract as OpenAPI declares it: request bodies, the statuses each kind
of operation may answer, all in the inbound API's one error shape (``ErrorBody``:
``{"error": ...}``, 422 adds ``problems``).

Why the same error model: a client (or an operator's script) handles one shape for every
refusal the hub's HTTP interface gives, partner-facing or operations-facing.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from connectors.inbound.apimodels import ErrorBody
from hub.console.auth import api_viewer

PREFIX = "/api/v1/ops"
ID_PATTERN = r"^[A-Za-z0-9._:-]{1,64}$"
REASON = Field(min_length=1, max_length=2000, description="Why (recorded in the audit trail and the message's trace)")


def error(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


READ: dict[int | str, dict[str, Any]] = {
    401: {**error("No session and no operator token, or an invalid or revoked token"),
          "headers": {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}}},
    422: error("A parameter is invalid (each one named in `problems`)"),
    431: error("Too many request headers, or too many header bytes"),
}
ONE = {**READ, 404: error("No such record")}
ACT: dict[int | str, dict[str, Any]] = {
    **READ,
    400: error("The action cannot be done as asked: no reason given, nothing chosen, an empty payload"),
    403: error("The operator's role does not allow it, or (session callers) the X-CSRF-Token is missing or wrong"),
    404: error("An id that does not exist"),
    409: error("The record is not in a state for it (a dead letter already closed, an exception already "
               "resolved, a message that already delivered documents, a bulk count that changed)"),
}


def ops_router(tag: str) -> APIRouter:
    """A router under /api/v1/ops whose every operation needs an operator."""
    return APIRouter(prefix=PREFIX, tags=[tag], dependencies=[Depends(api_viewer)])


class Reasoned(BaseModel):
    reason: str = REASON


class IdsAction(Reasoned):
    ids: list[str] = Field(min_length=1, max_length=10_000, description="Dead-letter, message or exception ids")


class LetterFilterBody(BaseModel):
    queue: str | None = Field(None, max_length=255, description="A DLQ name, or a route or endpoint name")
    reason_code: str | None = Field(None, max_length=64)
    since: str | None = Field(None, description="ISO 8601; parked at or after")
    until: str | None = Field(None, description="ISO 8601; parked before")


class BulkAction(Reasoned):
    filter: LetterFilterBody = Field(default_factory=LetterFilterBody)
    expected_count: int = Field(ge=0, description="How many letters the operator confirmed (GET .../dead-letters "
                                                  "with the same filter counts them); another count now is a 409")


class ResolveAction(IdsAction):
    rerun: bool = Field(False, description="Run the exceptions' messages through their routes again")


class ResubmitAction(Reasoned):
    payload: str = Field(min_length=1, description="The corrected payload (text; encoded as UTF-8)")
    allow_resend: bool = Field(False, description="Even if the original already delivered documents")


class ApiKeyRequest(BaseModel):
    label: str | None = Field(None, max_length=200)


class OperatorRequest(BaseModel):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")
    role: str = Field(pattern=r"^(viewer|operator|admin)$")


class OperatorChange(BaseModel):
    change: str = Field(pattern=r"^(role|disable|enable|unlock|reset_password)$")
    role: str | None = Field(None, pattern=r"^(viewer|operator|admin)$", description="With change=role")


class Done(BaseModel):
    done: list[str] = Field(description="The ids acted on")
    detail: dict[str, Any] = Field(default_factory=dict)


class Secret(BaseModel):
    """Shown once: only a hash is stored."""

    id: str
    secret: str
    detail: dict[str, Any] = Field(default_factory=dict)
