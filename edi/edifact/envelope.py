"""Envelope checks (ISO 9735): UNB/UNZ, UNG/UNE and UNH/UNT counts and references.

pydifact accepts interchanges whose trailers disagree with their content; the hub does
not. Each check adds a ``Diagnostic`` to the interchange or message it concerns, with the
segment position, tag, element position and the CONTRL error code (0085), so the same
findings drive error messages, rejection and the CONTRL answer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydifact.segments import Segment

from edi.common.numbers import brief, same_count, shown
from edi.common.text import digits
from edi.edifact.charsets import CHARSETS
from edi.edifact.diagnostics import Level, SyntaxCode
from edi.edifact.model import ReadGroup, ReadInterchange, ReadMessage, composite, element, locate

SYNTAX_VERSIONS = frozenset({"1", "2", "3", "4"})
MAX_REFERENCE = 14  # an..14 for 0020 (UNB/UNZ), 0048 (UNG/UNE), 0062 (UNH/UNT)
# The CONTRL level at which a defect of each envelope segment is reported.
_LEVELS = {
    "UNB": Level.INTERCHANGE,
    "UNZ": Level.INTERCHANGE,
    "UNG": Level.GROUP,
    "UNE": Level.GROUP,
    "UNH": Level.TRANSACTION,
    "UNT": Level.TRANSACTION,
}


def parse_unb_datetime(date: str, time: str) -> datetime | None:
    """UNB S004: YYMMDD (syntax 1-3) or CCYYMMDD (syntax 4) and HHMM; None when invalid."""
    formats = {6: "%y%m%d", 8: "%Y%m%d"}
    fmt = formats.get(len(date))
    if fmt is None or len(time) != 4 or not digits(date + time):
        return None
    try:
        return datetime.strptime(date + time, fmt + "%H%M")
    except ValueError:
        return None


class _Checker:
    def __init__(self, interchange: ReadInterchange) -> None:
        self.interchange = interchange

    def error(
        self,
        code: str,
        reason: str,
        syntax_error: str,
        *,
        message: ReadMessage | None = None,
        severity: str = "error",
        **where: Any,
    ) -> None:
        """Record a finding on the message it concerns, else on the interchange. ``where``:
        position, tag, element, component, group (see ``model.locate``)."""
        if "level" not in where:
            where["level"] = _LEVELS.get(where.get("tag", ""), Level.SEGMENT)
        diagnostic = locate(severity, code, reason, syntax_error, interchange=self.interchange, message=message, **where)
        (message.diagnostics if message is not None else self.interchange.diagnostics).append(diagnostic)

    def missing(self, seg: Segment, position: int, index: int, component: int, what: str, **where) -> bool:
        """Report a missing mandatory value; True when it is present."""
        if element(seg, index, component):
            return True
        self.error(
            "missing_element",
            f"{seg.tag} {what} is missing",
            SyntaxCode.MISSING,
            position=position,
            tag=seg.tag,
            element=index + 1,
            component=component + 1,
            **where,
        )
        return False


def validate_interchange(interchange: ReadInterchange) -> None:
    check = _Checker(interchange)
    _check_unb(check, interchange)
    _check_unz(check, interchange)
    _check_groups(check, interchange)
    seen: dict[str, ReadMessage] = {}
    for message in interchange.messages:
        _check_message(check, message)
        first = seen.setdefault(message.reference_number, message)
        if first is not message and message.reference_number:
            check.error(
                "duplicate_message_ref",
                f"message reference {message.reference_number!r} already used by the message at segment "
                f"{first.position} of this interchange",
                SyntaxCode.DUPLICATE,
                position=message.position,
                tag="UNH",
                element=1,
                message=message,
            )


def _check_unb(check: _Checker, ic: ReadInterchange) -> None:
    unb, pos = ic.header, ic.position
    if check.missing(unb, pos, 0, 0, "syntax identifier (S001/0001)"):
        if ic.syntax_id not in CHARSETS:
            check.error(
                "syntax_id",
                f"syntax identifier {ic.syntax_id!r} is not a UN/EDIFACT character set (UNOA..UNOY)",
                SyntaxCode.SYNTAX_LEVEL_NOT_SUPPORTED,
                position=pos,
                tag="UNB",
                element=1,
                component=1,
            )
    if check.missing(unb, pos, 0, 1, "syntax version (S001/0002)") and ic.syntax_version not in SYNTAX_VERSIONS:
        check.error(
            "syntax_version",
            f"syntax version {ic.syntax_version!r} is not 1, 2, 3 or 4",
            SyntaxCode.SYNTAX_LEVEL_NOT_SUPPORTED,
            position=pos,
            tag="UNB",
            element=1,
            component=2,
        )
    for index, what in ((1, "sender"), (2, "recipient")):
        if check.missing(unb, pos, index, 0, f"{what} identification (S00{index + 1})"):
            _check_party(check, unb, pos, index, what)
    if check.missing(unb, pos, 3, 0, "date of preparation (S004/0017)"):
        date, time = element(unb, 3, 0), element(unb, 3, 1)
        ic.timestamp = parse_unb_datetime(date, time)
        if ic.timestamp is None:
            check.error(
                "unb_datetime",
                f"date/time of preparation {date}:{time} is not a valid YYMMDD or CCYYMMDD date and HHMM time",
                SyntaxCode.INVALID_VALUE,
                position=pos,
                tag="UNB",
                element=4,
            )
    if check.missing(unb, pos, 4, 0, "interchange control reference (0020)"):
        _check_reference_length(check, ic.reference, pos, "UNB", 5)


def _check_party(check: _Checker, unb: Segment, position: int, index: int, what: str) -> None:
    """S002/S003: identification an..35, code qualifier an..4."""
    for component, limit in ((0, 35), (1, 4)):
        value = element(unb, index, component)
        if len(value) > limit:
            check.error("too_long", f"UNB {what} {'identification' if component == 0 else 'qualifier'} {value!r} "
                        f"is longer than {limit} characters", SyntaxCode.TOO_LONG, position=position, tag="UNB",
                        element=index + 1, component=component + 1)


def _check_reference_length(check: _Checker, ref: str, position: int, tag: str, index: int, **where) -> None:
    if len(ref) > MAX_REFERENCE:
        check.error(
            "reference_too_long",
            f"control reference {shown(ref)} is longer than {MAX_REFERENCE} characters",
            SyntaxCode.TOO_LONG,
            position=position,
            tag=tag,
            element=index,
            **where,
        )


def _check_count(check: _Checker, seg: Segment, position: int, actual: int, what: str, **where) -> None:
    stated = element(seg, 0)
    if not check.missing(seg, position, 0, 0, "control count", **where):
        return
    if not same_count(stated, actual):
        check.error(
            "control_count",
            f"{seg.tag} control count is {brief(stated)} but the {what} is {actual}",
            SyntaxCode.CONTROL_COUNT,
            position=position,
            tag=seg.tag,
            element=1,
            **where,
        )


def _check_reference(check: _Checker, seg: Segment, position: int, expected: str, header: str, **where) -> None:
    stated = element(seg, 1)
    if check.missing(seg, position, 1, 0, "control reference", **where) and stated != expected:
        check.error(
            "control_reference",
            f"{seg.tag} reference {shown(stated)} does not match {header} reference {shown(expected)}",
            SyntaxCode.REFERENCES_DO_NOT_MATCH,
            position=position,
            tag=seg.tag,
            element=2,
            **where,
        )


def _check_unz(check: _Checker, ic: ReadInterchange) -> None:
    if ic.trailer is None:
        return  # reported by the reader as missing_unz
    actual = len(ic.groups) if ic.groups else len(ic.messages)
    what = "number of functional groups" if ic.groups else "number of messages"
    _check_count(check, ic.trailer, ic.end_position, actual, what)
    _check_reference(check, ic.trailer, ic.end_position, ic.reference, "UNB")
    if not ic.messages:
        check.error(
            "empty_interchange",
            "interchange holds no message",
            SyntaxCode.LOWER_LEVEL_EMPTY,
            position=ic.position,
            tag="UNB",
        )


def _check_groups(check: _Checker, ic: ReadInterchange) -> None:
    if not ic.groups:
        return
    loose = [m for m in ic.messages if m.group is None]
    if loose:
        check.error(
            "groups_and_messages_mixed",
            "interchange mixes functional groups (UNG) with messages outside any group",
            SyntaxCode.GROUPS_AND_MESSAGES_MIXED,
            position=loose[0].position,
            tag="UNH",
        )
    for group in ic.groups:
        check.missing(group.header, group.position, 0, 0, "message group identification (0038)", group=group)
        if check.missing(group.header, group.position, 4, 0, "group reference (0048)", group=group):
            _check_reference_length(check, group.reference, group.position, "UNG", 5, group=group)
        if group.trailer is not None:
            _check_count(check, group.trailer, group.end_position, len(group.messages), "number of messages", group=group)
            _check_reference(check, group.trailer, group.end_position, group.reference, "UNG", group=group)
        _check_group_versions(check, group)


def _check_group_versions(check: _Checker, group: ReadGroup) -> None:
    """UNG S008 says which message version the group holds; a different UNH version is
    worth a warning (the message is read by its own UNH)."""
    stated = composite(group.header, 6)
    version = "".join(stated[:2])
    for message in group.messages:
        if version and message.directory and version != message.directory:
            check.error(
                "group_version",
                f"UNG announces version {':'.join(stated[:2])} but the message is {message.directory}",
                SyntaxCode.VALUE_NOT_SUPPORTED,
                position=message.position,
                tag="UNH",
                element=2,
                message=message,
                group=group,
                severity="warning",
            )


def _check_message(check: _Checker, message: ReadMessage) -> None:
    unh, pos = message.header, message.position
    where = {"message": message, "group": message.group}
    if check.missing(unh, pos, 0, 0, "message reference number (0062)", **where):
        _check_reference_length(check, message.reference_number, pos, "UNH", 1, **where)
    for component, what in enumerate(("message type (0065)", "version (0052)", "release (0054)", "agency (0051)")):
        check.missing(unh, pos, 1, component, f"message identifier {what}", **where)
    if message.trailer is None:
        return  # reported by the reader as missing_unt
    segments = len(message.segments) + 2
    _check_count(check, message.trailer, message.end_position, segments, "number of segments from UNH to UNT", **where)
    _check_reference(check, message.trailer, message.end_position, message.reference_number, "UNH", **where)
