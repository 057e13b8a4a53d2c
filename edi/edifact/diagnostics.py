"""Diagnostics: every error or recovery warning the EDIFACT engine reports, with its place.

A diagnostic names the place in the input the way EDIFACT does (segment position, tag,
element and component position, interchange / group / message reference) and carries the
ISO 9735 syntax error code (data element 0085) so a CONTRL can be built from it directly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning"]


class SyntaxCode:
    """ISO 9735 syntax error codes (data element 0085) the hub reports."""

    SYNTAX_LEVEL_NOT_SUPPORTED = "2"
    INVALID_VALUE = "12"
    MISSING = "13"
    VALUE_NOT_SUPPORTED = "14"
    NOT_SUPPORTED_IN_POSITION = "15"
    TOO_MANY_CONSTITUENTS = "16"
    UNSPECIFIED = "18"
    INVALID_DECIMAL_NOTATION = "19"
    INVALID_CHARACTERS = "21"
    DUPLICATE = "26"
    REFERENCES_DO_NOT_MATCH = "28"
    CONTROL_COUNT = "29"
    GROUPS_AND_MESSAGES_MIXED = "30"
    LOWER_LEVEL_EMPTY = "32"
    OUTSIDE_MESSAGE = "33"
    TOO_MANY_SEGMENT_REPETITIONS = "35"
    INVALID_CHARACTER_TYPE = "37"
    TOO_LONG = "39"
    TOO_SHORT = "40"


@dataclass(frozen=True)
class Diagnostic:
    """One finding. ``position`` counts segments from 1 at the start of the file;
    ``message_position`` counts from 1 at the message's UNH (what CONTRL UCS 0096 wants)."""

    severity: Severity
    code: str
    reason: str
    syntax_error: str | None = None
    position: int | None = None
    tag: str | None = None
    element: int | None = None
    component: int | None = None
    interchange_ref: str | None = None
    group_ref: str | None = None
    message_ref: str | None = None
    message_position: int | None = None
    filename: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    @property
    def location(self) -> str:
        parts: list[str] = []
        if self.filename:
            parts.append(self.filename)
        if self.position is not None:
            where = f"segment {self.position}"
            if self.tag:
                where += f" ({self.tag})"
            parts.append(where)
        elif self.tag:
            parts.append(f"segment {self.tag}")
        if self.element is not None:
            parts.append(f"element {self.element}" + (f", component {self.component}" if self.component else ""))
        if self.message_ref is not None:
            parts.append(f"message {self.message_ref!r}")
        elif self.interchange_ref is not None:
            parts.append(f"interchange {self.interchange_ref!r}")
        return ", ".join(parts) if parts else "file"

    def __str__(self) -> str:
        code = f" [EDIFACT error {self.syntax_error}]" if self.syntax_error else ""
        return f"{self.severity}: {self.location}: {self.reason}{code}"

    def as_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if v is not None}
        data["location"] = self.location
        return data


@dataclass
class _Tally:
    first: Diagnostic
    count: int = 1


@dataclass
class Recoveries:
    """Recovery warnings of one kind are reported once, with a count and the first place:
    a file hard-wrapped at 80 columns should give one warning, not one per line."""

    _tallies: dict[str, _Tally] = field(default_factory=dict)

    def note(self, diagnostic: Diagnostic) -> None:
        tally = self._tallies.get(diagnostic.code)
        if tally is None:
            self._tallies[diagnostic.code] = _Tally(diagnostic)
        else:
            tally.count += 1

    def diagnostics(self) -> list[Diagnostic]:
        out = []
        for tally in self._tallies.values():
            d = tally.first
            if tally.count > 1:
                d = Diagnostic(**{**asdict(d), "reason": f"{d.reason} ({tally.count} places; first shown)"})
            out.append(d)
        return out


class EdifactError(Exception):
    """The input cannot be read as EDIFACT at all (no UNB, not text ...). Carries diagnostics."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        super().__init__("; ".join(str(d) for d in diagnostics))
