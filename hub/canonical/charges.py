"""A patient charge for billing (an addition to domain.md section A, version 1.0).

Why a document of its own rather than the usage event's ``charge``: billing must get the charge
code, the quantity and whom to bill — a patient account reference — and nothing clinical. A
usage event carries the case, the procedure and the performer for traceability; the charge a
route sends to billing is built from it with none of those (domain.md A.13; HL7 v2 DFT/FT1).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from hub.canonical.base import Document
from hub.canonical.enums import ChargeStatus
from hub.canonical.types import Code, Currency, Dec, IsoDate, NonNegDec


class ChargeTransaction(Document):
    """A supply charge (FT1): what was used, how many, on which patient account."""

    document_type: Literal["charge"] = "charge"
    charge_id: Code
    usage_id: Code = Field(description="The usage event the charge comes from")
    service_date: IsoDate
    patient_account_ref: Code = Field(repr=False, json_schema_extra={"x-phi": True},
                                      description="The account to bill: a reference, never clinical detail")
    charge_code: Code = Field(description="Chargemaster (CDM) code")
    hcpcs: Code | None = None
    qty: NonNegDec
    uom: Code
    unit_amount: Dec | None = None
    amount: Dec | None = None
    currency: Currency | None = None
    department_id: Code | None = Field(None, description="Revenue department (the location of use)")
    status: ChargeStatus = ChargeStatus.PENDING
