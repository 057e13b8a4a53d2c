"""Payloads made readable: EDI one segment per line with its position, JSON and XML indented,
CSV and text with line numbers, anything else as a hex dump.

Why positions: the hub's errors name places ("segment 14 (N1), element 2"), and an operator
comparing what came in with what went out reads by segment number and byte offset, not by
scrolling a 40 KB line. Why a safe XML parser: the payload is a partner's; it may declare
entities or a DTD (the ``xml_entities`` dead-letter reason exists for that), and showing it
must neither expand nor fetch anything. What is shown is capped (``MAX_SHOWN``); the raw bytes
are always one click away as a download.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, field

MAX_SHOWN = 256 * 1024
_HIDDEN = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


@dataclass
class Shown:
    kind: str  # x12, edifact, json, xml, text, binary
    text: str
    size: int
    truncated: bool = False
    notes: list[str] = field(default_factory=list)


def show(data: bytes, content_type: str | None = None, fmt: str | None = None) -> Shown:
    head, truncated = data[:MAX_SHOWN], len(data) > MAX_SHOWN
    text = _decode(head)
    if text is None:
        return Shown("binary", hexdump(head[:4096]), len(data), truncated or len(head) > 4096)
    stripped = text.lstrip()
    kind = _kind(stripped, content_type, fmt)
    try:
        body = {"x12": x12_segments, "edifact": edifact_segments, "json": pretty_json, "xml": pretty_xml}.get(
            kind, numbered)(text)
    except ValueError as exc:  # not what it claims: shown as it is, and why
        return Shown("text", visible(numbered(text)), len(data), truncated, [f"shown as text: {exc}"])
    return Shown(kind, visible(body), len(data), truncated)


def visible(text: str) -> str:
    """Control, direction and invisible characters as escapes (``\\x1b``, ``\\u202e``), lines and
    tabs kept: a right-to-left override in a partner's file must not reorder what is shown."""
    out = []
    for ch in text:
        if ch in "\n\t" or (ch >= " " and unicodedata.category(ch) not in _HIDDEN):
            out.append(ch)
        else:
            out.append(ch.encode("unicode_escape").decode("ascii"))
    return "".join(out)


def _decode(data: bytes) -> str | None:
    for encoding in ("utf-8", "latin-1"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        controls = sum(1 for ch in text[:4096] if ord(ch) < 32 and ch not in "\r\n\t\x1c\x1d\x1e\x1f")
        if encoding == "latin-1" and controls > len(text[:4096]) // 20:
            return None
        return text
    return None


def _kind(text: str, content_type: str | None, fmt: str | None) -> str:
    ctype = (content_type or "").lower()
    if text.startswith("ISA"):
        return "x12"
    if text.startswith(("UNA", "UNB")):
        return "edifact"
    if "json" in ctype or fmt == "json" or text.startswith(("{", "[")):
        return "json"
    if "xml" in ctype or fmt == "xml" or text.startswith("<"):
        return "xml"
    return "text"


def _segment_lines(segments: list[tuple[int, str]]) -> str:
    width = len(str(len(segments)))
    return "\n".join(f"{n:>{width}}  @{offset:<7} {segment}" for n, (offset, segment) in enumerate(segments, 1))


def x12_segments(text: str) -> str:
    start = len(text) - len(text.lstrip())
    isa = text[start:start + 106]
    if len(isa) < 106:
        raise ValueError("an ISA segment is 106 characters")
    terminator = isa[105]
    segments, offset = [], start
    for piece in text[start:].split(terminator):
        lead = len(piece) - len(piece.lstrip("\r\n"))
        body = piece.strip("\r\n")
        if body:
            segments.append((offset + lead, body + terminator))
        offset += len(piece) + 1
    return _segment_lines(segments)


def edifact_segments(text: str) -> str:
    start = len(text) - len(text.lstrip())
    terminator, release, pos, segments = "'", "?", start, []
    if text.startswith("UNA", start):
        una = text[start:start + 9]
        if len(una) < 9:
            raise ValueError("a UNA segment is 9 characters")
        release, terminator = una[6], una[8]
        segments.append((start, una))
        pos = start + 9
    seg_start, escaped = pos, False
    for i in range(pos, len(text)):
        ch = text[i]
        if escaped:
            escaped = False
        elif ch == release and release != " ":
            escaped = True
        elif ch == terminator:
            segments += _piece(text, seg_start, i + 1)
            seg_start = i + 1
    segments += _piece(text, seg_start, len(text))
    return _segment_lines(segments)


def _piece(text: str, begin: int, end: int) -> list[tuple[int, str]]:
    """The segment in text[begin:end] without the line breaks around it, with its offset."""
    raw = text[begin:end]
    body = raw.strip("\r\n")
    return [(begin + len(raw) - len(raw.lstrip("\r\n")), body)] if body.strip() else []


def pretty_json(text: str) -> str:
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError as exc:
        raise ValueError(f"not JSON ({exc})") from None


def pretty_xml(text: str) -> str:
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                             huge_tree=False, remove_blank_text=True)
    try:
        root = etree.fromstring(text.encode("utf-8"), parser)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise ValueError(f"not well-formed XML ({exc})") from None
    return etree.tostring(root, pretty_print=True, encoding="unicode")


def numbered(text: str) -> str:
    lines = text.splitlines() or [""]
    width = len(str(len(lines)))
    return "\n".join(f"{n:>{width}}  {line}" for n, line in enumerate(lines, 1))


def hexdump(data: bytes) -> str:
    rows = []
    for offset in range(0, len(data), 16):
        chunk = data[offset:offset + 16]
        shown = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        rows.append(f"{offset:08x}  {chunk.hex(' '):<47}  {shown}")
    return "\n".join(rows)
