"""Command-line tools of the canonical model: ``schema_app`` (mount as ``hub schema``).

The xref and partner apps live beside their modules (``hub.canonical.xref_cli``,
``hub.partners_cli``)."""

from __future__ import annotations

from pathlib import Path

import typer

from hub.canonical.docs import write_docs
from hub.cli_errors import reported
from hub.canonical.schema import SchemaDirError, compare_dirs, export_schemas

schema_app = typer.Typer(help="Canonical document schemas: export, compatibility check, docs.", no_args_is_help=True)


@schema_app.command("export")
def export(directory: Path = typer.Argument(..., help="Folder to write <document_type>.schema.json files into")) -> None:
    """Write one JSON Schema file per canonical document type."""
    with reported(f"writing schemas to {directory}"):
        paths = export_schemas(directory)
    for path in paths:
        typer.echo(str(path))


@schema_app.command("check")
def check(
    old_dir: Path = typer.Argument(..., help="Schemas of the released version"),
    new_dir: Path = typer.Argument(..., help="Schemas of the candidate version"),
) -> None:
    """Exit 1 when NEW breaks consumers of OLD (removed field, newly required, narrowed type)."""
    try:
        findings = compare_dirs(old_dir, new_dir)
    except SchemaDirError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    for finding in findings:
        typer.echo(str(finding))
    breaking = sum(f.breaking for f in findings)
    typer.echo(f"{breaking} breaking, {len(findings) - breaking} additive change(s)")
    if breaking:
        raise typer.Exit(1)


@schema_app.command("docs")
def docs(output: Path = typer.Option(Path("docs/canonical-model.md"), "--output", "-o", help="Markdown file to write")) -> None:
    """Regenerate the canonical model reference with an example of every document type."""
    with reported(f"writing {output}"):
        typer.echo(str(write_docs(output)))
