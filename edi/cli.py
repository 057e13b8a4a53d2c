"""``hub edi`` commands: translate an EDI file to canonical JSON, show the acknowledgement the
hub would send for it, or write canonical documents as an interchange (``write``, see
``edi.write_command``). The format (X12 or EDIFACT) is detected from the file's first bytes and
the matching engine does the work (see ``edi.detect``).

Output contract: stdout carries only the JSON list (``translate``) or the ack (``ack``); every
problem is one line on stderr, ``FILE: segment 14 (SE), element 1: count 12 but 13 segments``,
warnings prefixed ``warning:``. Exit codes: 0 done (warnings allowed), 1 the input has errors or
unsupported documents, 2 the file cannot be opened, 3 an internal error (reported, no traceback).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer

from edi.common.diagnostics import Diagnostic, EdiError
from edi.detect import open_engine

app = typer.Typer(help="Translate and acknowledge X12 / EDIFACT files.", no_args_is_help=True,
                  add_completion=False)

EXIT_OK, EXIT_INPUT, EXIT_OPEN, EXIT_INTERNAL = 0, 1, 2, 3


class _Reporter:
    def __init__(self, name: str, err: TextIO) -> None:
        self.name, self.err = name, err
        self.errors = 0

    def report(self, diag: Diagnostic) -> None:
        if diag.is_error:
            self.errors += 1
            self.err.write(f"{self.name}: {diag}\n")
        else:
            self.err.write(f"{self.name}: warning: {diag}\n")

    def fail(self, message: str) -> None:
        self.errors += 1
        self.err.write(f"{self.name}: {message}\n")


def _open(path: Path, reporter: _Reporter):
    try:
        return path.open("rb")
    except OSError as exc:
        reporter.fail(f"cannot open: {exc.strerror or exc}")
        return None


def run_translate(path: Path, out: TextIO, err: TextIO, indent: int | None = None) -> int:
    reporter = _Reporter(str(path), err)
    stream = _open(path, reporter)
    if stream is None:
        return EXIT_OPEN
    written = 0
    out.write("[")
    try:
        with stream:
            engine, stream = open_engine(stream)
            for item in engine.translate(stream, source=str(path)):
                if isinstance(item, Diagnostic):
                    reporter.report(item)
                    continue
                out.write(("," if written else "") + "\n" + _dumps(item, indent))
                written += 1
    except EdiError as exc:
        for diag in exc.diagnostics:
            reporter.report(diag)
    except Exception as exc:  # noqa: BLE001 - the CLI promises no tracebacks; say what broke
        reporter.fail(f"internal error while translating ({type(exc).__name__}: {exc})")
        out.write("\n]\n")
        return EXIT_INTERNAL
    out.write("\n]\n" if written else "]\n")
    return EXIT_INPUT if reporter.errors else EXIT_OK


def run_ack(path: Path, out: TextIO, err: TextIO) -> int:
    reporter = _Reporter(str(path), err)
    stream = _open(path, reporter)
    if stream is None:
        return EXIT_OPEN
    try:
        with stream:
            engine, stream = open_engine(stream)
            ack = engine.acknowledge(stream)
    except EdiError as exc:
        for diag in exc.diagnostics:
            reporter.report(diag)
        return EXIT_INPUT
    except Exception as exc:  # noqa: BLE001
        reporter.fail(f"internal error while acknowledging ({type(exc).__name__}: {exc})")
        return EXIT_INTERNAL
    if not ack:
        reporter.err.write(f"{path}: no acknowledgement is due for this file\n")
    out.write(ack.decode("latin-1"))
    if ack and not ack.endswith(b"\n"):
        out.write("\n")
    return EXIT_OK


def run_write(request: Any, out: TextIO, err: TextIO) -> int:
    """Print the interchange for ``request`` (``edi.write_command.WriteRequest``); warnings
    (content the target cannot carry) on stderr; a document that cannot be written validly
    is exit 1 with its place, an unreadable file exit 2."""
    from edi.common.outbound import WriteError
    from edi.write_command import write

    reporter = _Reporter(str(request.path), err)
    if not request.path.is_file():
        reporter.fail("cannot open: no such file")
        return EXIT_OPEN
    try:
        result = write(request)
    except WriteError as exc:
        reporter.fail(str(exc))
        return EXIT_INPUT
    except OSError as exc:
        reporter.fail(f"cannot open: {exc.strerror or exc}")
        return EXIT_OPEN
    except Exception as exc:  # noqa: BLE001 - the CLI promises no tracebacks; say what broke
        reporter.fail(f"internal error while writing ({type(exc).__name__}: {exc})")
        return EXIT_INTERNAL
    err.writelines(f"{request.path}: warning: {warning}\n" for warning in result.warnings)
    text = result.data.decode("utf-8", errors="replace")
    out.write(text if text.endswith("\n") else text + "\n")
    return EXIT_OK


def _dumps(item: dict[str, Any], indent: int | None) -> str:
    return json.dumps(item, indent=indent, ensure_ascii=False, default=str)


@app.command()
def translate(
    file: Annotated[Path, typer.Argument(help="EDI file (X12 or EDIFACT, detected)")],
    indent: Annotated[int | None, typer.Option(help="Indent the JSON by this many spaces")] = None,
) -> None:
    """Print the file's documents as a JSON list of canonical documents with their envelope."""
    raise typer.Exit(run_translate(file, sys.stdout, sys.stderr, indent))


@app.command()
def ack(file: Annotated[Path, typer.Argument(help="EDI file (X12 or EDIFACT, detected)")]) -> None:
    """Print the acknowledgement (997/999/TA1 or CONTRL) the hub would send for the file."""
    raise typer.Exit(run_ack(file, sys.stdout, sys.stderr))


@app.command()
def write(
    file: Annotated[Path, typer.Argument(help="JSON: one canonical document or a list (what `hub edi translate` prints)")],
    standard: Annotated[str | None, typer.Option(help="x12 or edifact; default: the envelope's, else x12")] = None,
    version: Annotated[str | None, typer.Option(help="004010 / 005010 (X12), D96A / D01B (EDIFACT)")] = None,
    partner: Annotated[str | None, typer.Option(help="A partner of the registry: its identities, version, "
                                                     "delimiters and next control numbers")] = None,
    consume: Annotated[bool, typer.Option(help="Take the partner's control numbers (default: show them only)")] = False,
    database_url: Annotated[str | None, typer.Option(help="The store holding the partner registry")] = None,
) -> None:
    """Print the interchange the hub would send for the documents, checked against the standard."""
    from edi.write_command import STANDARDS, WriteRequest

    if standard is not None and standard not in STANDARDS:
        sys.stderr.write(f"{file}: --standard {standard}: use x12 or edifact\n")
        raise typer.Exit(EXIT_INPUT)
    request = WriteRequest(file, standard, version, partner, consume, database_url)
    raise typer.Exit(run_write(request, sys.stdout, sys.stderr))
