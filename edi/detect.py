"""Which EDI standard a file is in, and the engine that handles it.

``sniff(head)`` looks at the first bytes after a UTF-8 BOM and whitespace: ``ISA`` is X12,
``UNA``/``UNB`` is EDIFACT. EBCDIC and UTF-16 files are refused with a clear error rather than
guessed at.

Engines plug in by format: ``edi.x12.engine`` and ``edi.edifact.engine`` each define
``ENGINE = Engine(...)`` with two functions, so the CLI and route steps dispatch without
knowing either standard:

- ``translate(stream, source=None)`` → iterator of JSON-ready document dicts (each with
  ``document_type``, the canonical fields and ``envelope``) interleaved with ``Diagnostic``
  objects, in file order; raises ``EdiError`` when reading cannot go on.
- ``acknowledge(stream, profile=None)`` → the acknowledgement bytes the hub would send back
  (997/999/TA1 for X12, CONTRL for EDIFACT), or ``b""`` when none is due.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from edi.common.decoding import check_encoding, strip_leading
from edi.common.diagnostics import Diagnostic, EdiError, Level, error

X12 = "x12"
EDIFACT = "edifact"
ENGINE_MODULES = {X12: "edi.x12.engine", EDIFACT: "edi.edifact.engine"}
SNIFF_BYTES = 64


@dataclass(frozen=True)
class Engine:
    name: str
    translate: Callable[..., Iterator[dict[str, Any] | Diagnostic]]
    acknowledge: Callable[..., bytes]


def sniff(head: bytes) -> str | None:
    """``"x12"``, ``"edifact"`` or None for the first bytes of a file."""
    start = strip_leading(head)
    check_encoding(start)
    if start.startswith(b"ISA"):
        return X12
    if start.startswith((b"UNA", b"UNB")):
        return EDIFACT
    return None


def detect(head: bytes) -> str:
    """Like ``sniff`` but an unknown start is an ``EdiError`` naming what was found."""
    found = sniff(head)
    if found is None:
        start = strip_leading(head)[:12]
        raise EdiError(error(f"not an X12 (ISA) or EDIFACT (UNA/UNB) file: it starts with {start!r}",
                             level=Level.FILE, segment_position=1, code="unknown_format"))
    return found


def engine_for(fmt: str) -> Engine:
    try:
        module_name = ENGINE_MODULES[fmt]
    except KeyError:
        raise KeyError(f"no EDI engine for format {fmt!r}; known: {', '.join(ENGINE_MODULES)}") from None
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise EdiError(error(f"the {fmt} engine is not installed in this build", level=Level.FILE,
                                 code="engine_missing")) from None
        raise
    return module.ENGINE


def open_engine(stream: BinaryIO) -> tuple[Engine, BinaryIO]:
    """Detect the format of a seekable binary stream and rewind it for the engine."""
    head = stream.read(SNIFF_BYTES)
    stream.seek(0)
    return engine_for(detect(head)), stream
