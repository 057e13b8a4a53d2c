"""``hub routes test``: run a route's steps in-process on sample inputs kept beside the routes,
and compare what each endpoint would receive with the expected output.

Layout (one folder per case)::

    routes/tests/<route>/<case>/
        input.<ext>            the raw inbound message
        message.yaml           optional: format, doctype, sender, filename, headers, received_at
        expected/<endpoint>.json   a JSON list: one entry per delivery to that endpoint
        expected/<endpoint>.txt    for raw payloads: deliveries separated by a line '----'
        expected/error.txt     instead: the route must fail, with a message containing this text
        given/*.json           optional: canonical documents an earlier route kept (store_document)
                               — the PO the hub sent, for a case of a supplier's answer

No broker and no worker are involved; the route runs exactly as a worker would run it, with
two differences that make a case give the same output on every run and keep it away from the
hub's store: the ``db`` service is an empty SQLite database of the case's own (every table, plus
the partner registry of ``<routes>/partners.yaml``), so control numbers start at 1, nothing is a
duplicate of an earlier run and no business exception reaches the real store; and the
``clock`` service is fixed at 2026-01-01T00:00Z (acknowledgements carry its date and time).
"""

from __future__ import annotations

import difflib
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hub.exchange import Exchange
from hub.registry import StepError
from hub.routes.engine import CompiledRoute, render_outputs
from hub.routes.loader import RouteSet
from hub.yamlfile import DataFileError, load_yaml

FIXED_RECEIVED_AT = datetime(2026, 1, 1, tzinfo=UTC)
RAW_SEPARATOR = "\n----\n"


@dataclass
class CaseResult:
    route: str
    case: str
    ok: bool
    diffs: list[str] = field(default_factory=list)

    def report(self) -> str:
        head = f"{'PASS' if self.ok else 'FAIL'}  {self.route}/{self.case}"
        return head if self.ok else head + "\n" + "\n".join(self.diffs)


def discover(routes: RouteSet, only: str | None = None) -> list[tuple[str, Path]]:
    base = routes.directory / "tests"
    cases = []
    for name in sorted(routes.routes):
        if only and name != only:
            continue
        folder = base / name
        if folder.is_dir():
            cases += [(name, c) for c in sorted(folder.iterdir()) if c.is_dir()]
    return cases


def run_case(routes: RouteSet, route_name: str, case: Path, services: dict[str, Any] | None = None,
             update: bool = False) -> CaseResult:
    result = CaseResult(route_name, case.name, ok=True)
    loaded = routes.routes[route_name]
    inputs = sorted(case.glob("input.*"))
    if len(inputs) != 1:
        return CaseResult(route_name, case.name, False, [f"  expected exactly one input.* file in {case}"])
    ex = _exchange(loaded, case, inputs[0], result)
    if not result.ok:
        return result
    expected_dir = case / "expected"
    expected_error = expected_dir / "error.txt"
    try:
        with case_services(routes, services) as isolated:
            given(isolated["db"], case / "given", ex)
            compiled = CompiledRoute(loaded, isolated)
            outcome = compiled.run(ex)
            rendered = render_outputs(routes, compiled, outcome)
    except DataFileError as exc:
        return CaseResult(route_name, case.name, False, [f"  {problem}" for problem in exc.problems])
    except StepError as exc:
        if expected_error.exists():
            want = expected_error.read_text().strip()
            if want not in str(exc):
                result.ok = False
                result.diffs.append(f"  error differs:\n    expected to contain: {want}\n    got: {exc}")
            return result
        result.ok = False
        result.diffs.append(f"  route failed: {exc}")
        return result
    if expected_error.exists():
        result.ok = False
        result.diffs.append(f"  expected an error containing {expected_error.read_text().strip()!r}, but it passed")
        return result
    actual: dict[str, list[Any]] = {}
    for endpoint, _seq, body, ctype, _dt, _dk in rendered:
        actual.setdefault(endpoint, []).append(json.loads(body) if ctype == "application/json" else body.decode())
    _compare(expected_dir, actual, result, update)
    return result


@contextmanager
def case_services(routes: RouteSet, services: dict[str, Any] | None) -> Iterator[dict[str, Any]]:
    """``services`` with a database of the case's own and a fixed clock (see the module doc)."""
    import hub.models  # noqa: F401 - every table on Base.metadata
    from hub.db import Base, Database
    from hub.partners import PartnerRegistry

    with tempfile.TemporaryDirectory(prefix="hub-route-test-") as folder:
        db = Database(f"sqlite:///{Path(folder) / 'case.sqlite3'}")
        try:
            Base.metadata.create_all(db.engine)
            partners = routes.directory / "partners.yaml"
            if partners.exists():
                PartnerRegistry(db).load_file(partners)
            yield {**(services or {}), "db": db, "clock": lambda: FIXED_RECEIVED_AT}
        finally:
            db.dispose()


