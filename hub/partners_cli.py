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
            # Like every hub process at start: on a fresh data dir nothing else has made the tables yet.
            registry.db.create_schema()
            from hub.console.audit import audited, cli_principal

            # In the audit trail like the console's "reload": who changed the registry, when.
            count = audited(registry.db, cli_principal(), "reload_partners",
                            lambda: registry.load(partners, str(path)), reason=None, target_type="partner_registry",
                            targets=[str(path)], done=lambda n: ([str(path)], {"partners": n}))
    finally:
        registry.db.dispose()
    typer.echo(f"{count} partner(s) loaded from {path}")


@partners_app.command("promote")
def promote(
    partner_id: str = typer.Argument(..., help="partner id"),
    reason: str = typer.Option(..., "--reason", "-r", help="Why (recorded), e.g. the test cycle that passed"),
    file: Path | None = typer.Option(None, "--file", help="Registry file; default <routes_dir>/partners.yaml"),
    database_url: str | None = DatabaseOption,
) -> None:
    """Take a partner out of testing (the test lane): its status becomes ACTIVE in the registry
    file and the store, so its production interchanges are accepted and its documents go to the
    production endpoints. Recorded in the audit trail."""
    from hub.console.audit import audited, cli_principal
    from hub.partners_onboard import promote_partner
    from hub.routes.loader import RouteSet

    path = _file(file)
    routes = RouteSet.load(get_settings().routes_dir)
    registry = _registry(database_url)
    try:
        def run():
            partner, problems = promote_partner(path, partner_id, routes)
            if partner is None:
                raise ValueError("\n".join(problems))
            registry.load(_read(path), str(path))
            return partner

        with reported(f"promoting {partner_id}"):
            try:
                audited(registry.db, cli_principal(), "promote_partner", run, reason=reason, target_type="partner",
                        targets=[partner_id])
            except ValueError as exc:
                typer.echo(str(exc), err=True)
                raise typer.Exit(1) from None
    finally:
        registry.db.dispose()
    typer.echo(f"{partner_id} is ACTIVE: production interchanges are accepted and go to production endpoints")


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
def show(partner_id: str = typer.Argument(..., help="partner id"), database_url: str | None = DatabaseOption,
         as_json: bool = typer.Option(False, "--json", help="Only the stored profile, as JSON"),
         days: int = typer.Option(30, help="Traffic and acknowledgements of the last DAYS days")) -> None:
    """One partner: its identities and agreement, then its traffic (messages by status), the
    acknowledgements it owes and sent, and its AS2 receipts (exit 1 if unknown)."""
    from hub.partners_onboard import activity

    registry = _registry(database_url)
    try:
        with reported(f"reading partner {partner_id}"):
            partner = registry.by_id(partner_id)
            seen = activity(registry.db, partner, days) if partner is not None and not as_json else None
    finally:
        registry.db.dispose()
    if partner is None:
        typer.echo(f"no partner {partner_id!r} in the store (add it to partners.yaml: hub partners add)", err=True)
        raise typer.Exit(1)
    profile = json.dumps(partner.model_dump(mode="json", exclude_none=True), indent=2)
    if as_json:
        typer.echo(profile)
        return
    typer.echo(profile)
    counts = lambda c: ", ".join(f"{k or '-'} {v}" for k, v in sorted(c.items(), key=str)) or "none"  # noqa: E731
    last = seen.last_received.strftime("%Y-%m-%d %H:%M:%S UTC") if seen.last_received else "never"
    typer.echo(f"\ntraffic, last {days} days (last received {last}):\n  messages: {printable(counts(seen.messages))}\n"
               f"  interchanges received: {counts(seen.interchanges_in)}\n"
               f"  acknowledgements of what the hub sent: {counts(seen.acks_out)}\n"
               f"  AS2 (direction MDN status): {counts(seen.as2)}")


@partners_app.command("add")
def add(
    partner_id: str = typer.Option(..., "--id", prompt="Partner id (the hub's key, e.g. P-0050)"),
    name: str = typer.Option(..., prompt="Name"),
    standard: str = typer.Option("x12", prompt="Standard (x12, edifact, none)", help="x12, edifact or none"),
    qualifier: str | None = typer.Option(None, help="ISA05 qualifier (default ZZ) / UNB identification code qualifier"),
    identifier: str | None = typer.Option(None, help="ISA06 / UNB sender id (asked for when the standard needs it)"),
    version: str | None = typer.Option(None, help="GS08 (default 004010) / UNH directory (default D96A)"),
    delimiters: str | None = typer.Option(None, help="element,component,segment[,repetition], e.g. '*,>,~,^'"),
    document: list[str] = typer.Option([], "--document", help="A document type it sends (855, 856, DESADV ...); repeat"),
    ack: str | None = typer.Option(None, help="Acknowledgement agreed: 997, 999, TA1 or CONTRL"),
    ack_within: str = typer.Option("24h", help="Deadline of that acknowledgement (30m, 24h, 2d)"),
    ack_endpoint: str | None = typer.Option(None, help="Endpoint acknowledgements go back through"),
    role: list[str] = typer.Option(["SUPPLIER"], "--role", help="SUPPLIER DISTRIBUTOR MANUFACTURER ...; repeat"),
    status: str = typer.Option("ONBOARDING", help="ONBOARDING (default) or ACTIVE"),
    as2_id: str | None = typer.Option(None, help="The partner's AS2 name"),
    as2_certificate: str | None = typer.Option(None, help="Its certificate file, relative to the registry's folder"),
    as2_url: str | None = typer.Option(None, help="Its AS2 URL"),
    file: Path | None = typer.Option(None, "--file", help="Registry file; default <routes_dir>/partners.yaml"),
) -> None:
    """Onboard a partner: write its registry entry (only if the registry, with it, passes every
    check the hub runs at start), then print the next steps (API key, SFTP folder, AS2 URL and
    the hub's certificate to send)."""
    from hub.partners_onboard import NewPartner, add_partner, next_steps
    from hub.routes.loader import RouteSet

    if standard in ("x12", "edifact") and not identifier:
        identifier = typer.prompt("ISA06 sender id" if standard == "x12" else "UNB sender id")
    parts = delimiters.split(",") if delimiters else None
    new = NewPartner(id=partner_id, name=name, roles=role, standard=standard, qualifier=qualifier,
                     identifier=identifier, version=version, documents=document, ack=ack, ack_within=ack_within,
                     ack_endpoint=ack_endpoint, status=status, as2_id=as2_id, as2_certificate=as2_certificate,
                     as2_url=as2_url, delimiters=dict(zip(("element", "component", "segment", "repetition"), parts,
                                                          strict=False)) if parts else None)
    settings = get_settings()
    routes = RouteSet.load(settings.routes_dir)
    path = _file(file)
    partner, problems = add_partner(path, new, routes)
    for problem in problems:
        typer.echo(problem, err=True)
    if partner is None:
        typer.echo(f"nothing written to {path}", err=True)
        raise typer.Exit(1)
    typer.echo(f"{partner.id} ({printable(partner.name)}) added to {path}\nnext steps:")
    for step in next_steps(partner, settings, routes):
        typer.echo(f"  - {step}")
