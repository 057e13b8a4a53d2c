"""A fast EDIFACT tokenizer that builds pydifact ``Segment`` objects.

pydifact's own parser walks the text one character at a time through several Python
layers (about 23 k segments/s). This tokenizer splits with ``str.split`` in C and only does
Python work per segment: release-character escapes are first replaced by markers that
cannot collide with delimiters (one ``re.sub`` over the text, only when the release
character occurs at all), so splitting on delimiters is then safe.

Tolerated, each with one recovery warning per kind: a UTF-8 BOM (handled by the decoder),
line breaks and blanks between segments, line breaks inside a segment (hard-wrapped
files), line breaks used instead of the segment terminator, empty segments, a release
character before a non-delimiter, an unterminated final segment. A UNA anywhere at a
segment boundary switches the delimiters for the rest of the file.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from pydifact.control import Characters
from pydifact.segments import Segment

from edi.common.diagnostics import Overflow
from edi.common.numbers import shown
from edi.edifact.diagnostics import Diagnostic, Level, Recoveries, Severity, SyntaxCode

_LAYOUT = " \t\r\n"
_NEW_SEGMENT = Segment.__new__
_TAG = re.compile(r"[A-Z][A-Z0-9]{2}\Z")


@dataclass(frozen=True)
class Delimiters:
    """The service characters of UNA (ISO 9735): component, element, decimal mark, release,
    repetition (syntax 4; 'reserved' and usually a space before) and segment terminator."""

    component: str = ":"
    element: str = "+"
    decimal: str = "."
    release: str = "?"
    repetition: str = " "
    terminator: str = "'"

    @classmethod
    def from_una(cls, six: str) -> Delimiters:
        return cls(six[0], six[1], six[2], six[3], six[4], six[5])

    @property
    def una(self) -> str:
        return "UNA" + self.component + self.element + self.decimal + self.release + self.repetition + self.terminator

    @property
    def has_release(self) -> bool:
        return self.release not in ("", " ")

    def characters(self) -> Characters:
        """The same delimiters as pydifact's ``Characters``."""
        return Characters(
            component_separator=self.component,
            data_separator=self.element,
            decimal_point=self.decimal,
            escape_character=self.release if self.has_release else " ",
            reserved=self.repetition,
            segment_terminator=self.terminator,
        )

    @property
    def problem(self) -> str | None:
        """Why these service characters cannot work, or None."""
        chars = [self.component, self.element, self.terminator]
        if self.has_release:
            chars.append(self.release)
        if self.repetition != " ":
            chars.append(self.repetition)
        if len(set(chars)) != len(chars):
            return f"service characters repeat: {''.join(chars)!r}"
        if any(c.isalnum() for c in chars):
            return f"a letter or digit cannot be a service character: {''.join(chars)!r}"
        return None

    def escapable(self) -> str:
        chars = self.component + self.element + self.terminator
        if self.has_release:
            chars += self.release
        if self.repetition != " ":
            chars += self.repetition
        return chars


DEFAULT = Delimiters()
# ISO 9735 level B defaults (UNOB without UNA): information separators, no release character.
LEVEL_B = Delimiters(component="\x1f", element="\x1d", release="", terminator="\x1c")


@dataclass(frozen=True)
class Section:
    """A run of segments read with one set of delimiters (a UNA starts a new section)."""

    first_position: int
    delimiters: Delimiters
    has_una: bool


@dataclass
class Tokens:
    segments: list[Segment]
    sections: list[Section]
    diagnostics: list[Diagnostic] = field(default_factory=list)
    suspects: set[int] = field(default_factory=set)
    # True when acceptors pre-screened the segments (``suspects`` is then meaningful).
    checked: bool = False

    def section_at(self, position: int) -> Section:
        found = self.sections[0]
        for section in self.sections:
            if section.first_position > position:
                break
            found = section
        return found


def make_segment(tag: str, elements: list) -> Segment:
    """A pydifact ``Segment`` without its constructor's per-call checks (the tokenizer
    checks tags itself and reports them with their position)."""
    seg = _NEW_SEGMENT(Segment)
    seg.tag = tag
    seg.elements = elements
    return seg


