"""``xref_app`` (mount as ``hub xref``): load crosswalk files, show what is loaded."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from hub.canonical.xref import KIND_MODELS, Crosswalk, load_rows
from hub.cli_errors import reported
from hub.config import get_settings
from hub.db import Database
from hub.yamlfile import DataFileError

xref_app = typer.Typer(help="Item, UoM and location crosswalks in the database.", no_args_is_help=True)

DatabaseOption = typer.Option(None, "--database-url", envvar="HUB_DATABASE_URL", help="Default: the hub's settings")


def _database(url: str | None) -> Database:
    return Database(url or get_settings().resolved_database_url)


@xref_app.command("load")
def load(
    file: Path = typer.Argument(..., help="CSV or YAML crosswalk file (see docs/crosswalks.md)"),
    kind: str | None = typer.Option(None, "--kind", help=f"Row kind of a CSV file: {', '.join(KIND_MODELS)}"),
    database_url: str | None = DatabaseOption,
) -> None:
    """Validate FILE completely, then write all its rows in one transaction (all or nothing)."""
    from hub.canonical.xref_files import read_xref_file

    try:
        rows = read_xref_file(file, kind)
    except DataFileError as exc:
        for problem in exc.problems:
            typer.echo(problem, err=True)
        raise typer.Exit(1) from None
    db = _database(database_url)
    try:
        with reported(f"loading {file}"), db.session() as session:
            counts = {name: load_rows(session, name, items) for name, items in rows.items()}
    except ValueError as exc:
        typer.echo(f"{file}: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        db.dispose()
    for name, count in counts.items():
        typer.echo(f"{name}: {count} row(s) loaded")


@xref_app.command("show")
def show(
    kind: list[str] = typer.Option(None, "--kind", help="Kinds to show (repeatable); default all"),
    database_url: str | None = DatabaseOption,
) -> None:
    """Print the loaded crosswalk rows as JSON lines, one per row, prefixed by their kind."""
    kinds = kind or list(KIND_MODELS)
    unknown = [k for k in kinds if k not in KIND_MODELS]
    if unknown:
        typer.echo(f"unknown kind(s) {', '.join(unknown)}; kinds: {', '.join(KIND_MODELS)}", err=True)
        raise typer.Exit(2)
    db = _database(database_url)
    try:
        with reported("reading crosswalks"):
            crosswalk = Crosswalk(db)
            for name in kinds:
                for row in crosswalk.rows(name):
                    typer.echo(f"{name} {json.dumps(row, default=str, sort_keys=True)}")
    finally:
        db.dispose()
