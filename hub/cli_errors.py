"""Turning expected failures of CLI commands into one clear line and exit code 1 (no traceback)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import NoReturn
from contextlib import contextmanager

import typer
from sqlalchemy.exc import SQLAlchemyError


@contextmanager
def reported(action: str) -> Iterator[None]:
    """Report database and file-system errors of ``action`` on stderr and exit 1."""
    try:
        yield
    except SQLAlchemyError as exc:
        # The first line names the cause; the statement and parameters stay out of the output.
        reason = str(exc.orig if getattr(exc, "orig", None) else exc).splitlines()[0]
        typer.echo(f"error: {action}: database error: {reason}", err=True)
        raise typer.Exit(1) from None
    except OSError as exc:
        typer.echo(f"error: {action}: {exc}", err=True)
        raise typer.Exit(1) from None


def fail(message: str, code: int = 1) -> NoReturn:
    """One line on stderr and the exit code: for a refusal the operator can act on."""
    typer.echo(message, err=True)
    raise typer.Exit(code)
