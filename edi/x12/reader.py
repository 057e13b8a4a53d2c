"""X12 reader: the envelope structure (interchange → functional group → transaction set) over
the tokenizer's segment stream, with envelope validation as it goes.

``X12Reader(source)`` yields, in file order, each ``TransactionSet`` as soon as its SE is read
(or it is cut off), and an ``InterchangeEnd`` after each interchange, when its trailer
diagnostics and group summaries are complete. Only the open transaction set's segments are
held, so memory is bounded by the largest transaction set, not by the file.

``read_x12(source)`` is the non-streaming form: a ``ParsedX12`` with every interchange and its
transaction sets, for messages small enough to hold (route steps, tests).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import compress, islice
from operator import itemgetter, not_
from typing import Any, BinaryIO

from edi.common.diagnostics import Diagnostic, Level, Overflow, error
from edi.x12 import envelope
from edi.x12.tokenizer import CHUNK_SIZE, Delimiters, Tokenizer

# Segments that open or close an envelope level; everything else is body.
_CONTROL = frozenset({"ISA", "IEA", "GS", "GE", "ST", "SE"})
# Interchange-level service segments allowed between groups.
_SERVICE = frozenset({"TA1", "ISB", "ISE"})
_first = itemgetter(0)  # a segment's id


def _element(segment: list[str], n: int) -> str:
    return segment[n].strip() if len(segment) > n else ""


@dataclass
class FirstError:
    """The first error of a diagnostics list that only grows, found by looking at each
    diagnostic once: every set asks whether its group and interchange have errors, and a
    file of thousands of sets in an interchange with thousands of diagnostics made that
    quadratic."""

    checked: int = 0
    found: Diagnostic | None = None

    def of(self, diagnostics: list[Diagnostic]) -> Diagnostic | None:
        if self.found is None and self.checked < len(diagnostics):
            self.found = next((d for d in islice(diagnostics, self.checked, None) if d.is_error), None)
            self.checked = len(diagnostics)
        return self.found


@dataclass
class Interchange:
    """An ISA/IEA envelope. ``groups`` holds group headers and set summaries, not segments."""

    index: int
    position: int
    isa: list[str]
    delimiters: Delimiters
    diagnostics: list[Diagnostic] = field(default_factory=list)
    groups: list[FunctionalGroup] = field(default_factory=list)
    # TA1 (and ISB/ISE) segments outside groups, with their file positions.
    service_segments: list[tuple[int, list[str]]] = field(default_factory=list)
    iea: list[str] | None = None
    iea_position: int | None = None
    # The sender's partner registry entry, once the ack step has identified it.
    partner: Any = None
    _first_error: FirstError = field(default_factory=FirstError, repr=False, compare=False)

    sender_qualifier = property(lambda self: _element(self.isa, 5))
    sender_id = property(lambda self: _element(self.isa, 6))
    receiver_qualifier = property(lambda self: _element(self.isa, 7))
    receiver_id = property(lambda self: _element(self.isa, 8))
    date = property(lambda self: _element(self.isa, 9))
    time = property(lambda self: _element(self.isa, 10))
    version = property(lambda self: _element(self.isa, 12))
    control_number = property(lambda self: _element(self.isa, 13))
    ack_requested = property(lambda self: _element(self.isa, 14) == "1")
    usage = property(lambda self: _element(self.isa, 15))

    @property
    def is_test(self) -> bool:
        return self.usage != "P"

    def first_error(self) -> Diagnostic | None:
        return self._first_error.of(self.diagnostics)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    def all_diagnostics(self) -> list[Diagnostic]:
        """Interchange, group and set diagnostics, in file order."""
        found = list(self.diagnostics)
        for group in self.groups:
            found += group.diagnostics
            for summary in group.sets:
                found += summary.diagnostics
        return sorted(found, key=lambda d: d.segment_position or 0)

    def envelope_info(self) -> dict[str, object]:
        return {"sender_qualifier": self.sender_qualifier, "sender_id": self.sender_id,
                "receiver_qualifier": self.receiver_qualifier, "receiver_id": self.receiver_id,
                "interchange_control_number": self.control_number, "interchange_version": self.version,
                "interchange_date": self.date, "interchange_time": self.time, "test": self.is_test}


@dataclass
class SetSummary:
    """What acks need of a transaction set once its segments are gone."""

    set_id: str
    control_number: str
    implementation_reference: str
    position: int
    diagnostics: list[Diagnostic]
    segment_count: int = 0
    # Business problems of a well-formed set found by its mapping (no usable item, a currency
    # the canonical model refuses …): never in the 997/999, recorded by the route instead.
    business: list[Diagnostic] = field(default_factory=list)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]


@dataclass
class FunctionalGroup:
    interchange: Interchange
    position: int
    gs: list[str]
    diagnostics: list[Diagnostic] = field(default_factory=list)
    sets: list[SetSummary] = field(default_factory=list)
    ge: list[str] | None = None
    ge_position: int | None = None
    _first_error: FirstError = field(default_factory=FirstError, repr=False, compare=False)

    functional_id = property(lambda self: _element(self.gs, 1))
    sender_id = property(lambda self: _element(self.gs, 2))
    receiver_id = property(lambda self: _element(self.gs, 3))
    date = property(lambda self: _element(self.gs, 4))
    time = property(lambda self: _element(self.gs, 5))
    control_number = property(lambda self: _element(self.gs, 6))
    agency = property(lambda self: _element(self.gs, 7))
    version = property(lambda self: _element(self.gs, 8))

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]


@dataclass
class TransactionSet:
    """One ST..SE with its segments (lists of element strings; ``segments[0]`` is the ST).
    ``diagnostics`` is shared with the group's ``SetSummary``: mapping errors added later
    still reach the acknowledgement."""

    interchange: Interchange
    group: FunctionalGroup | None
    position: int
    segments: list[list[str]]
    summary: SetSummary
    # Documents an earlier route step mapped (ack: auto maps every set for the 997), handed
    # to the next ``map_set`` call instead of mapping and validating the set again.
    premapped: list[Any] | None = None

    set_id = property(lambda self: self.summary.set_id)
    control_number = property(lambda self: self.summary.control_number)
    diagnostics = property(lambda self: self.summary.diagnostics)
    business = property(lambda self: self.summary.business)

    @property
    def delimiters(self) -> Delimiters:
        return self.interchange.delimiters

    def first_error(self) -> Diagnostic | None:
        """The first error of this set, else of its group, else of its interchange, found so
        far (what rejects the set), without listing them all."""
        own = next((d for d in self.summary.diagnostics if d.is_error), None)
        if own is None and self.group is not None:
            own = self.group._first_error.of(self.group.diagnostics)
        return own or self.interchange.first_error()

    @property
    def errors(self) -> list[Diagnostic]:
        """Errors of this set, plus errors of its group and interchange found so far."""
        found = [d for d in self.summary.diagnostics if d.is_error]
        if self.group is not None:
            found += self.group.errors
        return found + self.interchange.errors

    def segment_position(self, index: int) -> int:
        """File-level position of ``segments[index]``."""
        return self.position + index

    def envelope_info(self) -> dict[str, object]:
        info = self.interchange.envelope_info()
        if self.group is not None:
            info.update(functional_id=self.group.functional_id, group_sender_id=self.group.sender_id,
                        group_receiver_id=self.group.receiver_id,
                        group_control_number=self.group.control_number, group_version=self.group.version)
        info.update(transaction_set_id=self.set_id, transaction_control_number=self.control_number)
        return info


@dataclass
class InterchangeEnd:
    """Emitted after an interchange's trailer (or where it was cut off)."""

    interchange: Interchange


