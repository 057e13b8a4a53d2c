"""The X12 engine as the CLI and route steps see it (``edi.detect.Engine``): translate a file
to canonical documents, and build the acknowledgement for it.

Translation streams: each transaction set is mapped as soon as it is read and then dropped.
A set is mapped only when it, its group and its interchange have no errors so far (never post
a rejected set); errors found later in a trailer (GE/IEA) are reported when they are read.
A mapping's business problem (a well-formed set the hub cannot use) is reported as an error
too, from the set's ``business`` list: it is not a syntax error, so acks never carry it.
Route steps, which hold whole messages, check the complete file first (``edi.x12.plugin``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

from pydantic import BaseModel

from edi.common.diagnostics import Diagnostic, Level, MappingError, error
from edi.detect import Engine
from edi.x12.mapping.acks import ta1_results
from edi.x12.mapping.base import SetView, mapper_for
from edi.x12.mapping.common import RecheckIdentifiers
from edi.x12.reader import Interchange, InterchangeEnd, TransactionSet, X12Reader
from edi.x12.tokenizer import CHUNK_SIZE


def unsupported(ts: TransactionSet) -> Diagnostic:
    return error(f"unsupported transaction set {ts.set_id}", level=Level.TRANSACTION,
                 segment_position=ts.position, segment_id="ST", element_position=1,
                 set_position=1, code="unsupported_set", ack_code="1")


def map_set(ts: TransactionSet) -> list[BaseModel] | None:
    """The canonical documents of a set (an 832 gives one per price), or None with the reason
    added to the set's diagnostics."""
    if ts.premapped is not None:
        docs, ts.premapped = ts.premapped, None  # handed on once: the taker may change them
        return docs
    if ts.business or ts.first_error() is not None:  # already found unmappable, or rejected
        return None
    fn = mapper_for(ts.set_id)
    if fn is None:
        ts.summary.diagnostics.append(unsupported(ts))
        return None
    view = SetView(ts)
    try:
        try:
            result = fn(view)
        except RecheckIdentifiers:
            view = SetView(ts)
            view.precheck_ids = True
            result = fn(view)
    except MappingError as exc:
        # Syntax goes to the set's diagnostics (and so into the 997/999); a business problem
        # of a well-formed set stays out of the ack (``edi.common.diagnostics.MappingError``).
        if exc.syntax:
            ts.summary.diagnostics.append(exc.diagnostic)
        else:
            ts.summary.business.append(exc.business_diagnostic())
        return None
    finally:
        ts.summary.diagnostics.extend(view.warnings)
    return result if isinstance(result, list) else [result]


def as_json(document: BaseModel, ts: TransactionSet | None = None, envelope: dict[str, Any] | None = None) -> dict[str, Any]:
    """A document in the CLI's JSON form: canonical fields plus ``envelope``."""
    data = document.model_dump(mode="json", exclude_none=True)
    data["envelope"] = envelope if envelope is not None else ts.envelope_info() if ts is not None else {}
    return data


class _Feed:
    """Yields each diagnostic once, however often its list is looked at."""

    def __init__(self) -> None:
        self._seen: dict[int, int] = {}

    def fresh(self, diagnostics: list[Diagnostic]) -> list[Diagnostic]:
        done = self._seen.get(id(diagnostics), 0)
        self._seen[id(diagnostics)] = len(diagnostics)
        return diagnostics[done:]

    def interchange(self, interchange: Interchange) -> Iterator[Diagnostic]:
        yield from self.fresh(interchange.diagnostics)
        for group in interchange.groups:
            yield from self.fresh(group.diagnostics)

    def forget(self, interchange: Interchange) -> None:
        self._seen.pop(id(interchange.diagnostics), None)
        for group in interchange.groups:
            self._seen.pop(id(group.diagnostics), None)


def translate_models(stream: BinaryIO | bytes, *, chunk_size: int = CHUNK_SIZE) -> Iterator[tuple[BaseModel, TransactionSet]]:
    """The canonical documents of a file as validated pydantic models with their set (for the
    envelope), streaming; problems stay in the sets' diagnostics."""
    for item in X12Reader(stream, chunk_size=chunk_size):
        if isinstance(item, TransactionSet):
            for doc in map_set(item) or ():
                yield doc, item


def translate(stream: BinaryIO | bytes, source: str | None = None, *,
              chunk_size: int = CHUNK_SIZE) -> Iterator[dict[str, Any] | Diagnostic]:
    """Documents and diagnostics of an X12 file, in file order (see ``edi.detect``)."""
    reader = X12Reader(stream, chunk_size=chunk_size)
    feed = _Feed()
    for item in reader:
        yield from feed.fresh(reader.file_diagnostics)
        if isinstance(item, TransactionSet):
            yield from feed.interchange(item.interchange)
            docs = map_set(item)
            yield from item.summary.diagnostics
            yield from item.summary.business
            if docs:
                envelope = item.envelope_info()
                yield from (as_json(doc, envelope=envelope) for doc in docs)
            continue
        assert isinstance(item, InterchangeEnd)
        interchange = item.interchange
        if interchange.first_error() is None:
            docs, problems = ta1_results(interchange)
            interchange.diagnostics.extend(problems)
            yield from (as_json(doc, envelope=interchange.envelope_info()) for doc in docs)
        yield from feed.interchange(interchange)
        feed.forget(interchange)
    yield from feed.fresh(reader.file_diagnostics)


def acknowledge(stream: BinaryIO | bytes, profile: Any = None) -> bytes:
    from edi.x12.acks import acknowledge_file

    return acknowledge_file(stream, profile)


ENGINE = Engine("x12", translate=translate, acknowledge=acknowledge)
