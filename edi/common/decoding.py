"""Bytes → text for EDI streams, chunk by chunk.

EDI is ASCII in principle, UTF-8 or latin-1 in practice. The decoder reads UTF-8 and takes any
byte that is not valid UTF-8 as latin-1, so no byte is lost and no file is refused for one
accented name; the first such byte is recorded so the reader can warn. A UTF-8 byte-order mark
at the start is dropped. Encodings that are not ASCII-compatible (EBCDIC, UTF-16) are refused
with a clear error by ``check_encoding``: guessing there would garble every delimiter.
"""

from __future__ import annotations

import codecs
import re

from edi.common.diagnostics import EdiError, Level, error

BOM_UTF8 = b"\xef\xbb\xbf"
_LEADING_JUNK = b" \t\r\n\x00"
_SURROGATE = re.compile("[\udc80-\udcff]")
# Envelope tags a file of either standard starts with, as EBCDIC (cp037) bytes.
_EBCDIC_TAGS = {tag.encode("cp037"): tag for tag in ("ISA", "UNA", "UNB")}


def strip_leading(head: bytes) -> bytes:
    """The bytes after a UTF-8 BOM and leading whitespace."""
    if head.startswith(BOM_UTF8):
        head = head[len(BOM_UTF8) :]
    return head.lstrip(_LEADING_JUNK)


def check_encoding(head: bytes) -> None:
    """Refuse encodings whose delimiters cannot be read as ASCII, naming the encoding."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or head[1:6:2] == b"\x00\x00\x00":
        raise EdiError(error("file is UTF-16 encoded; EDI must be sent in an ASCII-compatible encoding",
                             level=Level.FILE, code="utf16", segment_position=1))
    start = head.lstrip(b"\x40\x25\x0d\x05")  # EBCDIC space, LF, CR, tab
    tag = _EBCDIC_TAGS.get(start[:3])
    if tag:
        raise EdiError(error(f"file is EBCDIC-encoded (cp037: it starts with {tag!r} in EBCDIC); "
                             "convert it to ASCII before sending", level=Level.FILE, code="ebcdic",
                             segment_position=1, segment_id=tag))


class ChunkDecoder:
    """Incremental UTF-8 decoding with a per-byte latin-1 fallback."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        self._started = False
        self._pending = b""
        self.had_bom = False
        self.chars = 0
        # Character offset (in the decoded text) of the first byte that was not UTF-8.
        self.first_non_utf8: int | None = None
        self.first_non_ascii: int | None = None

    def decode(self, data: bytes, final: bool = False) -> str:
        if not self._started:
            data = self._pending + data
            if len(data) < len(BOM_UTF8) and not final and BOM_UTF8.startswith(data):
                self._pending = data
                return ""
            self._started = True
            if data.startswith(BOM_UTF8):
                self.had_bom = True
                data = data[len(BOM_UTF8) :]
        text = self._decoder.decode(data, final)
        if not text.isascii():  # O(1) in CPython: the common case costs nothing
            text = self._note_non_ascii(text)
        self.chars += len(text)
        return text

    def _note_non_ascii(self, text: str) -> str:
        if self.first_non_ascii is None:
            self.first_non_ascii = self.chars + next(i for i, ch in enumerate(text) if ord(ch) > 127)
        match = _SURROGATE.search(text)
        if match is None:
            return text
        if self.first_non_utf8 is None:
            self.first_non_utf8 = self.chars + match.start()
        return _SURROGATE.sub(lambda m: chr(ord(m.group()) - 0xDC00), text)
