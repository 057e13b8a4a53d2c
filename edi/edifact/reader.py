"""Read EDIFACT bytes into pydifact interchanges and messages, with envelope discipline.

``read(data)`` decodes (BOM, declared character set, UTF-8 mistakes), tokenizes with the
hub's tokenizer (UNA anywhere, release escapes, layout recoveries), builds the
UNB/UNG/UNH structure — recovering from missing trailers and stray segments with located
errors — and runs the envelope checks of ``edi.edifact.envelope``. It raises
``EdifactError`` only when there is no EDIFACT interchange in the input at all; every other
defect is a diagnostic attached to the interchange or message it concerns.
"""

from __future__ import annotations

import dataclasses
import gc
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from contextlib import contextmanager

from pydifact.segments import Segment

from edi.edifact import envelope
from edi.edifact.directory import acceptors, validate_message
from edi.edifact.charsets import decode_bytes, outside_pattern
from edi.common.decoding import check_encoding, strip_leading
from edi.common.diagnostics import EdiError, Overflow
from edi.edifact.diagnostics import Diagnostic, EdifactError, Level, Severity, SyntaxCode, fatal
from edi.edifact.model import EdifactFile, ReadGroup, ReadInterchange, ReadMessage, locate
from edi.edifact.tokenizer import Tokens, tokenize

_ENVELOPE_TAGS = frozenset({"UNA", "UNB", "UNZ", "UNG", "UNE", "UNH", "UNT"})


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small acyclic objects: a
    50 000-segment file otherwise triggers repeated full collections over the growing
    segment list (about a third of the reading time). Reference counting still frees.

    On resuming, what was allocated meanwhile would all sit in the youngest generation and
    the next automatic collection would scan it whole; ``freeze`` + ``unfreeze`` moves it to
    the oldest generation instead (still collected by later full collections). Skipped when
    someone else keeps objects frozen (e.g. before a fork), so their freeze is left alone."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            if gc.get_freeze_count() == 0:
                gc.freeze()
                gc.unfreeze()
            gc.enable()


def read(data: bytes, *, filename: str | None = None) -> EdifactFile:
    with gc_paused():
        return _read(data, filename)


def _read(data: bytes, filename: str | None) -> EdifactFile:
    if not data.strip():
        raise fatal("empty", "the input is empty")
    try:
        check_encoding(strip_leading(data[:64]))
    except EdiError as refused:
        raise EdifactError(refused.diagnostic) from None
    decoded = decode_bytes(data)
    tokens = tokenize(decoded.text, acceptors)
    builder = _Builder(tokens)
    builder.build()
    if not builder.interchanges:
        raise fatal("no_interchange", "no UNB interchange header found: not EDIFACT")
    file = EdifactFile(builder.interchanges, tokens.segments, builder.loose, filename, decoded.codec)
    if decoded.had_bom:
        file.diagnostics.append(_file_warning("bom", "UTF-8 byte-order mark before the first segment ignored"))
    if decoded.encoding_note:
        file.diagnostics.append(_file_warning("encoding", decoded.encoding_note))
    _attach(tokens.diagnostics, file)
    outside_anywhere: dict[re.Pattern[str], bool] = {}
    for interchange in file.interchanges:
        envelope.validate_interchange(interchange)
        for message in interchange.messages:
            validate_message(message, tokens.suspects)
        _check_characters(interchange, tokens, decoded.text, outside_anywhere)
    return file


def _file_warning(code: str, reason: str) -> Diagnostic:
    return Diagnostic(Severity.WARNING, reason, Level.FILE, segment_position=1, code=code)


