"""Text checks shared by the EDI engines."""

from __future__ import annotations


def digits(value: str) -> bool:
    """ASCII digits only (``str.isdigit`` also accepts '¹' and other Unicode digits, which
    ``int()`` then refuses)."""
    return value.isascii() and value.isdigit()
