"""X12 tokenizer: bytes in, segments (lists of element strings) out, streaming.

Delimiters come from each ISA: the element separator is the character after ``ISA``, the
component separator is ISA16, the segment terminator is the character right after ISA16
(it may be CR or LF), and ISA11 is the repetition separator from version 00402 on (before
that it is the ``U`` standards id). Every interchange in a file brings its own delimiters.

The input is read in chunks (default 1 MiB) and never held whole: the tokenizer yields
``SegmentBatch`` objects, each holding the segments of one chunk region of one interchange.
Splitting happens in C (``str.split``) over whole regions; the per-segment Python work is a
strip and a split, which keeps tokenizing close to a plain ``str.split`` loop.

Tolerated (with a warning where the partner should hear of it): UTF-8 BOM, whitespace and
line breaks around segments, CR/LF-only terminators, a trailing Ctrl-Z, unpadded ISA,
non-ASCII terminators, bytes that are not UTF-8 (read as latin-1), a file hard-wrapped at a
fixed width, a missing ISA16 (the terminator taken for it), and a segment terminator missing
before a line break. Refused with an ``EdiError``: EBCDIC/UTF-16 files, input that holds no
ISA, and an ISA whose delimiters cannot be determined.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from edi.common.decoding import ChunkDecoder, check_encoding, strip_leading
from edi.common.diagnostics import Diagnostic, Level, error, warning
from edi.x12.errors import X12Error

CHUNK_SIZE = 1 << 20
ISA_LENGTH = 106
# An unpadded or hard-wrapped ISA is shorter or longer than 106; past this it is not an ISA.
ISA_MAX_LENGTH = 400
_SPACE = " \t\r\n\x0b\x0c\x00\x1a"
_LINE_BREAKS = re.compile(r"[\r\n]+")
_SEGMENT_START = r"[A-Z][A-Z0-9]{1,2}"
_ISA_START = re.compile(r"ISA[^A-Za-z0-9\s]")


@dataclass(frozen=True)
class Delimiters:
    """The four X12 delimiters. ``component``/``repetition`` are "" when the interchange has
    none. ``suffix`` is only for writing: what follows each terminator (e.g. a line break)."""

    element: str = "*"
    component: str = ">"
    repetition: str = ""
    segment: str = "~"
    suffix: str = "\n"

    def chars(self) -> set[str]:
        return {c for c in (self.element, self.component, self.repetition, self.segment) if c}


@dataclass
class SegmentBatch:
    """Consecutive segments of one interchange. ``first_position`` is the file-level position
    (1-based) of ``segments[0]``; the ISA always opens a batch of its own."""

    delimiters: Delimiters
    first_position: int
    segments: list[list[str]]
    is_isa: bool = False


@dataclass
class _IsaParse:
    delimiters: Delimiters
    elements: list[str]
    end: int
    diagnostics: list[Diagnostic] = field(default_factory=list)


class _HardWrapped(Exception):
    """The ISA holds line breaks: the file was wrapped at a fixed width."""


def parse_isa(text: str, start: int, *, final: bool, position: int) -> _IsaParse | None:
    """Read the ISA at ``text[start:]``; None when more text is needed to decide."""
    if len(text) - start < 4:
        if final:
            raise X12Error(error("file ends inside the ISA segment", level=Level.INTERCHANGE,
                                 segment_position=position, segment_id="ISA", code="isa_truncated",
                                 ack_code="023"))
        return None
    sep = text[start + 3]
    if sep.isalnum() or sep in _SPACE:
        raise X12Error(error(f"element separator {sep!r} after 'ISA' is a letter, digit or space",
                             level=Level.INTERCHANGE, segment_position=position, segment_id="ISA",
                             code="isa_separator", ack_code="026"))
    fixed_end = start + ISA_LENGTH
    if (len(text) >= fixed_end and text[fixed_end - 3] == sep
            and text.count(sep, start, fixed_end - 2) == 16
            and "\n" not in text[start:fixed_end - 2] and "\r" not in text[start:fixed_end - 2]):
        last_sep = fixed_end - 3
    else:
        last_sep = _find_16th_separator(text, start, sep, final=final, position=position)
        if last_sep is None:
            return None
    if last_sep + 2 >= len(text) and not final:
        return None
    if last_sep + 2 > len(text):
        raise X12Error(error("file ends inside the ISA segment", level=Level.INTERCHANGE,
                             segment_position=position, segment_id="ISA", code="isa_truncated",
                             ack_code="023"))
    head = text[start:last_sep]
    if "\n" in head or "\r" in head:
        raise _HardWrapped()
    elements = head.split(sep)
    component = text[last_sep + 1]
    terminator = text[last_sep + 2] if last_sep + 2 < len(text) else ""
    elements.append(component)
    return _delimiters_from_isa(text, sep, elements, last_sep + 3, terminator, position)


def _find_16th_separator(text: str, start: int, sep: str, *, final: bool, position: int) -> int | None:
    idx = start + 3  # the first separator
    for count in range(1, 16):
        nxt = text.find(sep, idx + 1, start + ISA_MAX_LENGTH)
        if nxt < 0:
            if not final and len(text) - start < ISA_MAX_LENGTH:
                return None
            raise X12Error(error(f"ISA segment has only {count} of its 16 element separators {sep!r}",
                                 level=Level.INTERCHANGE, segment_position=position, segment_id="ISA",
                                 element_position=count, code="isa_incomplete", ack_code="024"))
        idx = nxt
    return idx


def _delimiters_from_isa(text: str, sep: str, elements: list[str], end: int, terminator: str,
                         position: int) -> _IsaParse:
    diags: list[Diagnostic] = []
    component = elements[16]
    where = {"level": Level.INTERCHANGE, "segment_position": position, "segment_id": "ISA"}
    if terminator in ("\r", "\n"):
        fixed = _missing_isa16(text, end, component, terminator)
        if fixed:
            diags.append(warning(f"ISA16 (component separator) is missing: {component!r} ends the ISA "
                                 "and every segment, so it is taken as the segment terminator and the "
                                 "interchange has no component separator", element_position=16,
                                 code="isa16_missing", **where))
            terminator, component = component, ""
            end -= 1
    if not terminator:
        raise X12Error(error("file ends right after ISA16: no segment terminator", code="isa_truncated",
                             ack_code="023", **where))
    if terminator.isalnum() or terminator == " ":
        raise X12Error(error(f"segment terminator {terminator!r} after ISA16 is a letter, digit or "
                             "space", code="isa_terminator", ack_code="004", **where))
    if component and (component.isalnum() or component in (sep, terminator)):
        diags.append(error(f"component separator ISA16 {component!r} is not a usable delimiter",
                           element_position=16, code="isa_component", ack_code="027",
                           bad_value=component, **where))
        component = ""
    if not terminator.isascii():
        diags.append(warning(f"segment terminator {terminator!r} (U+{ord(terminator):04X}) is not an "
                             "ASCII character", code="terminator_non_ascii", **where))
    version = elements[12].strip()
    isa11 = elements[11]
    repetition = ""
    if version >= "00402" and len(isa11) == 1 and not isa11.isalnum() and isa11 not in _SPACE:
        repetition = isa11 if isa11 not in (sep, component, terminator) else ""
    suffix = "\n" if terminator != "\n" else ""
    if terminator == "\r" and text.startswith("\n", end):
        suffix = "\n"
    delims = Delimiters(sep, component, repetition, terminator, suffix)
    return _IsaParse(delims, elements, end, diags)


def _missing_isa16(text: str, end: int, component: str, terminator: str) -> bool:
    """True when ISA16 was left out, so the real terminator was read as ISA16 and the line
    break after it as the terminator: the next segment then also ends with that character."""
    if component.isalnum() or component in _SPACE:
        return False
    line_end = text.find("\n", end)
    if line_end < 0:
        return False
    next_segment = text[end:line_end].strip(_SPACE)
    return bool(next_segment) and next_segment.endswith(component)


class Tokenizer:
    """Iterate ``SegmentBatch`` objects from a binary stream (or bytes)."""

    def __init__(self, source: BinaryIO | bytes, *, chunk_size: int = CHUNK_SIZE) -> None:
        self._stream: BinaryIO = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
        self._chunk_size = chunk_size
        self._decoder = ChunkDecoder()
        self._eof = False
        self._first = True
        self._wrapped = False
        self._warned_non_utf8 = False
        self.diagnostics: list[Diagnostic] = []
        self.position = 0  # file-level position of the last segment emitted
        self.interchanges = 0

    # -- reading -------------------------------------------------------------------------
    def _read(self, buf: str, pos: int) -> tuple[str, int]:
        data = self._stream.read(max(self._chunk_size, 64) if self._first else self._chunk_size)
        if self._first:
            self._first = False
            check_encoding(strip_leading(data[:64]))
        if not data:
            self._eof = True
            text = self._decoder.decode(b"", final=True)
        else:
            text = self._decoder.decode(data)
        if self._decoder.first_non_utf8 is not None and not self._warned_non_utf8:
            self._warned_non_utf8 = True
            self.diagnostics.append(warning(
                f"bytes that are not UTF-8 were read as latin-1 (first at character offset "
                f"{self._decoder.first_non_utf8})", level=Level.FILE, code="not_utf8"))
        if self._wrapped:
            text = text.replace("\r", "").replace("\n", "")
        keep = max(pos - 1, 0)  # keep the terminator before pos: boundaries are found after one
        return buf[keep:] + text, pos - keep

    # -- iteration -----------------------------------------------------------------------
    def __iter__(self) -> Iterator[SegmentBatch]:
        buf, pos = "", 0
        delims: Delimiters | None = None
        boundary: _Boundary | None = None
        strip = _SPACE
        while True:
            if delims is None:
                while not self._eof and len(buf) - pos < ISA_MAX_LENGTH:
                    buf, pos = self._read(buf, pos)
                pos = _skip_space(buf, pos)
                if pos >= len(buf):
                    if self._eof:
                        if self.interchanges == 0:
                            raise X12Error(error("no ISA segment: the input holds no X12 interchange",
                                                 level=Level.FILE, code="no_isa", ack_code="024"))
                        return
                    continue
                if not buf.startswith("ISA", pos):
                    buf, pos = self._skip_junk(buf, pos)
                    continue
                parsed = self._parse_isa(buf, pos)
                if parsed is None:
                    buf, pos = self._read(buf, pos)
                    continue
                if isinstance(parsed, str):  # hard-wrapped: line breaks removed, parse again
                    buf, pos = parsed, 0
                    continue
                delims = parsed.delimiters
                self.position += 1
                self.interchanges += 1
                self.diagnostics.extend(parsed.diagnostics)
                yield SegmentBatch(delims, self.position, [parsed.elements], is_isa=True)
                boundary = _Boundary(delims)
                strip = "".join(c for c in _SPACE if c not in delims.chars())
                pos = parsed.end
                continue
            assert boundary is not None
            term = delims.segment
            match = boundary.search(buf, max(pos - len(term), 0))
            ends_interchange = False
            if match is None:
                if self._eof:
                    end = len(buf)
                else:
                    last = buf.rfind(term, pos)
                    if last < 0:
                        buf, pos = self._read(buf, pos)
                        continue
                    end = last + len(term)
            elif match.tag == "ISA":
                end, ends_interchange = match.start + len(term), True
            else:
                trailer_end = buf.find(term, match.end)
                if trailer_end < 0 and not self._eof:
                    buf, pos = self._read(buf, pos)
                    continue
                end = trailer_end + len(term) if trailer_end >= 0 else len(buf)
                ends_interchange = True
            if end > pos:
                segments = self._split(buf[pos:end], delims, strip)
                if segments:
                    first = self.position + 1
                    self.position += len(segments)
                    yield SegmentBatch(delims, first, segments)
            pos = end
            if ends_interchange:
                delims = None
                self._wrapped = False
            elif pos >= len(buf):
                if self._eof:
                    return
                buf, pos = self._read(buf, pos)

    def _parse_isa(self, buf: str, pos: int) -> _IsaParse | str | None:
        try:
            return parse_isa(buf, pos, final=self._eof, position=self.position + 1)
        except _HardWrapped:
            if self._wrapped:
                raise X12Error(error("ISA segment holds line breaks that cannot be removed",
                                     level=Level.INTERCHANGE, segment_position=self.position + 1,
                                     segment_id="ISA", code="isa_wrapped", ack_code="024")) from None
            self._wrapped = True
            self.diagnostics.append(warning(
                "the file is hard-wrapped (line breaks inside the ISA and other segments); line "
                "breaks were removed before reading", level=Level.INTERCHANGE,
                segment_position=self.position + 1, segment_id="ISA", code="hard_wrapped"))
            return buf[pos:].replace("\r", "").replace("\n", "")

    def _skip_junk(self, buf: str, pos: int) -> tuple[str, int]:
        found = _ISA_START.search(buf, pos)
        if found is None and not self._eof:
            keep = max(len(buf) - 3, pos)
            snippet = buf[pos:pos + 20]
            self._report_junk(snippet)
            return self._read(buf, keep)
        end = found.start() if found else len(buf)
        self._report_junk(buf[pos:min(end, pos + 20)])
        return buf, end

    def _report_junk(self, snippet: str) -> None:
        where = "after the last IEA" if self.interchanges else "before the first ISA"
        self.diagnostics.append(error(
            f"data that is not an X12 segment {where} was skipped: {snippet!r}",
            level=Level.FILE, segment_position=self.position + 1, code="junk", ack_code="024"))
        if self.interchanges == 0 and self._eof:
            raise X12Error(self.diagnostics[-1], self.diagnostics[:-1])

    def _split(self, region: str, delims: Delimiters, strip: str) -> list[list[str]]:
        term, sep = delims.segment, delims.element
        pieces = _fast_pieces(region, term)
        if pieces is None:
            pieces = [p.strip(strip) for p in region.split(term)]
        if term not in "\r\n" and _inner_break(pieces):
            pieces = self._mend_line_breaks(pieces, sep)
        return [p.split(sep) for p in pieces if p]

    def _mend_line_breaks(self, pieces: list[str], sep: str) -> list[str]:
        """A line break inside a segment: either the terminator was left out before it (the
        next line starts like a segment) or the line was wrapped (join it back)."""
        starts = re.compile(_SEGMENT_START + re.escape(sep))
        mended: list[str] = []
        segments = 0  # non-empty pieces so far: counted as they come (a recount per piece was quadratic)
        for piece in pieces:
            if "\n" not in piece and "\r" not in piece:
                mended.append(piece)
                segments += bool(piece)
                continue
            lines = _split_lines(piece)
            position = self.position + segments + 1
            seg_id = lines[0].split(sep, 1)[0]
            if all(starts.match(line) for line in lines[1:]):
                self.diagnostics.append(warning(
                    f"segment terminator missing before a line break; read as {len(lines)} segments "
                    f"({', '.join(line.split(sep, 1)[0] for line in lines)})",
                    segment_position=position, segment_id=seg_id, code="missing_terminator"))
                mended.extend(lines)
                segments += sum(1 for line in lines if line)
            else:
                self.diagnostics.append(warning(
                    "line break inside the segment removed", segment_position=position,
                    segment_id=seg_id, code="line_break_in_segment"))
                joined = "".join(lines)
                mended.append(joined)
                segments += bool(joined)
        return mended


def _split_lines(piece: str) -> list[str]:
    """``piece`` split at its runs of line breaks, without the blanks around each break. (One
    regex with the blanks in it backtracked from every blank of a long run of them.)"""
    lines = _LINE_BREAKS.split(piece)
    last = len(lines) - 1
    return [line.strip(" \t") if 0 < n < last else line.rstrip(" \t") if n == 0 else line.lstrip(" \t")
            for n, line in enumerate(lines)]


def _skip_space(buf: str, pos: int) -> int:
    n = len(buf)
    while pos < n and buf[pos] in _SPACE:
        pos += 1
    return pos


@dataclass(frozen=True)
class _Found:
    start: int  # the terminator before the trailer / next header
    tag: str  # "IEA" or "ISA"
    end: int  # after the tag's element separator


class _Boundary:
    """Where an interchange ends: a terminator, optional blanks, then IEA (or a new ISA).

    One regex ``term[blanks]*(IEA|ISA)sep`` tried a match at every terminator and scanned the
    blanks after each: a run of n CRs (the terminator when ISA16 is followed by CR) cost n²/2.
    Here the C search looks for the tag and only the blanks right before a candidate are looked
    at, once."""

    def __init__(self, delims: Delimiters) -> None:
        self.term = delims.segment
        self.tags = re.compile(f"(IEA|ISA){re.escape(delims.element)}")
        self.blank_term = self.term in _SPACE

    def search(self, buf: str, start: int) -> _Found | None:
        at = start
        while (candidate := self.tags.search(buf, at)) is not None:
            begin = candidate.start()
            j = begin
            while j > start and buf[j - 1] in _SPACE:
                j -= 1
            if self.blank_term:
                first = buf.find(self.term, j, begin)
                if first >= 0:
                    return _Found(first, candidate.group(1), candidate.end())
            elif j > start and buf[j - 1] == self.term:
                return _Found(j - 1, candidate.group(1), candidate.end())
            at = begin + 1
        return None


def _fast_pieces(region: str, term: str) -> list[str] | None:
    """Split a region whose terminators are all followed by the same line break and which has
    no other blanks around segments (the common layout) without a strip per segment; None when
    the region needs the general path. Every test is one C-level scan of the region."""
    count = region.count(term)
    if not count:
        return None
    for suffix in ("\r\n", "\n", ""):
        if region.count(term + suffix) == count:
            break
    joint = term + suffix
    if region[:1] in _SPACE or any(joint + c in region for c in " \t\r\n\x0b\x0c\x00\x1a"):
        return None
    if any(c + term in region for c in " \t\r\n"):
        return None
    tail = region.rsplit(joint, 1)[-1] if region.endswith(joint) is False else ""
    if tail and (tail[-1:] in _SPACE):
        return None
    return region.split(joint)


def _inner_break(pieces: list[str]) -> bool:
    """Is there a line break inside a (stripped) segment, not just between segments?"""
    joined = "".join(pieces)
    return "\n" in joined or "\r" in joined
