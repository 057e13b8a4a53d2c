"""Guessing what a file is when nobody described it: format, document type, sender.

Only a peek at the envelope head, for routing keys (``<format>.<doctype>.<sender>``); the EDI
engines do the real parsing and validation later in the route.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

BOM = b"\xef\xbb\xbf"
PEEK = 4096


@dataclass(frozen=True)
class Peek:
    format: str
    doctype: str | None = None
    sender: str | None = None


def sniff_format(raw: bytes) -> str:
    return peek(raw).format


def peek(raw: bytes) -> Peek:
    head = raw[:PEEK].lstrip(BOM).lstrip()
    if head.startswith(b"ISA"):
        return _x12(head)
    if head.startswith((b"UNA", b"UNB")):
        return _edifact(head)
    if head.startswith((b"{", b"[")):
        return Peek("json")
    if head.startswith(b"<"):
        return Peek("xml")
    return Peek("csv" if b"," in head.split(b"\n", 1)[0] else "text")


def _x12(head: bytes) -> Peek:
    text = head.decode("latin-1")
    sep = text[3]
    parts = text.split(sep, 17)
    sender = parts[6].strip() if len(parts) > 6 else None
    # The segment terminator follows ISA16; find ST by its element separator instead of
    # trusting fixed widths (unpadded ISAs exist in the wild).
    m = re.search(rf"(?:^|[^A-Za-z0-9])ST{re.escape(sep)}(\w+)", text)
    return Peek("x12", m.group(1) if m else None, sender or None)


def _edifact(head: bytes) -> Peek:
    text = head.decode("latin-1")
    elem, comp = "+", ":"
    if text.startswith("UNA") and len(text) >= 9:
        comp, elem = text[3], text[4]
    unb = re.search(rf"UNB{re.escape(elem)}[^{re.escape(elem)}]*{re.escape(elem)}([^{re.escape(elem)}{re.escape(comp)}]+)", text)
    unh = re.search(rf"UNH{re.escape(elem)}[^{re.escape(elem)}]*{re.escape(elem)}([A-Z0-9]+)", text)
    return Peek("edifact", unh.group(1) if unh else None, unb.group(1).strip() if unb else None)
