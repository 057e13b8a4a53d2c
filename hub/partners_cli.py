"""``partners_app`` (mount as ``hub partners``): validate, load, list and show partners."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from hub.cli_errors import reported
from hub.config import get_settings
from hub.db import Database
from hub.operations.terminal import printable
from hub.partners import PartnerRegistry, read_partners_file
from hub.yamlfile import DataFileError

partners_app = typer.Typer(help="The partner registry (routes/partners.yaml and the store).", no_args_is_help=True)

DatabaseOption = typer.Option(None, "--database-url", envvar="HUB_DATABASE_URL", help="Default: the hub's settings")
FileArgument = typer.Argument(None, help="Partners YAML; default <routes_dir>/partners.yaml")


def _file(file: Path | None) -> Path:
    return file or get_settings().routes_dir / "partners.yaml"


def _read(file: Path):
    try:
        return read_partners_file(file)
    except DataFileError as exc:
        for problem in exc.problems:
            typer.echo(problem, err=True)
        raise typer.Exit(1) from None


def _registry(url: str | None) -> PartnerRegistry:
    return PartnerRegistry(Database(url or get_settings().resolved_database_url))


@partners_app.command("validate")
def validate(
    file: Path | None = FileArgument,
    routes: Path | None = typer.Option(None, "--routes", help="Route files the registry refers to; default "
                                       "HUB_ROUTES_DIR"),
) -> None:
    """Check the file and its references (endpoints, channels and as2 endpoints of the route
    files, certificate files); every problem is printed as file:line: field: reason (exit 1)."""
    from hub.partner_sync import check_registry
    from hub.routes.loader import RouteSet

    path = _file(file)
    check = check_registry(path, RouteSet.load(routes or get_settings().routes_dir))
    for warning in check.warnings:
        typer.echo(f"warning: {warning}", err=True)
    for problem in check.problems:
        typer.echo(problem, err=True)
    if check.problems:
        raise typer.Exit(1)
    typer.echo(f"{path}: {len(check.partners)} partner(s) OK")


@partners_app.command("load")
def load(file: Path | None = FileArgument, database_url: str | None = DatabaseOption) -> None:
    """Validate the file, then insert or replace its partners in the store."""
    path = _file(file)
    partners = _read(path)
    registry = _registry(database_url)
    try:
        with reported(f"loading {path}"):
            from hub.console.audit import audited, cli_principal

            # In the audit trail like the console's "reload": who changed the registry, when.
            count = audited(registry.db, cli_principal(), "reload_partners",
                            lambda: registry.load(partners, str(path)), reason=None, target_type="partner_registry",
                            targets=[str(path)], done=lambda n: ([str(path)], {"partners": n}))
    finally:
        registry.db.dispose()
    typer.echo(f"{count} partner(s) loaded from {path}")


@partners_app.command("list")
def list_partners(database_url: str | None = DatabaseOption) -> None:
    """One line per partner in the store: id, status, roles, name, EDI identities."""
    registry = _registry(database_url)
    try:
        with reported("listing partners"):
            for partner in registry.all():
                ids = [f"ISA {partner.x12.isa_qualifier}:{partner.x12.isa_id}"] if partner.x12 else []
                ids += [f"UNB {partner.edifact.unb_id}:{partner.edifact.unb_qualifier or ''}"] if partner.edifact else []
                roles = ",".join(r.value for r in partner.roles)
                typer.echo(f"{partner.id}\t{partner.status.value}\t{roles}\t{printable(partner.name)}\t"
                           f"{printable(' '.join(ids))}")
    finally:
        registry.db.dispose()


@partners_app.command("show")
def show(partner_id: str = typer.Argument(..., help="partner id"), database_url: str | None = DatabaseOption) -> None:
    """The stored profile of one partner as JSON (exit 1 if unknown)."""
    registry = _registry(database_url)
    try:
        with reported(f"reading partner {partner_id}"):
            partner = registry.by_id(partner_id)
    finally:
        registry.db.dispose()
    if partner is None:
        typer.echo(f"no partner {partner_id!r} in the store (load it with `hub partners load`)", err=True)
        raise typer.Exit(1)
    typer.echo(json.dumps(partner.model_dump(mode="json", exclude_none=True), indent=2))
