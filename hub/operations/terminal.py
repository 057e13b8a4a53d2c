"""Text from partners (file names, references) made safe to print on an operator's terminal.

Why: a file name is chosen by whoever sent the file. A CR/LF in it can forge lines of
``hub messages``; an escape sequence can recolour or clear the screen; a right-to-left override
can make ``invoice.exe.csv`` read as something else. Every such character is shown as an
escape (``\\r``, ``\\x1b``, ``\\u202e``) instead of acting.
"""

from __future__ import annotations

import unicodedata

_BIDI_AND_INVISIBLE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def printable(text: str | None) -> str:
    if not text:
        return ""
    out = []
    for ch in text:
        if ch != " " and unicodedata.category(ch) in _BIDI_AND_INVISIBLE:
            out.append(ch.encode("unicode_escape").decode("ascii"))
        else:
            out.append(ch)
    return "".join(out)
