"""Located diagnostics for EDI input, shared by the X12 and EDIFACT engines.

Every defect found while reading a file becomes a ``Diagnostic``: an error (the part it
concerns must not be posted) or a warning (a defect the reader recovered from). Diagnostics
are collected rather than raised, so an acknowledgement can report all of them; only a
defect that stops reading altogether is raised, as ``EdiError``.

Positions: ``segment_position`` counts segments from 1 at the first segment of the FILE
(across interchanges), so a message points at one place in what the partner sent.
``set_position`` counts from 1 at the transaction/message header (ST or UNH), which is what
997/999 AK3/IK3 and CONTRL UCS report. ``element_position`` and ``component_position`` are
1-based as in the standards (``SE01`` is element 1 of SE).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


class Level(StrEnum):
    """Which envelope level a diagnostic concerns; decides where an ack reports it."""

    FILE = "file"
    INTERCHANGE = "interchange"
    GROUP = "group"
    TRANSACTION = "transaction"
    SEGMENT = "segment"


@dataclass(frozen=True)
class Diagnostic:
    severity: Severity
    reason: str
    level: Level = Level.SEGMENT
    segment_position: int | None = None
    segment_id: str | None = None
    element_position: int | None = None
    component_position: int | None = None
    set_position: int | None = None
    # Machine-readable kind, stable for tests and routing ("se_count", "iea_control" ...).
    code: str = ""
    # The code the standard's acknowledgement uses for this defect (TA105, AK905, AK502,
    # AK304, AK403 for X12; 0085 for CONTRL). Empty when the ack has no code for it.
    ack_code: str = ""
    bad_value: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def location(self) -> str:
        parts: list[str] = []
        if self.segment_position is not None:
            seg = f"segment {self.segment_position}"
            if self.segment_id:
                seg += f" ({self.segment_id})"
            parts.append(seg)
        elif self.segment_id:
            parts.append(f"segment {self.segment_id}")
        if self.element_position is not None:
            element = f"element {self.element_position}"
            if self.component_position is not None:
                element += f", component {self.component_position}"
            parts.append(element)
        return ", ".join(parts)

    def __str__(self) -> str:
        where = self.location()
        return f"{where}: {self.reason}" if where else self.reason


def error(reason: str, **where: Any) -> Diagnostic:
    return Diagnostic(Severity.ERROR, reason, **where)


def warning(reason: str, **where: Any) -> Diagnostic:
    return Diagnostic(Severity.WARNING, reason, **where)


class EdiError(Exception):
    """Reading cannot go on (not EDI at all, EBCDIC, no envelope ...). Carries the diagnostic
    that says where and why, plus any collected before it."""

    def __init__(self, diagnostic: Diagnostic, collected: list[Diagnostic] | None = None) -> None:
        self.diagnostic = diagnostic
        self.diagnostics = [*(collected or []), diagnostic]
        super().__init__(str(diagnostic))