class _Builder:
    """Walks the flat segment list once and groups it into interchanges, groups, messages."""

    def __init__(self, tokens: Tokens) -> None:
        self.tokens = tokens
        self.interchanges: list[ReadInterchange] = []
        self.loose: list[Diagnostic] = []
        self.interchange: ReadInterchange | None = None
        self.group: ReadGroup | None = None
        self.message: ReadMessage | None = None
        self.body_start = 0
        self.stray_run = False

    def build(self) -> None:
        segments = self.tokens.segments
        # Only envelope segments change the state: they are found in one pass, and the body
        # segments between two of them are looked at only when no message is open (strays).
        marks = [i for i, seg in enumerate(segments) if seg.tag in _ENVELOPE_TAGS]
        start = 0
        for index in [*marks, len(segments)]:
            if self.message is None:
                for stray in range(start, index):
                    self._stray(segments[stray], stray + 1)
            if index < len(segments):
                seg = segments[index]
                self.stray_run = False
                getattr(self, "_on_" + seg.tag)(seg, index + 1)
            start = index + 1
        self._end_of_input(len(segments))

    # -- envelope segments --------------------------------------------------------------
    def _on_UNA(self, seg: Segment, position: int) -> None:  # noqa: N802
        if self.interchange is not None:
            self._close_interchange(position - 1, missing_trailer=True, at=position, before="UNA")

    def _on_UNB(self, seg: Segment, position: int) -> None:  # noqa: N802
        if self.interchange is not None:
            self._close_interchange(position - 1, missing_trailer=True, at=position, before="UNB")
        section = self.tokens.section_at(position)
        has_una = section.has_una and section.first_position == position - 1
        self.interchange = ReadInterchange(seg, position, section.delimiters, has_una)
        self.interchanges.append(self.interchange)

    def _on_UNZ(self, seg: Segment, position: int) -> None:  # noqa: N802
        if self.interchange is None:
            self._loose_error("unz_without_unb", "UNZ without a preceding UNB", position, "UNZ")
            return
        self.interchange.trailer = seg
        self._close_interchange(position, missing_trailer=False, at=position, before="UNZ")

    def _on_UNG(self, seg: Segment, position: int) -> None:  # noqa: N802
        if self.interchange is None:
            self._loose_error("outside_interchange", "UNG outside an interchange", position, "UNG")
            return
        self._close_message(position, before="UNG")
        self._close_group(position - 1, missing_trailer=True, before="UNG")
        self.group = ReadGroup(seg, position)
        self.interchange.groups.append(self.group)

    def _on_UNE(self, seg: Segment, position: int) -> None:  # noqa: N802
        if self.group is None:
            self._interchange_error("une_without_ung", "UNE without a preceding UNG", position, "UNE")
            return
        self._close_message(position, before="UNE")
        self.group.trailer = seg
        self._close_group(position, missing_trailer=False, before="UNE")

    def _on_UNH(self, seg: Segment, position: int) -> None:  # noqa: N802
        if self.interchange is None:
            self._loose_error("outside_interchange", "UNH outside an interchange (no UNB before it)", position, "UNH")
            return
        self._close_message(position, before="UNH")
        self.message = ReadMessage(seg, position, self.interchange, self.group)
        self.interchange.messages.append(self.message)
        if self.group is not None:
            self.group.messages.append(self.message)
        self.body_start = position  # index of the first body segment in the flat list

    def _on_UNT(self, seg: Segment, position: int) -> None:  # noqa: N802
        if self.message is None:
            self._interchange_error("unt_without_unh", "UNT without a preceding UNH", position, "UNT")
            return
        self.message.trailer = seg
        self.message.segments = self.tokens.segments[self.body_start : position - 1]
        self.message.end_position = position
        self.message = None

    # -- closing what was left open -----------------------------------------------------
    def _close_message(self, position: int, *, before: str) -> None:
        message = self.message
        if message is None:
            return
        message.segments = self.tokens.segments[self.body_start : position - 1]
        message.end_position = position - 1
        message.diagnostics.append(
            self._diag(
                "missing_unt",
                f"message {message.reference_number!r} has no UNT before the {before} at segment {position}",
                message.position,
                "UNH",
                SyntaxCode.MISSING,
                message=message,
            )
        )
        self.message = None

    def _close_group(self, end: int, *, missing_trailer: bool, before: str) -> None:
        group = self.group
        if group is None:
            return
        group.end_position = end
        if missing_trailer and self.interchange is not None:
            self.interchange.diagnostics.append(
                self._diag(
                    "missing_une",
                    f"group {group.reference!r} has no UNE before the {before} at segment {end + 1}",
                    group.position,
                    "UNG",
                    SyntaxCode.MISSING,
                    level=Level.GROUP,
                )
            )
        self.group = None

    def _close_interchange(self, end: int, *, missing_trailer: bool, at: int, before: str) -> None:
        interchange = self.interchange
        assert interchange is not None
        self._close_message(at, before=before)
        self._close_group(end, missing_trailer=True, before=before)
        interchange.end_position = end
        interchange.segments = self.tokens.segments[interchange.position : end - (0 if missing_trailer else 1)]
        if missing_trailer:
            interchange.diagnostics.append(
                self._diag(
                    "missing_unz",
                    f"interchange {interchange.reference!r} has no UNZ before the {before} at segment {at}",
                    interchange.position,
                    "UNB",
                    SyntaxCode.MISSING,
                )
            )
        self.interchange = None

    def _end_of_input(self, last: int) -> None:
        if self.interchange is not None:
            self._close_interchange(last, missing_trailer=True, at=last + 1, before="end of the input")

    # -- everything else ----------------------------------------------------------------
    def _stray(self, seg: Segment, position: int) -> None:
        """A data segment outside any message: reported once per run of such segments."""
        if self.stray_run:
            return
        self.stray_run = True
        if self.interchange is None:
            self._loose_error("outside_interchange", f"segment {seg.tag} outside any interchange", position, seg.tag)
        else:
            self._interchange_error(
                "outside_message", f"segment {seg.tag} between messages (outside UNH..UNT)", position, seg.tag
            )

    def _diag(
        self,
        code: str,
        reason: str,
        position: int,
        tag: str,
        ack_code: str = "",
        *,
        level: Level = Level.INTERCHANGE,
        message: ReadMessage | None = None,
    ) -> Diagnostic:
        return locate(
            "error",
            code,
            reason,
            ack_code,
            level=Level.TRANSACTION if message is not None else level,
            position=position,
            tag=tag,
            interchange=self.interchange,
            message=message,
        )

    def _loose_error(self, code: str, reason: str, position: int, tag: str) -> None:
        self.loose.append(self._diag(code, reason, position, tag, SyntaxCode.OUTSIDE_MESSAGE, level=Level.FILE))

    def _interchange_error(self, code: str, reason: str, position: int, tag: str) -> None:
        if self.interchange is None:
            self._loose_error(code, f"{reason} (and outside any interchange)", position, tag)
            return
        self.interchange.diagnostics.append(self._diag(code, reason, position, tag, SyntaxCode.OUTSIDE_MESSAGE))


