"""Every envelope in an EDI body, read by the hub's own EDI engines.

Why the engines and not a quick scan of the bytes: the check that a body belongs to the
partner who sent it must see exactly the interchanges the route will later act on. A
separate, lighter reading is a second parser, and any case the two read differently (a
multi-byte element separator, a blank ISA01, an ISA broken by a line break, a UNA in the
middle of a file) lets an interchange past the check that the engine then acknowledges and
delivers. So the body is read here with ``edi.x12.reader.read_x12`` / ``edi.edifact.reader.read``,
the very functions the ``parse: x12`` / ``parse: edifact`` route steps call, and the check
sees every interchange, every functional group and every transaction set / message they see.

Bytes the engines skip (data before the first interchange, between or after interchanges,
segments outside any UNB..UNZ) are reported as ``EnvelopeError``: a body the check cannot
fully account for is not accepted from a partner.
"""

from __future__ import annotations

from dataclasses import dataclass

from edi.common.diagnostics import EdiError, Level

EDI_FORMATS = ("x12", "edifact")


@dataclass(frozen=True)
class GroupSender:
    """A functional group's sender: GS02 (X12) or UNG S006 (EDIFACT)."""

    identifier: str
    qualifier: str
    position: int  # segment position in the file (1-based, as the engines count)
    segment: str  # GS or UNG

    def __str__(self) -> str:
        return f"{self.qualifier}:{self.identifier}" if self.qualifier else self.identifier


@dataclass(frozen=True)
class Envelope:
    """One interchange as the engine read it: its sender and receiver, its groups' senders and
    the document types (ST01 / UNH message type) of its transaction sets or messages."""

    standard: str  # X12 or EDIFACT
    qualifier: str
    identifier: str
    receiver_qualifier: str
    receiver: str
    position: int  # segment position of the ISA / UNB
    control_number: str
    groups: tuple[GroupSender, ...] = ()
    documents: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.qualifier}:{self.identifier}" if self.qualifier else self.identifier

    @property
    def where(self) -> str:
        return f"segment {self.position} ({'ISA' if self.standard == 'X12' else 'UNB'})"


class EnvelopeError(ValueError):
    """The body is not EDI the engines can read whole; names the place."""


def x12_envelopes(raw: bytes) -> list[Envelope]:
    from edi.x12.reader import read_x12

    try:
        parsed = read_x12(raw)
    except EdiError as exc:
        raise EnvelopeError(str(exc)) from None
    # Junk after an IEA is reported on the interchange it follows, at file level.
    _account_for([*parsed.file_diagnostics, *(d for p in parsed.interchanges for d in p.interchange.diagnostics)])
    found = []
    for entry in parsed.interchanges:
        ic = entry.interchange
        groups = tuple(GroupSender(g.sender_id, "", g.position, "GS") for g in ic.groups)
        found.append(Envelope("X12", ic.sender_qualifier, ic.sender_id, ic.receiver_qualifier, ic.receiver_id,
                              ic.position, ic.control_number, groups,
                              tuple(ts.set_id for ts in entry.transactions)))
    return found


def edifact_envelopes(raw: bytes) -> list[Envelope]:
    from edi.edifact.model import element
    from edi.edifact.reader import read

    try:
        parsed = read(raw)
    except EdiError as exc:
        raise EnvelopeError(str(exc)) from None
    _account_for(parsed.diagnostics)
    found = []
    for ic in parsed.interchanges:
        groups = tuple(GroupSender(element(g.header, 1, 0), element(g.header, 1, 1), g.position, "UNG")
                       for g in ic.groups)
        found.append(Envelope("EDIFACT", ic.sender_qualifier, ic.sender_id, ic.recipient_qualifier,
                              ic.recipient_id, ic.position, ic.reference, groups,
                              tuple(m.type for m in ic.messages)))
    return found


def _account_for(diagnostics: list) -> None:
    """File-level errors are bytes no interchange holds (skipped junk, stray segments)."""
    unaccounted = [d for d in diagnostics if d.is_error and d.level is Level.FILE]
    if unaccounted:
        raise EnvelopeError(f"{unaccounted[0]} (bytes outside every interchange are not accepted)")


def read_envelopes(raw: bytes, fmt: str) -> list[Envelope]:
    """The interchanges of an X12 or EDIFACT body, as the route's parse step will read them."""
    if fmt not in EDI_FORMATS:
        raise ValueError(f"{fmt} has no EDI envelope")
    envelopes = x12_envelopes(raw) if fmt == "x12" else edifact_envelopes(raw)
    if not envelopes:  # the readers raise first; kept so an empty list can never pass a check
        raise EnvelopeError(f"no {'ISA' if fmt == 'x12' else 'UNB'} interchange header found")
    return envelopes
