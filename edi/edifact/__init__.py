"""UN/EDIFACT engine on pydifact's Segment/Interchange model (see docs/edifact.md).

``translate(data)`` gives the canonical documents of a file and ``acknowledge(data)`` the CONTRL
the hub would send; the diagnostics-carrying forms are ``edi.edifact.engine.translate`` (the
``edi.detect`` engine used by ``hub edi``) and ``edi.edifact.reader.read``.
"""

from __future__ import annotations

from typing import Any


def translate(data: bytes) -> list[dict[str, Any]]:
    """The canonical documents (JSON-ready dicts with their ``envelope``) of an EDIFACT file;
    messages with errors give none (see ``edi.edifact.engine.translate`` for the diagnostics)."""
    from edi.edifact.engine import translate as translate_items

    return [item for item in translate_items(data) if isinstance(item, dict)]


def acknowledge(data: bytes, profile: Any = None) -> bytes:
    """The CONTRL for the file's interchanges that ask for one (b"" when none is due)."""
    from edi.edifact.contrl import acknowledge_file

    return acknowledge_file(data, profile)
