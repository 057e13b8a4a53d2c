"""The document an inbound acknowledgement becomes (X12 997/999/TA1, EDIFACT CONTRL), per
domain.md B.7 / B.14: which interchange, groups and sets it acknowledges, with what status and
which errors. Both engines emit it (``document_type = "ack_result"``) and the interchange log
matches it to what the hub sent (``edi.common.interchanges.record_ack``).

Statuses are normalised (``AckStatus``) and the partner's code is kept beside (``*_raw``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field


class AckStatus(StrEnum):
    ACCEPTED = "ACCEPTED"
    ACCEPTED_WITH_ERRORS = "ACCEPTED_WITH_ERRORS"
    PARTIALLY_ACCEPTED = "PARTIALLY_ACCEPTED"
    REJECTED = "REJECTED"
    RECEIVED = "RECEIVED"  # CONTRL action 8: received, result to follow


# X12 AK501/IK501/AK901/TA104 codes. M/W/X are rejections for MAC, assurance or decryption failure.
X12_STATUS = {"A": AckStatus.ACCEPTED, "E": AckStatus.ACCEPTED_WITH_ERRORS,
              "P": AckStatus.PARTIALLY_ACCEPTED, "R": AckStatus.REJECTED, "M": AckStatus.REJECTED,
              "W": AckStatus.REJECTED, "X": AckStatus.REJECTED}
# EDIFACT 0083 action codes.
EDIFACT_STATUS = {"7": AckStatus.ACCEPTED, "4": AckStatus.REJECTED, "8": AckStatus.RECEIVED}


def x12_status(code: str) -> AckStatus | None:
    return X12_STATUS.get(code.strip().upper())


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AckError(_Model):
    """One reported error: segment (AK3/IK3/UCS) and optionally element (AK4/IK4/UCD)."""

    segment_id: str | None = None
    segment_position: int | None = None  # position in the acked set (ST/UNH = 1)
    loop_id: str | None = None
    segment_code: str | None = None
    element_position: int | None = None
    component_position: int | None = None
    element_reference: str | None = None
    element_code: str | None = None
    bad_value: str | None = None
    context: list[str] = Field(default_factory=list)


class AckedSet(_Model):
    set_id: str
    control_number: str
    implementation_reference: str | None = None
    status: AckStatus | None = None
    status_raw: str | None = None
    codes: list[str] = Field(default_factory=list)
    errors: list[AckError] = Field(default_factory=list)


class AckedGroup(_Model):
    functional_id: str
    control_number: str
    version: str | None = None
    status: AckStatus | None = None
    status_raw: str | None = None
    codes: list[str] = Field(default_factory=list)
    sets_included: int | None = None
    sets_received: int | None = None
    sets_accepted: int | None = None
    sets: list[AckedSet] = Field(default_factory=list)


class AckResult(_Model):
    """An inbound acknowledgement, normalised."""

    SCHEMA_VERSION: ClassVar[str] = "1.0"
    document_type: Literal["ack_result"] = "ack_result"
    schema_version: str = SCHEMA_VERSION
    standard: Literal["X12", "EDIFACT"]
    ack_kind: Literal["997", "999", "TA1", "CONTRL"]
    # TA1: the acked interchange. 997/999 cannot name it (they ack groups by GS06).
    interchange_control_number: str | None = None
    interchange_date: str | None = None
    interchange_time: str | None = None
    interchange_status: AckStatus | None = None
    interchange_status_raw: str | None = None
    note_code: str | None = None
    groups: list[AckedGroup] = Field(default_factory=list)

    @property
    def rejected(self) -> bool:
        statuses = [self.interchange_status] + [g.status for g in self.groups]
        statuses += [s.status for g in self.groups for s in g.sets]
        return AckStatus.REJECTED in statuses
