"""Partners, locations, addresses and the party references documents carry (domain.md A.1, A.2)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from hub.canonical.base import CanonicalModel, Document
from hub.canonical.enums import (
    AckKind,
    EdiStandard,
    LocationType,
    PartnerRole,
    PartnerStatus,
    PartyIdScheme,
)
from hub.canonical.identifiers import INVALID_REASON_DESCRIPTION, validate_gln
from hub.canonical.types import Code, Currency, IsoDate, Text


class PartyIdentifier(CanonicalModel):
    """One identifier of a partner or location. GLNs are check-digit validated, unless
    ``invalid_reason`` says why the value failed: then it is carried as sent."""

    scheme: PartyIdScheme
    # Declared before ``value`` so that the value's validator sees it.
    invalid_reason: Text | None = Field(None, description=INVALID_REASON_DESCRIPTION)
    value: Code
    qualifier: Code | None = Field(None, description="As sent: ISA05 ZZ/01/14, N103 92/UL/21, NAD 3055 ...")
    assigned_by: Code | None = Field(None, description="partner_id of the assigning party (account numbers)")
    valid_from: IsoDate | None = None
    valid_to: IsoDate | None = None

    @field_validator("value")
    @classmethod
    def _check_value(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("scheme") == PartyIdScheme.GLN and info.data.get("invalid_reason") is None:
            return validate_gln(value)
        return value


PartnerIdentifier = PartyIdentifier
LocationIdentifier = PartyIdentifier


class Address(CanonicalModel):
    """Postal address (X12 N2/N3/N4, EDIFACT NAD C058/C059/3164/3229/3251/3207)."""

    name: Text | None = None
    lines: list[Text] = Field(default_factory=list)
    city: Text | None = None
    region: Text | None = Field(None, description="State / province code")
    postal_code: Code | None = None
    country: Code | None = Field(None, description="ISO 3166-1 alpha-2 or alpha-3 as sent")


class Contact(CanonicalModel):
    """A business contact (X12 PER, EDIFACT CTA/COM). Staff contacts only, never patients."""

    function: Code | None = Field(None, description="PER01 / CTA 3139 as sent")
    name: Text | None = None
    phone: Code | None = None
    email: Code | None = None


class PartyRef(CanonicalModel):
    """A party or location as a document names it (N1 loop, NAD), plus what the hub resolved."""

    role: Code | None = Field(None, description="Entity code as sent: N101 ST/BT/BY/SE/SF/RE, NAD 3035 DP/IV/BY/SU")
    partner_id: Code | None = Field(None, description="Resolved partner (crosswalk step)")
    location_id: Code | None = Field(None, description="Resolved location (crosswalk step)")
    name: Text | None = None
    identifiers: list[PartyIdentifier] = Field(default_factory=list)
    address: Address | None = None
    contact: Contact | None = None


class EdiProfile(CanonicalModel):
    """How a partner exchanges documents on one channel (the partner registry holds the full
    operational profile; this is the canonical summary)."""

    standard: EdiStandard
    version: Code | None = Field(None, description="004010, 005010, D96A ...")
    isa_qualifier: Code | None = None
    isa_id: Code | None = None
    gs_id: Code | None = None
    unb_id: Code | None = None
    unb_qualifier: Code | None = None
    acks: list[AckKind] = Field(default_factory=list)
    test: bool = False


class Partner(Document):
    """A trading partner: supplier, distributor, manufacturer, GPO, provider, network (A.1)."""

    document_type: Literal["partner"] = "partner"
    partner_id: Code
    name: Text
    roles: list[PartnerRole] = Field(min_length=1)
    identifiers: list[PartyIdentifier] = Field(min_length=1)
    edi_profiles: list[EdiProfile] = Field(default_factory=list)
    erp_refs: dict[str, str] = Field(default_factory=dict)
    default_currency: Currency | None = None
    payment_terms: Text | None = None
    # C: only Rx trading partners carry DSCSA authorisation (state licence / FDA registration).
    dscsa_authorized: bool | None = None
    license_refs: list[Code] = Field(default_factory=list)
    status: PartnerStatus

    @field_validator("roles")
    @classmethod
    def _unique_roles(cls, roles: list[PartnerRole]) -> list[PartnerRole]:
        if len(set(roles)) != len(roles):
            raise ValueError("roles must not repeat")
        return roles


class Location(Document):
    """A place goods go to or are kept: facility, ship-to, stockroom, bin ... (A.2)."""

    document_type: Literal["location"] = "location"
    location_id: Code
    type: LocationType
    parent_id: Code | None = None
    name: Text
    identifiers: list[PartyIdentifier] = Field(default_factory=list)
    address: Address | None = None
    owner_partner_id: Code
    is_consignment: bool
    lot_tracking_required: bool | None = None
