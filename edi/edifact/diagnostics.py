"""EDIFACT side of the shared diagnostics (``edi.common.diagnostics``).

Every defect is a shared ``Diagnostic`` whose ``ack_code`` is the ISO 9735 syntax error code
(data element 0085) CONTRL reports, and whose ``level`` says where CONTRL reports it:
``INTERCHANGE`` → UCI, ``GROUP`` → UCF, ``TRANSACTION`` → UCM, ``SEGMENT`` → UCS (+ UCD when
``element_position`` is set). ``extra`` carries the references of the interchange, group and
message concerned (``{"interchange": "131", "message": "ME000001"}``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from edi.common.diagnostics import Diagnostic, EdiError, Level, Severity


class SyntaxCode:
    """ISO 9735 syntax error codes (data element 0085) the hub reports."""

    SYNTAX_LEVEL_NOT_SUPPORTED = "2"
    INVALID_VALUE = "12"
    MISSING = "13"
    VALUE_NOT_SUPPORTED = "14"
    NOT_SUPPORTED_IN_POSITION = "15"
    TOO_MANY_CONSTITUENTS = "16"
    NO_AGREEMENT = "17"
    UNSPECIFIED = "18"
    INVALID_DECIMAL_NOTATION = "19"
    INVALID_SERVICE_CHARACTER = "20"
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


def describe(diagnostic: Diagnostic, filename: str | None = None) -> str:
    """``file, segment 12 (UNT), element 1, message '44': reason [EDIFACT error 29]``."""
    parts = [filename] if filename else []
    where = diagnostic.location()
    if where:
        parts.append(where)
    refs = diagnostic.extra
    if refs.get("message") is not None:
        parts.append(f"message {refs['message']!r}")
    elif refs.get("interchange") is not None:
        parts.append(f"interchange {refs['interchange']!r}")
    code = f" [EDIFACT error {diagnostic.ack_code}]" if diagnostic.ack_code else ""
    head = ", ".join(parts)
    return f"{diagnostic.severity.value}: {head + ': ' if head else ''}{diagnostic.reason}{code}"


@dataclass
class _Tally:
    first: Diagnostic
    count: int = 1


@dataclass
class Recoveries:
    """Recovery warnings of one kind are reported once, with a count and the first place:
    a file hard-wrapped at 80 columns should give one warning, not one per line."""

    _tallies: dict[str, _Tally] = field(default_factory=dict)

    def again(self, code: str) -> bool:
        """Count one more place of a kind already noted (True), so a caller need not build its
        diagnostic again: a file of junk has one recovery per byte."""
        tally = self._tallies.get(code)
        if tally is None:
            return False
        tally.count += 1
        return True

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
                d = replace(d, reason=f"{d.reason} ({tally.count} places; first shown)")
            out.append(d)
        return out


class EdifactError(EdiError):
    """The input cannot be read as EDIFACT at all (empty, no UNB ...)."""


def fatal(code: str, reason: str) -> EdifactError:
    return EdifactError(Diagnostic(Severity.ERROR, reason, Level.FILE, code=code))


__all__ = ["Diagnostic", "EdifactError", "Level", "Recoveries", "Severity", "SyntaxCode", "describe", "fatal"]
