"""UNB syntax identifiers (S001/0001) and their character sets; decoding the raw bytes.

ISO 9735 names the character repertoire of an interchange in UNB: UNOA and UNOB are the
7-bit levels A and B, UNOC..UNOL the ISO 8859 parts, UNOW/UNOY ISO 10646 (UTF-8 in
practice), UNOX ISO 2022 code extension. Real files break this often (UTF-8 umlauts under
UNOA, UTF-8 under UNOC), so the reader decodes what the bytes really are, warns, and
tolerates characters outside the declared set with one warning per interchange.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_LEVEL_A = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,-()/='+:?!\"%&*;<>"
# Level B adds lower-case letters and the information separators IS1, IS3, IS4, which are
# the level-B default delimiters.
_LEVEL_B = _LEVEL_A + "abcdefghijklmnopqrstuvwxyz\x1f\x1d\x1c"


@dataclass(frozen=True)
class Charset:
    syntax_id: str
    codec: str
    description: str
    # Characters allowed, for the 7-bit levels; None = whatever the codec can encode.
    repertoire: str | None = None


CHARSETS: dict[str, Charset] = {
    c.syntax_id: c
    for c in (
        Charset("UNOA", "ascii", "ISO 646 level A (upper case)", _LEVEL_A),
        Charset("UNOB", "ascii", "ISO 646 level B (upper and lower case)", _LEVEL_B),
        Charset("UNOC", "iso8859-1", "ISO 8859-1 (Latin-1)"),
        Charset("UNOD", "iso8859-2", "ISO 8859-2 (Latin-2)"),
        Charset("UNOE", "iso8859-5", "ISO 8859-5 (Cyrillic)"),
        Charset("UNOF", "iso8859-7", "ISO 8859-7 (Greek)"),
        Charset("UNOG", "iso8859-3", "ISO 8859-3 (Latin-3)"),
        Charset("UNOH", "iso8859-4", "ISO 8859-4 (Latin-4)"),
        Charset("UNOI", "iso8859-6", "ISO 8859-6 (Arabic)"),
        Charset("UNOJ", "iso8859-8", "ISO 8859-8 (Hebrew)"),
        Charset("UNOK", "iso8859-9", "ISO 8859-9 (Latin-5)"),
        Charset("UNOL", "iso8859-15", "ISO 8859-15 (Latin-9)"),
        Charset("UNOW", "utf-8", "ISO 10646-1 UTF-8"),
        Charset("UNOX", "iso2022_jp_2", "ISO 2022 code extension"),
        Charset("UNOY", "utf-8", "ISO 10646-1 without code extension (read as UTF-8)"),
    )
}

BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class Decoded:
    text: str
    syntax_id: str | None
    codec: str
    had_bom: bool
    # Set when the bytes were not in the declared encoding: what was used instead.
    encoding_note: str | None = None


def sniff_syntax_id(data: bytes) -> str | None:
    """The first UNB's syntax identifier, read from the bytes (UNA/UNB are plain ASCII)."""
    start = data.find(b"UNB")
    while 0 <= start and start + 8 <= len(data):
        ident = data[start + 4 : start + 8]
        if ident.isalpha():
            return ident.decode("ascii")
        start = data.find(b"UNB", start + 3)
    return None


def decode(data: bytes) -> Decoded:
    had_bom = data.startswith(BOM)
    if had_bom:
        data = data[len(BOM) :]
    syntax_id = sniff_syntax_id(data)
    charset = CHARSETS.get(syntax_id or "")
    declared = charset.codec if charset else None
    if declared is not None:
        try:
            return Decoded(data.decode(declared), syntax_id, declared, had_bom)
        except UnicodeDecodeError:
            pass
    elif data.isascii():
        return Decoded(data.decode("ascii"), syntax_id, "ascii", had_bom)
    # Not in the declared encoding (or none declared): UTF-8 is by far the most common
    # mistake, and random Latin-1 text is almost never valid UTF-8.
    try:
        text = data.decode("utf-8")
        used = "utf-8"
    except UnicodeDecodeError:
        text = data.decode("latin-1")
        used = "iso8859-1"
    note = None
    if declared is not None:
        note = f"bytes are not {declared} as {syntax_id} declares; decoded as {used}"
    return Decoded(text, syntax_id, used, had_bom, note)


def prefer_utf8(decoded: Decoded, data: bytes) -> Decoded:
    """An 8-bit set was declared and decoding succeeded, but if the bytes are valid UTF-8
    with multi-byte sequences the sender almost surely wrote UTF-8 (Latin-1 text read as
    UTF-8 nearly always fails)."""
    if decoded.codec in ("utf-8", "ascii") or decoded.text.isascii():
        return decoded
    raw = data[len(BOM) :] if decoded.had_bom else data
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return decoded
    note = f"bytes are UTF-8 although {decoded.syntax_id} declares {decoded.codec}; decoded as utf-8"
    return Decoded(text, decoded.syntax_id, "utf-8", decoded.had_bom, note)


def decode_bytes(data: bytes) -> Decoded:
    return prefer_utf8(decode(data), data)


@lru_cache(maxsize=64)
def outside_pattern(syntax_id: str, delimiters: str) -> re.Pattern[str] | None:
    """A regex matching characters outside the declared repertoire (delimiters and line
    layout excepted), or None when every decodable character is allowed."""
    charset = CHARSETS.get(syntax_id)
    if charset is None:
        return None
    if charset.repertoire is not None:
        allowed = charset.repertoire + delimiters + "\r\n\t"
        return re.compile("[^" + re.escape(allowed) + "]")
    if charset.codec in ("utf-8", "iso2022_jp_2"):
        return None
    # 8-bit sets: the characters the codec can encode, i.e. every byte value decoded.
    encodable = bytes(range(0x20, 0x7F)).decode("ascii") + bytes(range(0xA0, 0x100)).decode(
        charset.codec, "ignore"
    )
    return re.compile("[^" + re.escape(encodable + delimiters + "\r\n\t") + "]")


# Lone surrogates (bytes a decoder could not read) and line breaks: no syntax writes them.
_NEVER_WRITTEN = re.compile("[\ud800-\udfff\r\n]")


def writable(text: str, syntax_id: str, escapable: str) -> str:
    """``text`` with every character a reply in ``syntax_id`` cannot carry replaced by '?'
    (delimiters stay: the serializer escapes them). For what an acknowledgement echoes from a
    partner's interchange, which was read whatever its characters."""
    text = _NEVER_WRITTEN.sub("?", text)
    pattern = outside_pattern(syntax_id, escapable)
    return pattern.sub("?", text) if pattern is not None else text