def given(db, folder: Path, ex: Exchange) -> None:
    """The case's message in its store (a ``store_document`` step keeps documents on it), and
    the case's ``given/*.json`` documents stored as an earlier route's ``store_document`` would
    have, each on a message of its own and on the document trail (emitted), so matching steps
    (po_match, receipt_match, recall_check) find them."""
    from hub.documents import ref_rows, store_document
    from hub.store import DocumentRef, Message

    def message(session, message_id: str, sender: str) -> None:
        session.add(Message(id=message_id, received_at=FIXED_RECEIVED_AT, format=ex.format, doctype=ex.doctype,
                            sender=sender, channel="test", headers={}, correlation_id=message_id, sha256="0" * 64,
                            size=0, raw=b"", status="received"))
        session.flush()

    with db.session() as session:
        message(session, ex.message_id, ex.sender)
    for n, path in enumerate(sorted(folder.glob("*.json")) if folder.is_dir() else [], start=1):
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise DataFileError([f"{path}:{exc.lineno}: not JSON ({exc.msg})"]) from None
        message_id = f"given-{n}"
        with db.session() as session:
            message(session, message_id, "given")
            for document in data if isinstance(data, list) else [data]:
                try:
                    store_document(session, document, message_id=message_id, route="given")
                except ValueError as exc:
                    raise DataFileError([f"{path}: {exc}"]) from None
                session.add_all(DocumentRef(**row) for row in ref_rows(message_id, "given", document, "emitted",
                                                                        FIXED_RECEIVED_AT))


def _exchange(loaded, case: Path, input_file: Path, result: CaseResult) -> Exchange:
    meta: dict[str, Any] = {}
    meta_file = case / "message.yaml"
    if meta_file.exists():
        doc, problems = load_yaml(meta_file)
        if problems or doc is None or not isinstance(doc.data, dict):
            result.ok = False
            result.diffs += [f"  {p}" for p in problems] or [f"  {meta_file}: must be a mapping"]
            return None  # type: ignore[return-value]
        meta = doc.data
    match = loaded.route.from_
    sender = match.sender[0] if isinstance(match.sender, list) else match.sender
    received = meta.get("received_at")
    return Exchange(
        message_id=str(meta.get("message_id", "test-message")),
        body=input_file.read_bytes(),
        format=str(meta.get("format") or match.format or "unknown"),
        doctype=str(meta.get("doctype") or match.doctype or "unknown"),
        sender=str(meta.get("sender") or sender or "test-sender"),
        headers=dict(meta.get("headers") or {}),
        filename=str(meta.get("filename") or input_file.name),
        received_at=datetime.fromisoformat(received) if received else FIXED_RECEIVED_AT,
    )


def _compare(expected_dir: Path, actual: dict[str, list[Any]], result: CaseResult, update: bool) -> None:
    endpoints = set(actual)
    if expected_dir.is_dir():
        endpoints |= {p.stem for p in expected_dir.iterdir() if p.stem != "error"}
    for endpoint in sorted(endpoints):
        got = actual.get(endpoint, [])
        json_file, txt_file = expected_dir / f"{endpoint}.json", expected_dir / f"{endpoint}.txt"
        as_text = txt_file.exists() or (got and all(isinstance(g, str) for g in got))
        if update:
            expected_dir.mkdir(parents=True, exist_ok=True)
            if as_text:
                txt_file.write_text(RAW_SEPARATOR.join(got))
            else:
                json_file.write_text(json.dumps(got, indent=2, ensure_ascii=False, sort_keys=True) + "\n")
            continue
        if as_text:
            want_text = txt_file.read_text() if txt_file.exists() else ""
            want_lines, got_lines = want_text.splitlines(), RAW_SEPARATOR.join(got).splitlines()
        else:
            want = json.loads(json_file.read_text()) if json_file.exists() else []
            want_lines = json.dumps(want, indent=2, ensure_ascii=False, sort_keys=True).splitlines()
            got_lines = json.dumps(got, indent=2, ensure_ascii=False, sort_keys=True).splitlines()
        if want_lines != got_lines:
            result.ok = False
            diff = difflib.unified_diff(want_lines, got_lines, f"expected/{endpoint}", f"actual/{endpoint}", lineterm="")
            result.diffs.append("\n".join("  " + line for line in diff))