def _attach(found: list[Diagnostic], file: EdifactFile) -> None:
    """Give tokenizer diagnostics to what they concern: errors to their message, else to their
    interchange (a UNA belongs to the interchange after it), recoveries to the file. Messages
    and interchanges are found by bisection, and each lists at most ``MAX_LISTED`` errors of a
    kind, then one summary: a file of junk has an error per junk segment."""
    messages = list(file.messages())
    starts = [m.position for m in messages]
    ends = [ic.end_position for ic in file.interchanges]
    overflows: dict[tuple[int, str], tuple[list[Diagnostic], Overflow, dict]] = {}
    for d in found:
        position = d.segment_position or 0
        message = _message_at(messages, starts, position) if d.is_error else None
        if message is not None:
            owner, extra = message.diagnostics, {"interchange": message.interchange.reference,
                                                 "message": message.reference_number}
            where = {"set_position": position - message.position + 1}
        else:
            interchange = _interchange_at(file.interchanges, ends, position)
            if not d.is_error or interchange is None:
                file.diagnostics.append(d)
                continue
            owner, extra, where = interchange.diagnostics, {"interchange": interchange.reference}, {}
        _, overflow, _ = overflows.setdefault((id(owner), d.code), (owner, Overflow(), extra))
        if overflow.admit(level=d.level, segment_position=position, segment_id=d.segment_id, code=d.code,
                          ack_code=d.ack_code, **where):
            owner.append(dataclasses.replace(d, extra=extra, **where))
    for (_, code), (owner, overflow, extra) in overflows.items():
        more = overflow.summary(f"segments with the error {code!r}", extra=extra)
        if more is not None:
            owner.append(more)


def _message_at(messages: list[ReadMessage], starts: list[int], position: int) -> ReadMessage | None:
    i = bisect_right(starts, position) - 1
    if i >= 0 and messages[i].position <= position <= messages[i].end_position:
        return messages[i]
    return None


def _interchange_at(interchanges: list[ReadInterchange], ends: list[int], position: int) -> ReadInterchange | None:
    """The first interchange whose span (from the segment before its UNB, a UNA) holds ``position``."""
    i = bisect_left(ends, position)
    if i < len(interchanges) and interchanges[i].position - 1 <= position:
        return interchanges[i]
    return None


def _check_characters(interchange: ReadInterchange, tokens: Tokens, text: str,
                      outside_anywhere: dict[re.Pattern[str], bool]) -> None:
    """Characters outside the declared repertoire are tolerated with one warning. One regex
    search over the whole text decides whether the per-segment search is needed at all — once
    per repertoire, not per interchange (thousands of interchanges made that quadratic)."""
    d = interchange.delimiters
    pattern = outside_pattern(interchange.syntax_id, d.escapable())
    if pattern is None:
        return
    if pattern not in outside_anywhere:
        outside_anywhere[pattern] = pattern.search(text) is not None
    if not outside_anywhere[pattern]:
        return
    count = 0
    first: tuple[int, str, str] | None = None
    for offset, seg in enumerate(tokens.segments[interchange.position - 1 : interchange.end_position]):
        for value in _strings(seg):
            hits = pattern.findall(value)
            if hits:
                count += len(hits)
                if first is None:
                    first = (interchange.position + offset, seg.tag, hits[0])
    if first is None:
        return
    position, tag, char = first
    interchange.diagnostics.append(
        locate(
            "warning",
            "charset",
            f"{count} character(s) outside the {interchange.syntax_id} character set, first {char!r}; kept as read",
            SyntaxCode.INVALID_CHARACTERS,
            level=Level.SEGMENT,
            position=position,
            tag=tag,
            interchange=interchange,
        )
    )


def _strings(seg: Segment):
    for value in seg.elements:
        if isinstance(value, list):
            yield from value
        else:
            yield value