class X12Reader:
    """Stream ``TransactionSet`` and ``InterchangeEnd`` items from a binary file or bytes."""

    def __init__(self, source: BinaryIO | bytes, *, chunk_size: int = CHUNK_SIZE) -> None:
        self.tokenizer = Tokenizer(source, chunk_size=chunk_size)
        self.interchanges = 0
        # Diagnostics not tied to an interchange (tokenizer-level), in order.
        self.file_diagnostics: list[Diagnostic] = []

    def __iter__(self) -> Iterator[TransactionSet | InterchangeEnd]:
        state = _State(self.file_diagnostics)
        tokenizer = self.tokenizer
        for batch in tokenizer:
            if batch.is_isa:
                yield from state.close_interchange(batch.first_position, "a new ISA")
                self.interchanges += 1
                state.open_interchange(Interchange(self.interchanges, batch.first_position,
                                                   batch.segments[0], batch.delimiters))
            if tokenizer.diagnostics:
                state.take(tokenizer.diagnostics)
                tokenizer.diagnostics = []
            if not batch.is_isa:
                yield from state.feed(batch.segments, batch.first_position)
        state.take(tokenizer.diagnostics)
        yield from state.close_interchange(tokenizer.position + 1, "the end of the file")


class _State:
    """The open interchange, group and set while reading."""

    def __init__(self, file_diagnostics: list[Diagnostic]) -> None:
        self.file_diagnostics = file_diagnostics
        # Segment-level tokenizer diagnostics, given to the set they fall in when it closes:
        # ``pending[pending_start:]`` in position order; the ones that fell in no set go to the
        # interchange at its end (``outside_sets``).
        self.pending: list[Diagnostic] = []
        self.pending_start = 0
        self.pending_sorted = True
        self.outside_sets: list[Diagnostic] = []
        self.interchange: Interchange | None = None
        self.group: FunctionalGroup | None = None
        self.current: TransactionSet | None = None
        self.group_controls: set[str] = set()
        self.set_controls: set[str] = set()
        # Segment ids seen and found well-formed (2-3 letters/digits), envelope ids excluded.
        self.body_tags: set[str] = set()
        # Invalid segment ids in the open set, segments outside sets in the open group and
        # between groups: listed up to MAX_LISTED each, then counted (a file of junk).
        self.bad_ids = Overflow()
        self.outside_group = Overflow()
        self.outside_interchange = Overflow()

    def take(self, diagnostics: list[Diagnostic]) -> None:
        for diag in diagnostics:
            if diag.level is Level.SEGMENT:
                self.pending.append(diag)
                self.pending_sorted = False
            elif self.interchange is not None:
                self.interchange.diagnostics.append(diag)
            else:
                self.file_diagnostics.append(diag)

    def open_interchange(self, interchange: Interchange) -> None:
        self.interchange = interchange
        self.group_controls = set()
        self.outside_interchange = Overflow()
        interchange.diagnostics.extend(envelope.check_isa(interchange.isa, interchange.position))

    def feed(self, segments: list[list[str]], first_position: int) -> Iterator[TransactionSet]:
        # Hot path: runs of body segments whose ids were seen (and checked) before are copied
        # into the open set as slices; only the other segments are looked at one by one.
        known = self.body_tags
        # The segment ids, their distinct values and where the unknown ones stand are found
        # by C-level iteration (map, set, compress): a comprehension over every segment of
        # the batch (most files: one batch) cost more than the envelope checks themselves.
        tags = list(map(_first, segments))
        fresh = set(tags) - known
        if fresh:
            # Ids first met in this batch are checked once here, not at each of their segments.
            known.update(tag for tag in fresh - _CONTROL if len(tag) <= 3 and tag.isalnum())
            marks = list(compress(range(len(tags)), map(not_, map(known.__contains__, tags))))
        else:
            marks = []
        start = 0
        for i in marks:
            if i > start:
                self._body(segments, start, i, first_position)
            seg = segments[i]
            tag = seg[0]
            if tag in _CONTROL:
                done = self._control(seg, tag, first_position + i)
                if done is not None:
                    yield done
            else:
                if len(tag) <= 3 and tag.isalnum():
                    known.add(tag)
                elif self.current is not None:
                    self._bad_segment_id(seg, first_position + i, len(self.current.segments) + 1)
                self._body(segments, i, i + 1, first_position)
            start = i + 1
        if start < len(segments):
            self._body(segments, start, len(segments), first_position)

    def _body(self, segments: list[list[str]], start: int, end: int, first_position: int) -> None:
        current = self.current
        if current is None:
            for i in range(start, end):
                self._outside_set(segments[i], segments[i][0], first_position + i)
        else:
            current.segments.extend(segments[start:end])

    def _bad_segment_id(self, seg: list[str], position: int, set_position: int) -> None:
        assert self.current is not None
        if not self.bad_ids.admit(segment_position=position, segment_id=seg[0][:20], set_position=set_position,
                                  code="bad_segment_id", ack_code="1"):
            return
        self.current.summary.diagnostics.append(error(
            f"{seg[0][:20]!r} is not a segment id", segment_position=position, segment_id=seg[0][:20],
            set_position=set_position, code="bad_segment_id", ack_code="1"))

    def _control(self, seg: list[str], tag: str, position: int) -> TransactionSet | None:
        if tag == "ST":
            finished = self._cut_set(position, "ST")
            self._open_set(seg, position)
            return finished
        if tag == "SE":
            return self._close_set(seg, position)
        if tag == "GS":
            finished = self._cut_set(position, "GS")
            self._close_group(None, position, "GS")
            self._open_group(seg, position)
            return finished
        if tag == "GE":
            finished = self._cut_set(position, "GE")
            self._close_group(seg, position, "GE")
            return finished
        if tag == "IEA":
            finished = self._cut_set(position, "IEA")
            self._close_group(None, position, "IEA")
            self._close_iea(seg, position)
            return finished
        self._outside_set(seg, tag, position)
        return None

    def _open_set(self, st: list[str], position: int) -> None:
        assert self.interchange is not None
        diags = envelope.check_st(st, position, self.set_controls)
        if self.group is None:
            diags.append(error("ST outside a functional group (no GS before it)", level=Level.TRANSACTION,
                               segment_position=position, segment_id="ST", code="st_outside_group",
                               ack_code="024"))
        summary = SetSummary(_element(st, 1), _element(st, 2), _element(st, 3), position, diags)
        self.set_controls.add(summary.control_number)
        self.bad_ids = Overflow()
        self.current = TransactionSet(self.interchange, self.group, position, [st], summary)

    def _close_set(self, se: list[str], position: int) -> TransactionSet | None:
        current = self.current
        if current is None:
            self._outside_set(se, "SE", position)
            return None
        current.segments.append(se)
        current.summary.segment_count = len(current.segments)
        current.summary.diagnostics.extend(
            envelope.check_se(se, position, current.control_number, len(current.segments)))
        self._finish_set(current)
        return current

    def _cut_set(self, position: int, by: str) -> TransactionSet | None:
        current = self.current
        if current is None:
            return None
        current.summary.segment_count = len(current.segments)
        current.summary.diagnostics.append(error(
            f"transaction set {current.set_id} {current.control_number} has no SE: {by} follows",
            level=Level.TRANSACTION, segment_position=position, segment_id=by, code="se_missing",
            ack_code="2", set_position=len(current.segments) + 1))
        self._finish_set(current)
        return current

    def _finish_set(self, current: TransactionSet) -> None:
        more = self.bad_ids.summary("segments with an invalid segment id")
        if more is not None:
            current.summary.diagnostics.append(more)
        self.bad_ids = Overflow()
        if len(self.pending) > self.pending_start:
            self._take_pending(current)
        if current.group is not None:
            current.group.sets.append(current.summary)
        self.current = None

    def _take_pending(self, current: TransactionSet) -> None:
        """Give the set the pending diagnostics inside it. They are kept in position order and
        read from ``pending_start`` on, so each is looked at once: partitioning the whole list
        at every set was quadratic (a chunk of junk has a diagnostic per segment, and as many
        sets)."""
        pending = self.pending
        if not self.pending_sorted:
            pending.sort(key=lambda d: d.segment_position or 0)  # stable, and nearly sorted already
            self.pending_sorted = True
        end = current.position + len(current.segments)
        i = self.pending_start
        while i < len(pending) and (pending[i].segment_position or 0) < current.position:
            i += 1
        self.outside_sets.extend(pending[self.pending_start:i])
        j = i
        while j < len(pending) and (pending[j].segment_position or 0) < end:
            j += 1
        current.summary.diagnostics.extend(pending[i:j])
        self.pending_start = j
        if j > 1000 and j * 2 > len(pending):  # drop what was handed out, now and then
            del pending[:j]
            self.pending_start = 0

    def _open_group(self, gs: list[str], position: int) -> None:
        assert self.interchange is not None
        group = FunctionalGroup(self.interchange, position, gs)
        group.diagnostics.extend(envelope.check_gs(gs, position, self.group_controls))
        self.group_controls.add(group.control_number)
        self.interchange.groups.append(group)
        self.group = group
        self.set_controls = set()
        self.outside_group = Overflow()

    def _close_group(self, ge: list[str] | None, position: int, by: str) -> None:
        group = self.group
        if group is None:
            if ge is not None:
                self._outside_set(ge, "GE", position)
            return
        more = self.outside_group.summary("segments outside a transaction set", level=Level.GROUP)
        if more is not None:
            group.diagnostics.append(more)
        if ge is None:
            group.diagnostics.append(error(
                f"functional group {group.control_number} has no GE: {by} follows", level=Level.GROUP,
                segment_position=position, segment_id=by, code="ge_missing", ack_code="3"))
        else:
            group.ge, group.ge_position = ge, position
            group.diagnostics.extend(envelope.check_ge(ge, position, group.control_number, len(group.sets)))
        self.group = None

    def _close_iea(self, iea: list[str], position: int) -> None:
        interchange = self.interchange
        if interchange is None:
            return
        interchange.iea, interchange.iea_position = iea, position
        interchange.diagnostics.extend(envelope.check_iea(
            iea, position, interchange.control_number, len(interchange.groups)))

    def _outside_set(self, seg: list[str], tag: str, position: int) -> None:
        interchange = self.interchange
        assert interchange is not None
        if tag in _SERVICE and self.group is None:
            interchange.service_segments.append((position, seg))
            return
        if self.group is not None:
            if self.outside_group.admit(segment_position=position, segment_id=tag[:20], code="segment_outside_set"):
                self.group.diagnostics.append(error(
                    f"segment {tag[:20]} outside a transaction set", level=Level.GROUP,
                    segment_position=position, segment_id=tag[:20], code="segment_outside_set"))
        elif self.outside_interchange.admit(segment_position=position, segment_id=tag[:20],
                                            code="segment_outside_set", ack_code="024"):
            interchange.diagnostics.append(error(
                f"segment {tag[:20]} between functional groups", level=Level.INTERCHANGE,
                segment_position=position, segment_id=tag[:20], code="segment_outside_set",
                ack_code="024"))

    def close_interchange(self, position: int, by: str) -> Iterator[TransactionSet | InterchangeEnd]:
        interchange = self.interchange
        if interchange is None:
            return
        finished = self._cut_set(position, "IEA" if interchange.iea else by)
        if finished is not None:
            yield finished
        self._close_group(None, position, by)
        more = self.outside_interchange.summary("segments between functional groups", level=Level.INTERCHANGE)
        if more is not None:
            interchange.diagnostics.append(more)
        interchange.diagnostics.extend(self.outside_sets + self.pending[self.pending_start:])
        self.pending, self.pending_start, self.outside_sets = [], 0, []
        if interchange.iea is None:
            interchange.diagnostics.append(error(
                f"interchange {interchange.control_number} has no IEA: {by} follows", level=Level.INTERCHANGE,
                segment_position=position, segment_id="IEA", code="iea_missing", ack_code="023"))
        self.interchange = None
        yield InterchangeEnd(interchange)


@dataclass
class ParsedInterchange:
    interchange: Interchange
    transactions: list[TransactionSet]


@dataclass
class ParsedX12:
    """A whole file read into memory: interchanges with their transaction sets."""

    interchanges: list[ParsedInterchange]
    file_diagnostics: list[Diagnostic]

    def transactions(self) -> Iterator[TransactionSet]:
        for parsed in self.interchanges:
            yield from parsed.transactions

    def diagnostics(self) -> list[Diagnostic]:
        found = list(self.file_diagnostics)
        for parsed in self.interchanges:
            found += parsed.interchange.all_diagnostics()
        return found

    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics() if d.is_error]


def read_x12(source: BinaryIO | bytes) -> ParsedX12:
    reader = X12Reader(source)
    parsed: list[ParsedInterchange] = []
    pending: list[TransactionSet] = []
    for item in reader:
        if isinstance(item, TransactionSet):
            pending.append(item)
        else:
            parsed.append(ParsedInterchange(item.interchange, pending))
            pending = []
    return ParsedX12(parsed, reader.file_diagnostics)