def tokenize(text: str, acceptors: Callable[[Delimiters], dict[str, re.Pattern[str]]] | None = None) -> Tokens:
    """Split decoded EDIFACT text into pydifact segments (UNA included as a segment).

    ``acceptors(delimiters)`` may give, per tag, a regex that matches only syntactically
    valid raw segments; positions of segments it rejects are returned in ``suspects`` so the
    full (slower) check can skip the rest."""
    state = _State(acceptors)
    for start, end, delimiters, has_una in _sections(text):
        state.sections.append(Section(len(state.segments) + 1, delimiters, has_una))
        if has_una:
            if delimiters.problem:
                state.errors.append(Diagnostic(Severity.ERROR, f"UNA {delimiters.problem}", Level.INTERCHANGE,
                                               segment_position=len(state.segments) + 1, segment_id="UNA",
                                               code="bad_una", ack_code=SyntaxCode.INVALID_SERVICE_CHARACTER))
            state.segments.append(make_segment("UNA", [delimiters.una[3:]]))
        _tokenize_section(text[start:end], delimiters, state)
    state.end_bad_run()
    return Tokens(
        state.segments, state.sections, state.recoveries.diagnostics() + state.errors, state.suspects,
        checked=acceptors is not None,
    )


@dataclass
class _State:
    acceptors: Callable[[Delimiters], dict[str, re.Pattern[str]]] | None = None
    segments: list[Segment] = field(default_factory=list)
    # Positions of segments a fast acceptor did not pass (or with escapes): the full syntax
    # check looks at these only.
    suspects: set[int] = field(default_factory=set)
    sections: list[Section] = field(default_factory=list)
    recoveries: Recoveries = field(default_factory=Recoveries)
    errors: list[Diagnostic] = field(default_factory=list)
    good_tags: set[str] = field(default_factory=set)
    # Invalid tags in a row (junk): the first MAX_LISTED are listed, the rest counted.
    bad_run: Overflow = field(default_factory=Overflow)
    bad_run_end: int = -1  # position of the last invalid tag of the run

    def recover(self, code: str, reason: str, tag: str | None = None, offset: int = 1) -> None:
        """Note a recovery at the segment being built (offset 1) or the last one built (0)."""
        if self.recoveries.again(code):
            return
        position = len(self.segments) + offset
        self.recoveries.note(
            Diagnostic(Severity.WARNING, reason, Level.FILE, segment_position=position, segment_id=tag, code=code)
        )

    def bad_tag(self, tag: str) -> None:
        position = len(self.segments) + 1
        if position == self.bad_run_end + 1 and self.bad_run.first is not None:
            self.bad_run.count += 1  # past the listed ones: counted only (this runs per junk segment)
            self.bad_run_end = position
            return
        if position != self.bad_run_end + 1:
            self.end_bad_run()
        self.bad_run_end = position
        if not self.bad_run.admit(level=Level.SEGMENT, segment_position=position, segment_id=tag[:12],
                                  code="bad_tag", ack_code=SyntaxCode.INVALID_VALUE):
            return
        self.errors.append(
            Diagnostic(
                Severity.ERROR,
                f"invalid segment tag {shown(tag, 12)}: a tag is 3 upper-case letters or digits",
                Level.SEGMENT,
                segment_position=position,
                segment_id=tag[:12],
                code="bad_tag",
                ack_code=SyntaxCode.INVALID_VALUE,
                bad_value=tag[:35],
            )
        )

    def end_bad_run(self) -> None:
        """One summary for the invalid tags of the run past the first ``MAX_LISTED``."""
        more = self.bad_run.summary("segments in a row with an invalid tag", code="bad_tags_not_listed")
        if more is not None:
            self.errors.append(more)
        self.bad_run = Overflow()


def _sections(text: str) -> list[tuple[int, int, Delimiters, bool]]:
    """(start, end, delimiters, has_una) for each run of text; UNAs at segment boundaries."""
    bounds: list[tuple[int, Delimiters, bool]] = []
    head = len(text) - len(text.lstrip(_LAYOUT))
    if text.startswith("UNA", head) and len(text) >= head + 9:
        bounds.append((head + 9, Delimiters.from_una(text[head + 3 : head + 9]), True))
    elif text.startswith("UNA", head):
        # A UNA cut short (fewer than its six service characters) is all the input holds: no
        # UNB follows, and the reader refuses the file as not EDIFACT.
        bounds.append((len(text), DEFAULT, True))
    else:
        bounds.append((head, _defaults_for(text, head), False))
    search_from = bounds[0][0]
    while True:
        i = text.find("UNA", search_from)
        if i < 0 or len(text) < i + 9:
            break
        if _at_segment_start(text, i, bounds[-1][1]):
            bounds.append((i + 9, Delimiters.from_una(text[i + 3 : i + 9]), True))
            search_from = i + 9
        else:
            search_from = i + 3
    out = []
    for n, (start, delimiters, has_una) in enumerate(bounds):
        end = bounds[n + 1][0] - 9 if n + 1 < len(bounds) else len(text)
        out.append((start, end, delimiters, has_una))
    return out


