"""``hub edi write``: canonical documents (one, or the JSON list ``hub edi translate`` prints,
envelope included) → one complete interchange, checked against the standard before it is
printed.

Who is who, and in what version, comes from (first wins): the command's flags, the partner of
the registry (``--partner``: its identities, version, delimiters and control numbers), the
first document's own envelope (an interchange re-sent as it came), the standard's defaults
(004010 / D96A). With a partner the control numbers are the partner's next ones, shown but not
consumed (``--consume`` takes them); without one they start at 1.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from edi.common.control_numbers import (
    ControlNumbers,
    CounterKey,
    NumberSource,
    PreviewNumbers,
    party,
)
from edi.common.outbound import WriteError

X12_VERSIONS = ("004010", "005010")
EDIFACT_DIRECTORIES = ("D96A", "D01B")
STANDARDS = ("x12", "edifact")


@dataclass
class WriteRequest:
    path: Path
    standard: str | None = None
    version: str | None = None
    partner: str | None = None
    consume: bool = False
    database_url: str | None = None


@dataclass
class WriteResult:
    data: bytes
    warnings: list[str] = field(default_factory=list)


class PeekedNumbers:
    """The partner's next control numbers, read from the shared allocator without taking them:
    a preview shows the numbers the interchange would get if it were sent now."""

    def __init__(self, allocator: ControlNumbers, profile: Any) -> None:
        self.allocator = allocator
        self.standard = profile.STANDARD
        self.sender = party(profile.sender_qualifier or "", profile.sender_id)
        self.receiver = party(profile.receiver_qualifier or "", profile.receiver_id)
        self.taken: dict[tuple[str, str], int] = {}

    def take(self, kind: str, scope: str, n: int = 1) -> list[int]:
        start = self.taken.get((kind, scope)) or self.allocator.peek(
            CounterKey(self.standard, kind, self.sender, self.receiver, scope))
        self.taken[(kind, scope)] = start + n
        return list(range(start, start + n))


def read_documents(path: Path) -> list[dict[str, Any]]:
    """One canonical document or a list of them; each checked with its canonical model
    (an error names the document and field)."""
    from hub.canonical import DOCUMENT_MODELS

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise WriteError(f"line {exc.lineno}, column {exc.colno}: not JSON ({exc.msg})") from None
    documents = data if isinstance(data, list) else [data]
    if not documents:
        raise WriteError("the file holds an empty list: no document to write")
    for position, document in enumerate(documents, start=1):
        kind = document.get("document_type") if isinstance(document, dict) else None
        model = DOCUMENT_MODELS.get(kind or "")
        if model is None:
            raise WriteError(f"document {position}: document_type {kind!r} is not a canonical document type")
        try:
            model.model_validate({k: v for k, v in document.items() if k != "envelope"})
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise WriteError(f"document {position} ({kind}), field {where}: {first['msg']}") from None
    return documents


def standard_of(request: WriteRequest, envelope: dict[str, Any], partner: Any) -> str:
    if request.standard:
        return request.standard
    if envelope.get("standard") == "EDIFACT":
        return "edifact"
    if envelope.get("functional_id") or envelope.get("transaction_set_id"):
        return "x12"
    if partner is not None and partner.x12 is None and partner.edifact is not None:
        return "edifact"
    return "x12"


def write(request: WriteRequest) -> WriteResult:
    """The interchange for the request's documents; ``WriteError`` (located) when it cannot be
    written validly."""
    documents = read_documents(request.path)
    envelope = documents[0].get("envelope") or {}
    bodies = [{k: v for k, v in d.items() if k != "envelope"} for d in documents]
    registry = _registry(request) if request.partner else None
    try:
        partner = _partner(registry, request.partner) if registry else None
        standard = standard_of(request, envelope, partner)
        warnings: list[str] = []
        if standard == "x12":
            profile = _x12_profile(request, envelope, partner, warnings)
        else:
            profile = _edifact_profile(request, envelope, partner, warnings)
        numbers = _numbers(request, registry, profile)
        if standard == "x12":
            from edi.x12.writer import write_documents
        else:
            from edi.edifact.writer import write_documents
        written = write_documents(bodies, profile, numbers)
        return WriteResult(written.data, warnings + written.warnings)
    finally:
        if registry is not None:
            registry.db.dispose()


def _registry(request: WriteRequest):
    from hub.config import get_settings
    from hub.db import Database
    from hub.partners import PartnerRegistry

    return PartnerRegistry(Database(request.database_url or get_settings().resolved_database_url))


def _partner(registry: Any, partner_id: str):
    try:
        found = registry.by_id(partner_id)
    except Exception as exc:  # noqa: BLE001 - the store may be absent: say so with the place
        raise WriteError(f"--partner {partner_id}: the partner registry cannot be read ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0]})") from None
    if found is None:
        raise WriteError(f"--partner {partner_id}: not in the partner registry (hub partners load)")
    return found


def _numbers(request: WriteRequest, registry: Any, profile: Any) -> NumberSource:
    if registry is None:
        if request.consume:
            raise WriteError("--consume takes the partner's control numbers: give --partner")
        return PreviewNumbers()
    from edi.common.control_numbers import AllocatedNumbers

    allocator = ControlNumbers(registry.db)
    return AllocatedNumbers(allocator, profile) if request.consume else PeekedNumbers(allocator, profile)


def _version(flag: str | None, partner_version: str | None, envelope_version: str | None, supported: tuple[str, ...],
             what: str, warnings: list[str]) -> str:
    if flag is not None:
        if flag not in supported:
            raise WriteError(f"--version {flag}: {what} is written in {' or '.join(supported)}")
        return flag
    for source, value in (("the partner's", partner_version), ("the envelope's", envelope_version)):
        if value:
            if value in supported:
                return value
            warnings.append(f"{source} version {value} is not one the hub writes; written as {supported[0]}")
            return supported[0]
    return supported[0]


def _x12_profile(request: WriteRequest, envelope: dict[str, Any], partner: Any, warnings: list[str]):
    from edi.common.settings import EdiSettings
    from edi.x12.profile import X12Profile

    settings = EdiSettings()
    if partner is not None:
        if partner.x12 is None:
            raise WriteError(f"--partner {partner.id}: no X12 identity (x12: isa_qualifier, isa_id)")
        if not settings.x12_id:
            raise WriteError("our ISA sender id is not set (HUB_EDI_X12_ID)")
        base = X12Profile.from_partner(partner, our_id=settings.x12_id, our_qualifier=settings.x12_qualifier,
                                       our_gs_id=settings.x12_gs_id)
        values = base.model_dump()
    else:
        values = {"sender_qualifier": envelope.get("sender_qualifier") or "ZZ",
                  "sender_id": envelope.get("sender_id") or "SENDER",
                  "receiver_qualifier": envelope.get("receiver_qualifier") or "ZZ",
                  "receiver_id": envelope.get("receiver_id") or "RECEIVER",
                  "gs_sender_id": envelope.get("group_sender_id"), "gs_receiver_id": envelope.get("group_receiver_id"),
                  "test": bool(envelope.get("test"))}
    values["version"] = _version(request.version, partner.x12.version if partner else None,
                                 str(envelope.get("group_version") or "")[:6] or None, X12_VERSIONS, "X12", warnings)
    values["interchange_version"] = None
    try:
        return X12Profile(**values)
    except ValidationError as exc:
        raise WriteError(f"X12 envelope: {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}") from None


def _edifact_profile(request: WriteRequest, envelope: dict[str, Any], partner: Any, warnings: list[str]):
    from edi.common.settings import EdiSettings
    from edi.edifact.profile import EdifactProfile

    settings = EdiSettings()
    if partner is not None:
        if partner.edifact is None:
            raise WriteError(f"--partner {partner.id}: no EDIFACT identity (edifact: unb_id)")
        if not settings.edifact_id:
            raise WriteError("our UNB sender id is not set (HUB_EDI_EDIFACT_ID)")
        values = EdifactProfile.from_partner(partner, our_id=settings.edifact_id,
                                             our_qualifier=settings.edifact_qualifier).model_dump()
        partner_directory = partner.edifact.version
    else:
        syntax = str(envelope.get("interchange_version") or "").split(":")
        values = {"sender_id": envelope.get("sender_id") or "SENDER",
                  "sender_qualifier": envelope.get("sender_qualifier") or None,
                  "receiver_id": envelope.get("receiver_id") or "RECEIVER",
                  "receiver_qualifier": envelope.get("receiver_qualifier") or None, "test": bool(envelope.get("test"))}
        if len(syntax) == 2 and syntax[1] in ("1", "2", "3", "4"):
            values.update(syntax_id=syntax[0], syntax_version=syntax[1])
        partner_directory = None
    message_version = str(envelope.get("message_version") or "").split(":")
    envelope_directory = f"{message_version[0]}{message_version[1]}" if len(message_version) >= 2 else None
    values["directory"] = _version(request.version, partner_directory, envelope_directory, EDIFACT_DIRECTORIES,
                                   "EDIFACT", warnings)
    try:
        return EdifactProfile(**values)
    except ValidationError as exc:
        raise WriteError(f"EDIFACT envelope: {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}") from None
