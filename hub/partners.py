"""Partner registry: who the hub trades with and how (domain.md A.1, 4.x).

The registry is a YAML file (``routes/partners.yaml``) validated by the models below, with
errors naming ``file:line``, and loaded into the store (tables ``partners`` and
``partner_identifiers``). The EDI engines and connectors look partners up with
``PartnerRegistry(db).by_isa(qualifier, id)``, ``by_unb(id, qualifier)``, ``by_gs(id)``,
``by_id(partner_id)`` and ``by_identifier(scheme, value)``.

Credentials are never written in the file: ``auth`` holds names of environment variables
(``api_key_env: ACME_API_KEY``). Any key that looks like a secret (password, token, api_key,
secret, private_key ...) with an inline value is a validation error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, ValidationError, field_validator, model_validator
from sqlalchemy import JSON, String, UniqueConstraint, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from hub.canonical.base import CanonicalModel
from hub.canonical.enums import AckKind, EdiStandard, PartnerRole, PartnerStatus, PartyIdScheme
from hub.canonical.parties import PartyIdentifier
from hub.canonical.types import Code, Currency, Text
from hub.db import Base, Database
from hub.store.models import UTCDateTime, utcnow
from hub.yamlfile import DataFileError, describe_errors, line_of, load_data

ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
SECRET_KEY = re.compile(r"(password|passwd|secret|token|api_?key|private_?key|passphrase|credential)", re.IGNORECASE)
DURATION = re.compile(r"^(\d+)\s*([mhd])$")
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400}


def find_inline_secrets(data: Any, path: tuple = ()) -> list[tuple[tuple, str]]:
    """(path, key) of every secret-looking key whose value is not an env-var reference."""
    found = []
    if isinstance(data, dict):
        for key, value in data.items():
            here = (*path, key)
            if isinstance(key, str) and SECRET_KEY.search(key) and not key.endswith("_env") and not isinstance(value, (dict, list)):
                found.append((here, key))
            found.extend(find_inline_secrets(value, here))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found.extend(find_inline_secrets(value, (*path, index)))
    return found


class Delimiters(CanonicalModel):
    element: str = Field(min_length=1, max_length=1)
    component: str = Field(min_length=1, max_length=1)
    segment: str = Field(min_length=1, max_length=1)
    repetition: str | None = Field(None, min_length=1, max_length=1)
    release: str | None = Field(None, min_length=1, max_length=1, description="EDIFACT release character")

    @model_validator(mode="after")
    def _distinct(self) -> Delimiters:
        chars = [c for c in (self.element, self.component, self.segment, self.repetition, self.release) if c]
        if len(set(chars)) != len(chars):
            raise ValueError(f"delimiters must differ from each other, got {chars}")
        return self


def _duration(value: str) -> str:
    if not DURATION.match(value.strip()):
        raise ValueError(f"duration {value!r} is not <number><m|h|d>, e.g. 24h")
    return value.strip()


def duration_seconds(text: str) -> int:
    number, unit = DURATION.match(text).groups()  # type: ignore[union-attr]
    return int(number) * _UNIT_SECONDS[unit]


Duration = Annotated[str, AfterValidator(_duration), Field(description="Minutes/hours/days: 30m, 24h, 2d")]


class AckExpectation(CanonicalModel):
    """An acknowledgement the partner sends or expects, and within how long (``24h``, ``1d``)."""

    kind: AckKind
    within: Duration = "24h"

    @property
    def seconds(self) -> int:
        return duration_seconds(self.within)


class BusinessAnswer(CanonicalModel):
    """A business answer the partner owes for a document the hub sends it, and within how long
    (domain.md C #17): by default a purchase_order answered by a purchase_order_ack (855 /
    ORDRSP). The answer is matched by the document's key (the PO number) in the document
    trail; ``hub acks overdue`` lists what is late."""

    document: Code = "purchase_order"
    answer: Code = "purchase_order_ack"
    within: Duration = "24h"

    @field_validator("document", "answer")
    @classmethod
    def _document_type(cls, value: str) -> str:
        from hub.canonical import DOCUMENT_TYPES

        if value not in DOCUMENT_TYPES:
            raise ValueError(f"{value!r} is not a canonical document type ({', '.join(sorted(DOCUMENT_TYPES))})")
        return value

    @property
    def seconds(self) -> int:
        return duration_seconds(self.within)


class X12Identity(CanonicalModel):
    isa_qualifier: Code = Field(max_length=2, description="ISA05/ISA07: ZZ, 01, 14, 12 ...")
    isa_id: Code = Field(max_length=15, description="ISA06/ISA08 without padding")
    gs_id: Code | None = Field(None, max_length=15)
    version: Code = Field("004010", description="GS08")
    delimiters: Delimiters | None = None
    acks: list[AckExpectation] = Field(default_factory=list)


class EdifactIdentity(CanonicalModel):
    unb_id: Code = Field(max_length=35)
    unb_qualifier: Code | None = Field(None, max_length=4, description="UNB S002 0007: 14 GLN, ZZZ mutually defined ...")
    version: Code = Field("D96A", description="UNH S009 version/release")
    syntax_id: Code = Field("UNOC", pattern=r"^UNO[A-Z]$", description="UNB S001 0001: the character set (syntax level)")
    syntax_version: Code = Field("3", pattern=r"^[1-4]$", description="UNB S001 0002")
    decimal_mark: Code = Field(".", pattern=r"^[.,]$", description="UNA3")
    delimiters: Delimiters | None = None
    acks: list[AckExpectation] = Field(default_factory=list)


def _env_name(value: str) -> str:
    if not ENV_NAME.match(value):
        # The value is not echoed: whatever it is, it may be the secret itself.
        raise ValueError("must name an environment variable (A-Z, 0-9, _), not hold a value")
    return value


EnvName = Annotated[Code, AfterValidator(_env_name)]


def _fingerprint(value: str) -> str:
    cleaned = value.replace(":", "").strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", cleaned):
        raise ValueError("a client certificate fingerprint is 64 hex digits (SHA-256), colons allowed")
    return cleaned


class AuthRefs(CanonicalModel):
    """Credentials by reference: each value is the NAME of an environment variable. The
    connectors issue defines how they are used (API keys, SFTP, AS2 ...)."""

    api_key_env: EnvName | None = None
    username_env: EnvName | None = None
    password_env: EnvName | None = None
    private_key_env: EnvName | None = None
    token_env: EnvName | None = None
    # Inbound API by client certificate (set by a TLS terminator, connectors.security): public
    # facts, not secrets. Fingerprints are SHA-256 of the DER certificate, hex (colons allowed).
    client_cert_fingerprints: list[Annotated[str, AfterValidator(_fingerprint)]] = Field(default_factory=list)
    client_cert_subjects: list[Text] = Field(default_factory=list, description="Exact subject DN as the proxy sends it")


# The formats a message can have on arrival (the routing key's first word).
DocumentFormat = Literal["csv", "edifact", "fixed", "json", "text", "x12", "xml"]


class DocumentAgreement(CanonicalModel):
    """One kind of document the partner exchanges with the hub: its format, its document type
    (the routing key's doctype: ST01 / UNH type for EDI, ``cycle_count``, an XML root ...) and
    which way it travels. The inbound edges (API, channels bound to the partner) accept only
    what is listed ``inbound``; for CSV, XML, fixed width, JSON and text nothing else."""

    format: DocumentFormat
    doctype: Code = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="Document type as routed (no dots)")
    direction: Literal["inbound", "outbound"] = Field(
        "inbound", description="inbound: the partner sends it to the hub; outbound: the hub sends it to the partner")


AS2_NAME = r"^[!-~]{1,128}$"  # RFC 4130 6.2: 1-128 printable ASCII (quoted on the wire when it needs it)


class As2Agreement(CanonicalModel):
    """How the hub and the partner exchange over AS2 (RFC 4130; docs/as2.md). Certificates are
    files — paths relative to the registry file's folder, or absolute (a secrets mount) — and
    public: the partner's own private key never reaches the hub, and the hub's key is named by
    ``HUB_AS2_PRIVATE_KEY`` (a path), never here."""

    as2_id: Text = Field(pattern=AS2_NAME, description="The partner's AS2 name (AS2-From of what it sends)")
    certificate: Text = Field(description="PEM/DER file: verifies the partner's signatures (and MDNs); "
                                          "encrypts to it unless encryption_certificate is given")
    encryption_certificate: Text | None = Field(None, description="PEM/DER file to encrypt to, when not certificate")
    url: Text | None = Field(None, pattern=r"^https?://", description="The partner's AS2 URL (as2 endpoints may override)")
    sign: bool = Field(True, description="Sign what the hub sends; require signed messages from the partner")
    encrypt: bool = Field(True, description="Encrypt what the hub sends; require encrypted messages from the partner")
    compress: bool = Field(False, description="Compress what the hub sends (RFC 5402)")
    signature: Literal["sha256", "sha384", "sha512", "sha1"] = "sha256"
    encryption: Literal["aes_128_cbc", "aes_192_cbc", "aes_256_cbc", "tripledes_192_cbc"] = "aes_256_cbc"
    mdn: Literal["sync", "async", "none"] = Field("sync", description="The receipt the hub asks for what it sends")
    mdn_signed: bool = Field(True, description="Ask for a signed MDN (its MIC is then checked)")
    mdn_within: Duration = Field("1h", description="How long an asynchronous MDN may take before it is overdue")

    def certificate_files(self) -> list[tuple[str, str]]:
        """(field, path) of every certificate the agreement names."""
        files = [("certificate", self.certificate)]
        if self.encryption_certificate:
            files.append(("encryption_certificate", self.encryption_certificate))
        return files


class PartnerConfig(CanonicalModel):
    id: Code = Field(description="partner_id, the hub's key")
    name: Text
    roles: list[PartnerRole] = Field(min_length=1)
    status: PartnerStatus = PartnerStatus.ACTIVE
    identifiers: list[PartyIdentifier] = Field(default_factory=list)
    x12: X12Identity | None = None
    edifact: EdifactIdentity | None = None
    preferred_standard: EdiStandard | None = None
    timezone: Code | None = Field(None, description="IANA zone for partner times sent without an offset")
    default_currency: Currency | None = None
    inbound_documents: list[Code] = Field(default_factory=list, description="Allowed inbound sets/messages: 855, 856, ORDRSP ...")
    documents: list[DocumentAgreement] = Field(
        default_factory=list, description="Documents by format and direction: what the partner may send in CSV, "
                                          "XML, fixed width, JSON (and EDI, besides inbound_documents)")
    outbound_endpoints: dict[str, str] = Field(default_factory=dict, description="document type → endpoint name")
    business_answers: list[BusinessAnswer] = Field(
        default_factory=list, description="Answers owed for what the hub sends (855/ORDRSP for a PO) and within how long")
    auth: AuthRefs | None = None
    as2: As2Agreement | None = Field(None, description="AS2 identity, certificates and agreement (docs/as2.md)")

    def answer_for(self, document_type: str) -> BusinessAnswer | None:
        return next((a for a in self.business_answers if a.document == document_type), None)

    @model_validator(mode="before")
    @classmethod
    def _no_inline_secrets(cls, data: Any) -> Any:
        for path, key in find_inline_secrets(data):
            where = ".".join(str(p) for p in path)
            raise ValueError(f"inline secret at {where}: put it in an environment variable and write {key}_env: VARIABLE_NAME under auth")
        return data

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as America/Chicago)") from None
        return value

    @model_validator(mode="after")
    def _standard_has_identity(self) -> PartnerConfig:
        if self.preferred_standard == EdiStandard.X12 and self.x12 is None:
            raise ValueError("preferred_standard X12 needs an x12 section (ISA qualifier and ID)")
        if self.preferred_standard == EdiStandard.EDIFACT and self.edifact is None:
            raise ValueError("preferred_standard EDIFACT needs an edifact section (UNB ID)")
        return self

    def ack_endpoint(self, kind: str) -> str | None:
        """Where acknowledgements of ``kind`` (TA1, 997, 999, CONTRL) go back to this partner:
        ``outbound_endpoints[kind]``, else ``outbound_endpoints["ack"]``."""
        return self.outbound_endpoints.get(kind) or self.outbound_endpoints.get("ack")

    def all_identifiers(self) -> list[tuple[str, str, str]]:
        """(scheme, qualifier, value) rows for lookups, envelope identities included."""
        rows = [(i.scheme.value, i.qualifier or "", i.value) for i in self.identifiers]
        if self.x12:
            rows.append((PartyIdScheme.ISA_ID.value, self.x12.isa_qualifier, self.x12.isa_id))
            if self.x12.gs_id:
                rows.append((PartyIdScheme.GS_ID.value, "", self.x12.gs_id))
        if self.edifact:
            rows.append((PartyIdScheme.UNB_ID.value, self.edifact.unb_qualifier or "", self.edifact.unb_id))
        return rows


class PartnersFile(CanonicalModel):
    partners: list[PartnerConfig] = Field(default_factory=list)


def read_partners_file(path: Path) -> list[PartnerConfig]:
    """Validate a partners YAML file; raises DataFileError listing every problem as file:line."""
    data = load_data(path)
    if data is None:
        data = {}
    secrets = find_inline_secrets(data)
    if secrets:
        raise DataFileError(
            [
                f"{path}:{line_of(data, where)}: {'.'.join(str(p) for p in where)}: inline secret; "
                f"put it in an environment variable and write {key}_env: VARIABLE_NAME under auth"
                for where, key in secrets
            ]
        )
    try:
        partners = PartnersFile.model_validate(data).partners
    except ValidationError as exc:
        raise DataFileError(describe_errors(path, data, exc)) from None
    problems = _duplicates(path, data, partners)
    if problems:
        raise DataFileError(problems)
    return partners


def _duplicates(path: Path, data: Any, partners: list[PartnerConfig]) -> list[str]:
    problems = []
    seen_ids: dict[str, int] = {}
    seen_keys: dict[tuple[str, str, str], str] = {}
    for index, partner in enumerate(partners):
        line = line_of(data, ("partners", index))
        if partner.id in seen_ids:
            problems.append(f"{path}:{line}: partners.{index}.id: partner {partner.id!r} is already defined at partners.{seen_ids[partner.id]}")
        seen_ids.setdefault(partner.id, index)
        for key in partner.all_identifiers():
            owner = seen_keys.get(key)
            if owner is not None and owner != partner.id:
                problems.append(f"{path}:{line}: partners.{index}: identifier {key[0]} {key[1]}:{key[2]} already belongs to {owner!r}")
            seen_keys.setdefault(key, partner.id)
        if partner.as2 is not None:
            key = ("AS2_ID", "", partner.as2.as2_id)
            owner = seen_keys.get(key)
            if owner is not None and owner != partner.id:
                problems.append(f"{path}:{line_of(data, ('partners', index, 'as2', 'as2_id'))}: partners.{index}.as2.as2_id: "
                                f"AS2 name {partner.as2.as2_id!r} already belongs to {owner!r}")
            seen_keys.setdefault(key, partner.id)
    return problems


# ----------------------------------------------------------------- store

class PartnerRecord(Base):
    __tablename__ = "partners"

    partner_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    status: Mapped[str] = mapped_column(String(16))
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    source_file: Mapped[str | None] = mapped_column(String(512))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PartnerIdentifierRecord(Base):
    __tablename__ = "partner_identifiers"
    __table_args__ = (UniqueConstraint("scheme", "qualifier", "value", name="uq_partner_identifiers_key"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    partner_id: Mapped[str] = mapped_column(String(128), index=True)
    scheme: Mapped[str] = mapped_column(String(32))
    qualifier: Mapped[str] = mapped_column(String(8), default="")
    value: Mapped[str] = mapped_column(String(256))


def _resolved(source_file: str | None) -> str | None:
    return str(Path(source_file).resolve()) if source_file else None


@dataclass
class RegistryChange:
    """What a ``PartnerRegistry.sync`` changed in the store."""

    source: str
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # stored without a source file: left as they are
    unchanged: int = 0

    @property
    def any(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    def summary(self) -> str:
        kept = f"; kept as loaded without a file: {', '.join(self.kept)}" if self.kept else ""
        if not self.any:
            return f"partner registry {self.source}: unchanged ({self.unchanged} partner(s)){kept}"
        parts = [f"{what} {', '.join(ids)}" for what, ids in
                 (("added", self.added), ("changed", self.changed), ("removed", self.removed)) if ids]
        return f"partner registry {self.source}: {'; '.join(parts)} ({self.unchanged} unchanged){kept}"


class PartnerRegistry:
    def __init__(self, db: Database) -> None:
        self.db = db

    def load(self, partners: list[PartnerConfig], source_file: str | None = None) -> int:
        """Insert or replace the given partners and their identifiers in one transaction."""
        with self.db.session() as session:
            ids = [p.id for p in partners]
            session.execute(delete(PartnerIdentifierRecord).where(PartnerIdentifierRecord.partner_id.in_(ids)))
            session.flush()
            for partner in partners:
                record = session.get(PartnerRecord, partner.id) or PartnerRecord(partner_id=partner.id)
                record.name = partner.name
                record.status = partner.status.value
                record.config = partner.model_dump(mode="json", exclude_none=True)
                record.source_file = source_file
                record.updated_at = utcnow()
                session.add(record)
                for scheme, qualifier, value in partner.all_identifiers():
                    session.add(PartnerIdentifierRecord(partner_id=partner.id, scheme=scheme, qualifier=qualifier, value=value))
        return len(partners)

    def sync(self, partners: list[PartnerConfig], source_file: str) -> RegistryChange:
        """Make the store follow one registry file: its partners inserted or replaced where they
        differ, and partners an earlier load took from the same file and that it no longer
        holds removed (partners loaded from other files are left alone). One transaction; a
        file that changed nothing writes nothing."""
        source = str(Path(source_file).resolve())
        wanted = {p.id: p.model_dump(mode="json", exclude_none=True) for p in partners}
        with self.db.session() as session:
            stored = {r.partner_id: r for r in session.scalars(select(PartnerRecord))}
            change = RegistryChange(source_file)
            for pid, config in wanted.items():
                record = stored.get(pid)
                if record is None:
                    change.added.append(pid)
                elif record.source_file is None:
                    # Loaded through the Python API (a tool, a test's own variant): not this file's to undo.
                    change.kept.append(pid)
                elif record.config != config or _resolved(record.source_file) != source:
                    change.changed.append(pid)
            change.removed = sorted(pid for pid, r in stored.items()
                                    if pid not in wanted and _resolved(r.source_file) == source)
            change.unchanged = len(wanted) - len(change.added) - len(change.changed) - len(change.kept)
            touched = [*change.added, *change.changed, *change.removed]
            if not touched:
                return change
            # Identifiers first (an identifier may move from one partner to another in one edit).
            session.execute(delete(PartnerIdentifierRecord).where(PartnerIdentifierRecord.partner_id.in_(touched)))
            session.execute(delete(PartnerRecord).where(PartnerRecord.partner_id.in_(change.removed)))
            session.flush()
            for partner in partners:
                if partner.id not in change.added and partner.id not in change.changed:
                    continue
                record = stored.get(partner.id) or PartnerRecord(partner_id=partner.id)
                record.name, record.status = partner.name, partner.status.value
                record.config, record.source_file, record.updated_at = wanted[partner.id], source, utcnow()
                session.add(record)
                for scheme, qualifier, value in partner.all_identifiers():
                    session.add(PartnerIdentifierRecord(partner_id=partner.id, scheme=scheme, qualifier=qualifier, value=value))
        return change

    def load_file(self, path: Path) -> int:
        return self.load(read_partners_file(path), str(path))

    def all(self) -> list[PartnerConfig]:
        with self.db.session() as session:
            return [PartnerConfig.model_validate(r.config) for r in session.scalars(select(PartnerRecord).order_by(PartnerRecord.partner_id))]

    def by_id(self, partner_id: str) -> PartnerConfig | None:
        with self.db.session() as session:
            record = session.get(PartnerRecord, partner_id)
            return PartnerConfig.model_validate(record.config) if record else None

    def by_identifier(self, scheme: str, value: str, qualifier: str | None = None) -> PartnerConfig | None:
        """The partner owning (scheme, value); with ``qualifier`` None any qualifier matches."""
        query = select(PartnerIdentifierRecord.partner_id).where(
            PartnerIdentifierRecord.scheme == str(scheme), PartnerIdentifierRecord.value == value.strip()
        )
        if qualifier is not None:
            query = query.where(PartnerIdentifierRecord.qualifier == qualifier.strip())
        with self.db.session() as session:
            owners = sorted(set(session.scalars(query)))
        if len(owners) != 1:
            return None  # unknown, or ambiguous across qualifiers: the caller reports it
        return self.by_id(owners[0])

    def by_isa(self, qualifier: str, isa_id: str) -> PartnerConfig | None:
        """ISA05/06 (or 07/08); the ID may carry the ISA's space padding."""
        return self.by_identifier(PartyIdScheme.ISA_ID, isa_id, qualifier)

    def by_gs(self, gs_id: str) -> PartnerConfig | None:
        return self.by_identifier(PartyIdScheme.GS_ID, gs_id, "")

    def by_unb(self, unb_id: str, qualifier: str | None = None) -> PartnerConfig | None:
        return self.by_identifier(PartyIdScheme.UNB_ID, unb_id, qualifier or "")