def _defaults_for(text: str, head: int) -> Delimiters:
    """No UNA: ISO 9735 defaults; level B files may use the information separators."""
    if text.startswith("UNB\x1d", head):
        return LEVEL_B
    if text.startswith("UNB+UNO", head) and text[head + 8 : head + 10] == ":4":
        return Delimiters(repetition="*")
    return DEFAULT


def _at_segment_start(text: str, i: int, current: Delimiters) -> bool:
    j = i
    while j > 0 and text[j - 1] in _LAYOUT:
        j -= 1
    if j == 0:
        return True
    if text[j - 1] != current.terminator:
        return False
    # An escaped terminator (?') is data, unless the release character is itself escaped.
    return not (current.has_release and text[j - 2 : j - 1] == current.release and text[j - 3 : j - 2] != current.release)


@lru_cache(maxsize=32)
def _marker_codes(d: Delimiters) -> dict[str, str]:
    codes = {d.release: "0", d.component: "1", d.element: "2", d.terminator: "3"}
    if d.repetition != " ":
        codes[d.repetition] = "4"
    return codes


def _choose_marker(body: str) -> str:
    for candidate in ("\x00", "\x01", "\x02", "\ue000", "\ue001", "\ue002"):
        if candidate not in body:
            return candidate
    # Practically unreachable: a text holding all of these control and private-use characters.
    for code in range(0xE003, 0xF8FF):
        if chr(code) not in body:
            return chr(code)
    raise ValueError("no free marker character for release escapes")


def _protect(body: str, d: Delimiters, marker: str) -> str:
    """Replace each release escape by marker + code; a release before a non-delimiter
    becomes marker + '5' + the character (reported and unescaped later)."""
    codes = _marker_codes(d)

    def sub(match: re.Match[str]) -> str:
        ch = match.group(1)
        code = codes.get(ch)
        return marker + code if code is not None else marker + "5" + ch

    return re.sub(re.escape(d.release) + "(.)", sub, body, flags=re.DOTALL)


def _restorer(d: Delimiters, marker: str):
    pairs = [(marker + "0", d.release), (marker + "1", d.component), (marker + "2", d.element), (marker + "3", d.terminator)]
    if d.repetition != " ":
        pairs.append((marker + "4", d.repetition))
    pairs.append((marker + "5", ""))

    def restore(value: str) -> str:
        if marker not in value:
            return value
        for old, new in pairs:
            value = value.replace(old, new)
        return value

    return restore


