"""Every interchange sender in an EDI file (ISA05/06 for X12, UNB S002 for EDIFACT), for the
inbound API's check that the envelope belongs to the authenticated partner.

Only the envelope headers are read (a file may hold several interchanges, possibly from
different senders: each one is found); the EDI engines parse and validate the rest later.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hub.sniff import BOM


@dataclass(frozen=True)
class EnvelopeSender:
    standard: str  # X12 or EDIFACT
    qualifier: str
    identifier: str
    receiver_qualifier: str
    receiver: str
    offset: int  # byte offset of the ISA/UNB segment

    def __str__(self) -> str:
        return f"{self.qualifier}:{self.identifier}" if self.qualifier else self.identifier


class EnvelopeError(ValueError):
    """The file says it is EDI but no envelope header can be read; names the place."""


_ISA = re.compile(rb"ISA([^A-Za-z0-9\s])(\d\d)\1")


def x12_senders(raw: bytes) -> list[EnvelopeSender]:
    found = []
    for match in _ISA.finditer(raw):
        sep = match.group(1)
        fields = raw[match.start():match.start() + 200].split(sep, 16)
        if len(fields) < 17:
            raise EnvelopeError(f"byte {match.start()}: ISA segment has {len(fields) - 1} elements, 16 expected")
        text = [f.decode("latin-1").strip() for f in fields[:9]]
        if not text[6]:
            raise EnvelopeError(f"byte {match.start()}: ISA06 (interchange sender ID) is empty")
        found.append(EnvelopeSender("X12", text[5], text[6], text[7], text[8], match.start()))
    return found


def edifact_senders(raw: bytes) -> list[EnvelopeSender]:
    head = raw.lstrip(BOM).lstrip()
    comp, elem, release, term = b":", b"+", b"?", b"'"
    if head.startswith(b"UNA") and len(head) >= 9:
        comp, elem, release, term = head[3:4], head[4:5], head[6:7], head[8:9]
    e, c, r, t = (re.escape(x) for x in (elem, comp, release, term))
    # UNB at the start or after an unescaped segment terminator (and layout whitespace).
    unb = re.compile(rb"(?:^|(?<!" + r + rb")" + t + rb")\s*UNB" + e)
    found = []
    for match in unb.finditer(raw.lstrip(BOM)):
        end = re.search(rb"(?<!" + r + rb")" + t, raw[match.end():])
        segment = raw[match.end():match.end() + (end.start() if end else len(raw))]
        elements = re.split(rb"(?<!" + r + rb")" + e, segment)
        if len(elements) < 3:
            raise EnvelopeError(f"byte {match.start()}: UNB segment without sender and recipient (S002, S003)")
        sender = [p.decode("latin-1") for p in re.split(rb"(?<!" + r + rb")" + c, elements[1])]
        receiver = [p.decode("latin-1") for p in re.split(rb"(?<!" + r + rb")" + c, elements[2])]
        if not sender[0].strip():
            raise EnvelopeError(f"byte {match.start()}: UNB S002 0004 (sender identification) is empty")
        found.append(EnvelopeSender("EDIFACT", sender[1].strip() if len(sender) > 1 else "", sender[0].strip(),
                                    receiver[1].strip() if len(receiver) > 1 else "", receiver[0].strip(),
                                    match.start()))
    return found


def envelope_senders(raw: bytes, fmt: str) -> list[EnvelopeSender]:
    """Senders of every interchange; EnvelopeError when an EDI file has no readable envelope."""
    senders = x12_senders(raw) if fmt == "x12" else edifact_senders(raw) if fmt == "edifact" else []
    if fmt in ("x12", "edifact") and not senders:
        raise EnvelopeError(f"no {'ISA' if fmt == 'x12' else 'UNB'} interchange header found")
    return senders
