"""Base classes of the canonical model and its canonical JSON form.

``CanonicalModel``: unknown fields are errors (a typo must not silently drop data), strings are
trimmed. ``Document``: a top-level document with ``document_type`` and ``schema_version``.

Canonical JSON (what the hub stores, sends and compares): fields in declaration order, ``None``
fields left out, decimals as strings, two-space indent, UTF-8, trailing newline. Loading a
canonical JSON document and dumping it again gives the same bytes.
"""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.canonical.types import AwareDatetime, Code

SCHEMA_VERSION_PATTERN = re.compile(r"^(\d+)\.(\d+)$")


class CanonicalModel(BaseModel):
    # Inputs stay out of error messages: documents can carry PHI, and errors end up in logs.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, validate_assignment=True, hide_input_in_errors=True)

    def canonical_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)

    def canonical_json(self) -> str:
        return canonical_json(self.canonical_dict())


def canonical_json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


class Reference(CanonicalModel):
    """A qualified reference kept as sent (X12 REF01/REF02, EDIFACT RFF C506)."""

    qualifier: Code
    value: Code
    description: str | None = None


class DocumentMeta(CanonicalModel):
    """Hub bookkeeping shared by every entity (domain.md section A conventions). Mappers leave
    it empty; the hub fills it when it stores the document."""

    id: Code | None = Field(None, description="Hub-assigned UUID")
    tenant_id: Code | None = None
    source: Code | None = Field(None, description="System/partner + channel the document came from")
    source_ref: Code | None = Field(None, description="ISA13/GS06/ST02, UNB/UNH refs or API request id")
    raw_ref: Code | None = Field(None, description="Pointer to the stored original (message id)")
    created_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None
    version: int | None = Field(None, ge=0, description="Optimistic-locking version")


class Document(CanonicalModel):
    """A top-level canonical document. Subclasses set ``document_type`` to a one-value Literal.

    ``schema_version`` is MAJOR.MINOR: minor versions only add optional fields or enum values,
    so a consumer accepts any minor of its own major; another major is refused."""

    SCHEMA_VERSION: ClassVar[str] = "1.0"

    document_type: str
    schema_version: str = Field(default="1.0", pattern=SCHEMA_VERSION_PATTERN.pattern)
    meta: DocumentMeta | None = None

    @field_validator("schema_version")
    @classmethod
    def _same_major(cls, value: str) -> str:
        major = value.split(".", 1)[0]
        ours = cls.SCHEMA_VERSION.split(".", 1)[0]
        if major != ours:
            raise ValueError(f"schema_version {value} has major version {major}; this hub reads {ours}.x")
        return value

    @classmethod
    def type_name(cls) -> str:
        return cls.model_fields["document_type"].default

    @classmethod
    def from_json(cls, text: str | bytes) -> Self:
        """Parse canonical JSON. Numbers must not be floats (see ``hub.canonical.types``)."""
        return cls.model_validate(json.loads(text))