def _tokenize_section(body: str, d: Delimiters, state: _State) -> None:
    marker = None
    if d.has_release and d.release in body:
        marker = _choose_marker(body)
        body = _protect(body, d, marker)
    term = d.terminator
    if "\n" in body and term not in "\r\n":
        # A line break right after a terminator is layout: drop it in C, not per segment.
        body = body.replace(term + "\r\n", term).replace(term + "\n", term)
    pieces = body.split(term)
    tail = pieces.pop()
    unterminated = bool(tail.strip(_LAYOUT))
    if unterminated:
        pieces.append(tail)
    restore = _restorer(d, marker) if marker else None
    escaped = re.compile(re.escape(marker) + ".", re.DOTALL) if marker else None
    wrap_split = _wrap_splitter(d.element)
    comp, elem = d.component, d.element
    acceptors = state.acceptors(d) if state.acceptors is not None else {}
    segments, suspects, good_tags = state.segments, state.suspects, state.good_tags
    accepted: set[str] = set()
    append, new, segment_class = segments.append, _NEW_SEGMENT, Segment
    # No layout anywhere (the common case, checked with a few C scans of the whole text): no
    # piece needs the per-piece test for blanks, line breaks or emptiness.
    clean = _without_layout(body, term)
    for raw in pieces:
        if clean or not (not raw or raw[0] in _LAYOUT or "\n" in raw or "\r" in raw):
            parts = (raw,)
        else:
            parts = _clean(raw, wrap_split, state)
        for part in parts:
            values = part.split(elem)
            tag = values[0]
            if marker is not None and marker in part:
                _note_bad_escapes(part, marker, d, state)
                tag = restore(tag)
                elements = [[restore(c) for c in v.split(comp)] if comp in v else restore(v) for v in values[1:]]
                acceptor = acceptors.get(tag)
                # Each escape (two marker characters) counts as one data character for the check.
                if acceptor is not None and acceptor.match(escaped.sub("x", part)) is None:
                    suspects.add(len(segments) + 1)
            else:
                # A segment without composites (CPS, PCI, GIN …) needs no look at each element.
                elements = [v.split(comp) if comp in v else v for v in values[1:]] if comp in part else values[1:]
                # Identical segments (PAC+1++201::9, DTM+36:...) are frequent: accept them once.
                if part not in accepted:
                    acceptor = acceptors.get(tag)
                    if acceptor is None or acceptor.match(part) is not None:
                        accepted.add(part)
                    else:
                        suspects.add(len(segments) + 1)
            if tag not in good_tags:
                if _TAG.match(tag):
                    good_tags.add(tag)
                else:
                    state.bad_tag(tag)
            seg = new(segment_class)
            seg.tag = tag
            seg.elements = elements
            append(seg)
    if unterminated:
        state.recover("unterminated_segment", "final segment has no segment terminator", tag=segments[-1].tag, offset=0)


def _without_layout(body: str, term: str) -> bool:
    """No piece of ``body`` split at ``term`` is empty, starts with a blank or holds a line
    break (the final piece, after the last terminator, is looked at on its own)."""
    if "\n" in body or "\r" in body or body[:1] in _LAYOUT or body.startswith(term):
        return False
    return term + term not in body and term + " " not in body and term + "\t" not in body


def _clean(raw: str, wrap_split: re.Pattern[str], state: _State) -> list[str]:
    """The slow path for a piece with layout: leading blanks, line breaks inside it."""
    stripped = raw.lstrip(_LAYOUT)
    leading = raw[: len(raw) - len(stripped)]
    if " " in leading or "\t" in leading:
        state.recover("blanks_between_segments", "blanks or tabs between segments ignored", tag=stripped[:3])
    if not stripped:
        state.recover("empty_segment", "empty segment (two segment terminators in a row) ignored")
        return []
    if "\n" in stripped or "\r" in stripped:
        return _unwrap(stripped, wrap_split, state)
    return [stripped]


def _note_bad_escapes(part: str, marker: str, d: Delimiters, state: _State) -> None:
    i = part.find(marker + "5")
    if i >= 0:
        ch = part[i + 2 : i + 3]
        state.recover(
            "release_before_non_delimiter",
            f"release character {d.release!r} before {ch!r}, which is not a delimiter: kept {ch!r}",
            tag=part[:3],
        )


@lru_cache(maxsize=32)
def _wrap_splitter(element: str) -> re.Pattern[str]:
    # A line break followed by something that looks like a segment tag (and then the element
    # separator or the end) is a missing terminator; any other line break is a hard wrap.
    # Only at the start of a run of line breaks, and without backtracking into it: a run of n
    # line breaks not followed by a tag was tried from each of its n positions, n steps each.
    return re.compile(r"(?<![\r\n])[\r\n]++[ \t]*+(?=[A-Z][A-Z0-9]{2}(?:" + re.escape(element) + r"|[\r\n]*+\Z))")


def _unwrap(raw: str, splitter: re.Pattern[str], state: _State) -> list[str]:
    parts = splitter.split(raw)
    if len(parts) > 1:
        state.recover(
            "line_break_as_terminator",
            "segment terminator missing: a line break before the next segment tag was taken as terminator",
            tag=parts[0][:3],
        )
    out = []
    for part in parts:
        part = part.rstrip("\r\n")
        if "\n" in part or "\r" in part:
            part = part.replace("\r", "").replace("\n", "")
            state.recover("line_break_in_segment", "line break inside a segment removed (hard-wrapped file?)", tag=part[:3])
        if part:
            out.append(part)
    return out
