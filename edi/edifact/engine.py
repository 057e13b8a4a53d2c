"""The EDIFACT engine as the CLI and route steps see it (``edi.detect.Engine``): translate a
file to canonical documents, and build the CONTRL for it.

A message is mapped only when it and its interchange have no errors (never post a rejected
message). A mapping's business problem (a well-formed message the hub cannot use) is reported
as an error too, from the message's ``business`` list: it is not syntax, so the CONTRL never
carries it. Every diagnostic — reading, envelope, directory, mapping — is attached to the
interchange or message it concerns, so the CONTRL built afterwards reports exactly what
translation found.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

from edi.common.diagnostics import Diagnostic, MappingError
from edi.detect import Engine
from edi.edifact.diagnostics import Level, SyntaxCode
from edi.edifact.mapping.base import MappingOptions, MessageView, mapper_for
from edi.edifact.model import EdifactFile, ReadMessage, locate
from edi.edifact.reader import gc_paused, read


def map_message(message: ReadMessage, options: MappingOptions | None = None) -> list[dict[str, Any]]:
    """The canonical documents of one message; [] with the reason added to its diagnostics
    when it is rejected, unsupported or cannot be mapped."""
    if message.premapped is not None:
        docs, message.premapped = message.premapped, None  # handed on once: the taker may change them
        return docs
    if message.rejected or message.business:  # rejected, or already found unmappable
        return []
    fn = mapper_for(message.type)
    if fn is None:
        message.diagnostics.append(unsupported(message))
        return []
    view = MessageView(message, options)
    message.mapping_start = len(message.diagnostics)
    try:
        docs = fn(view)
    except MappingError as exc:
        # Syntax goes to the message's diagnostics (and so into the CONTRL); a business problem
        # of a well-formed message stays out of it (``edi.common.diagnostics.MappingError``).
        if exc.syntax:
            message.diagnostics.append(exc.diagnostic)
        else:
            message.business.append(exc.business_diagnostic())
        return []
    finally:
        message.diagnostics.extend(view.warnings)
    envelope = message.envelope_info()
    for doc in docs:
        doc["envelope"] = envelope
    return docs


def unsupported(message: ReadMessage) -> Diagnostic:
    return locate(
        "error",
        "unsupported_message",
        f"message type {message.type or '(none)'} ({message.directory or 'no version'}) is not supported by the hub",
        SyntaxCode.VALUE_NOT_SUPPORTED,
        level=Level.TRANSACTION,
        position=message.position,
        tag="UNH",
        element=2,
        component=1,
        interchange=message.interchange,
        group=message.group,
        message=message,
    )


def translate_file(file: EdifactFile, options: MappingOptions | None = None) -> Iterator[dict[str, Any] | Diagnostic]:
    """Documents and diagnostics of a read file, in file order."""
    yield from file.diagnostics
    for interchange in file.interchanges:
        yield from interchange.diagnostics
        for message in interchange.messages:
            docs = map_message(message, options)
            yield from message.diagnostics
            yield from message.business
            yield from docs


def _bytes(stream: BinaryIO | bytes) -> bytes:
    return stream if isinstance(stream, bytes) else stream.read()


def translate(stream: BinaryIO | bytes, source: str | None = None,
              options: MappingOptions | None = None) -> Iterator[dict[str, Any] | Diagnostic]:
    """Documents and diagnostics of an EDIFACT file (see ``edi.detect``). Reading is done as a
    whole (pydifact's model holds the interchange); the result is then streamed."""
    with gc_paused():  # one pause over reading and mapping: one collection afterwards, not two
        file = read(_bytes(stream), filename=source)
        items = list(translate_file(file, options))
    yield from items


def acknowledge(stream: BinaryIO | bytes, profile: Any = None) -> bytes:
    """The CONTRL the hub would send for the file, b"" when none is due."""
    from edi.edifact.contrl import acknowledge_file

    return acknowledge_file(_bytes(stream), profile)


ENGINE = Engine("edifact", translate=translate, acknowledge=acknowledge)
