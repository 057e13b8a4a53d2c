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


# Diagnostics of one kind listed one by one in one place (a set, a message, a group, an
# interchange); past that they are counted into one summary. A file of junk would otherwise
# carry a diagnostic per junk segment into memory, onto stderr and into the acknowledgement.
MAX_LISTED = 100


@dataclass
class Overflow:
    """Counts the diagnostics of one kind in one place past ``MAX_LISTED``: ``admit`` says
    whether to list the next one; ``summary`` is the one diagnostic for the rest (or None)."""

    count: int = 0
    first: dict[str, Any] | None = None  # where the first unlisted one was (Diagnostic fields)

    def admit(self, **where: Any) -> bool:
        self.count += 1
        if self.count <= MAX_LISTED:
            return True
        if self.first is None:
            self.first = where
        return False

    def summary(self, what: str, **extra: Any) -> Diagnostic | None:
        if self.first is None:
            return None
        more = self.count - MAX_LISTED
        return error(f"{more:,} more {what} after the first {MAX_LISTED} (not listed one by one)",
                     **{**self.first, **extra})


class EdiError(Exception):
    """Reading cannot go on (not EDI at all, EBCDIC, no envelope ...). Carries the diagnostic
    that says where and why, plus any collected before it."""

    def __init__(self, diagnostic: Diagnostic, collected: list[Diagnostic] | None = None) -> None:
        self.diagnostic = diagnostic
        self.diagnostics = [*(collected or []), diagnostic]
        super().__init__(str(diagnostic))


# The business exception kind (hub/business_exceptions.py) of a well-formed set or message the
# hub cannot map to its canonical model; a mapping problem may name a more precise kind.
UNMAPPABLE_DOCUMENT = "unmappable_document"


class MappingError(Exception):
    """A transaction set / message the mapping cannot turn into canonical documents.

    ``syntax`` says whose problem it is. True: the standard's own syntax is broken (a value
    that is not of its data type, an invalid date, a segment or element the standard makes
    mandatory, a code of a code list the standard fixes): the 997/999/CONTRL reports it. False:
    the set is well-formed but the hub cannot use it (no usable item identifier, no lines where
    the standard allows none, a currency the canonical model refuses, control totals that
    disagree): the acknowledgement stays positive and the route records a business exception
    of kind ``exception_kind`` for the review queue (acks report syntax only)."""

    def __init__(self, diagnostic: Diagnostic, *, syntax: bool = True, exception_kind: str = UNMAPPABLE_DOCUMENT) -> None:
        self.diagnostic = diagnostic
        self.syntax = syntax
        self.exception_kind = exception_kind
        super().__init__(str(diagnostic))

    def business_diagnostic(self) -> Diagnostic:
        """The diagnostic as the translation reports a business problem: an error (nothing is
        posted), naming the exception kind it becomes, without an acknowledgement code."""
        d = self.diagnostic
        return Diagnostic(d.severity, f"{d.reason} (a business problem for the review queue: "
                          f"{self.exception_kind}; not a syntax error)", d.level, d.segment_position, d.segment_id,
                          d.element_position, d.component_position, d.set_position, d.code, "", d.bad_value,
                          {**d.extra, "exception_kind": self.exception_kind})
