"""Command-line pieces of the connectors, mounted by ``hub.cli``:

- ``api`` (a command: ``hub api``): serve the inbound HTTP API with uvicorn;
- ``sftp_app`` (``hub sftp``): ``poll`` the SFTP channels;
- ``api_key_app`` (``hub partners api-key``): ``create``, ``list``, ``revoke`` partner API keys;
- ``security_app`` (``hub security``): ``events``, the refused attempts;
- ``acks_app`` (``hub acks``): ``overdue``, sent interchanges whose expected ack is late and
  sent documents whose business answer (855/ORDRSP) is.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated

import typer

from hub.cli_errors import reported
from hub.logsafe import configure_logging
from hub.operations.terminal import printable

sftp_app = typer.Typer(help="SFTP channels: poll partners' remote folders.", no_args_is_help=True)
api_key_app = typer.Typer(help="API keys of partners for the inbound API (stored hashed).", no_args_is_help=True)
security_app = typer.Typer(help="Refused inbound attempts (security events).", no_args_is_help=True)
acks_app = typer.Typer(help="Acknowledgements partners owe for what the hub sent.", no_args_is_help=True)


@sftp_app.callback()
@security_app.callback()
@acks_app.callback()
def _group() -> None:
    """(A callback keeps one-command apps as groups: `hub sftp poll`, not `hub sftp`.)"""


def _hub():
    from hub.app import Hub, RoutesInvalid

    hub = Hub()
    try:
        hub.routes  # noqa: B018 - validate before serving anything
    except RoutesInvalid as exc:
        typer.echo("route files have problems:\n" + "\n".join(f"  {p}" for p in exc.problems), err=True)
        raise typer.Exit(2) from None
    return hub


def api(
    port: Annotated[int | None, typer.Option(help="Default HUB_API_PORT")] = None,
    host: Annotated[str | None, typer.Option(help="Default HUB_API_HOST (127.0.0.1)")] = None,
    relay: Annotated[bool | None, typer.Option("--relay/--no-relay", help="Run the outbox relay here "
                                               "(default HUB_API_RELAY, on)")] = None,
) -> None:
    """Serve the inbound HTTP API (POST /api/v1/messages, /healthz, /readyz, /metrics, /docs), with
    the request limits of connectors.inbound.httpserver (HUB_API_HEADER_TIMEOUT ...)."""
    from connectors.inbound.api import ApiSettings, create_app
    from connectors.inbound.httpserver import api_server

    configure_logging()
    hub = _hub()
    with reported("preparing the database and broker"):
        hub.setup()
    from hub.cli import _load_registry, _start_routes  # registry and routes follow their files
    from hub.reload.follow import start_following

    _load_registry(hub)
    _start_routes(hub, "api")
    start_following(hub, "api")  # a route reload reaches the API without a restart (hub.reload)
    settings = ApiSettings()
    if relay is not None:
        settings.relay = relay
    api_server(create_app(hub, settings), settings, host=host or settings.host,
               port=port or hub.settings.api_port).run()


@sftp_app.command("poll")
def sftp_poll(
    channel: Annotated[list[str] | None, typer.Option("--channel", help="Only these channels (default: all)")] = None,
    once: Annotated[bool, typer.Option(help="One pass over each channel, then exit")] = False,
) -> None:
    """Poll the sftp: channels of the route files (safe pickup, like the file drop)."""
    from connectors.inbound.sftp import pollers_from
    from connectors.sftp import SftpError

    configure_logging()
    hub = _hub()
    with reported("preparing the database and broker"):
        hub.setup()
    try:
        pollers = pollers_from(hub, channel)
    except KeyError as exc:
        typer.echo(f"error: {exc.args[0]}", err=True)
        raise typer.Exit(1) from None
    if once:
        failed = False
        for poller in pollers:
            try:
                typer.echo(f"{poller.name}: {poller.poll_settled()} file(s) taken")
            except (SftpError, OSError, EOFError) as exc:
                typer.echo(f"{poller.name}: error: {printable(str(exc))}", err=True)  # the server's words
                failed = True
            finally:
                poller.close()
        raise typer.Exit(1 if failed else 0)
    from connectors.inbound.channels_follow import ChannelRunner
    from hub.cli import _start_routes
    from hub.reload.follow import start_following

    if not pollers:
        typer.echo("no sftp channels configured", err=True)
        raise typer.Exit(1)
    for poller in pollers:  # the runner starts its own, following the route generations
        poller.close()
    _start_routes(hub, "sftp")
    runner = ChannelRunner(hub, filedrop=False, only=channel).start()
    follower = start_following(hub, "sftp", listeners=[runner.on_generation])
    try:
        while True:  # a reload may stop every poller and start new ones: run until stopped
            time.sleep(1)
    except KeyboardInterrupt:
        follower.stop()
        runner.stop()


def _db():
    from hub.config import get_settings
    from hub.db import Database

    return Database(get_settings().resolved_database_url)


@api_key_app.command("create")
def api_key_create(
    partner_id: Annotated[str, typer.Argument(help="Partner id, e.g. P-0042")],
    label: Annotated[str | None, typer.Option(help="What the key is for (shown in listings)")] = None,
) -> None:
    """Create a key for a partner and print it ONCE (only its hash is stored)."""
    from connectors.security import create_api_key
    from hub.deadletters import who

    db = _db()
    try:
        with reported(f"creating an API key for {partner_id}"):
            from hub.console.audit import audited, cli_principal

            # In the audit trail like the console's: who made a key for whom (never the key).
            issued = audited(db, cli_principal(), "create_api_key",
                             lambda: create_api_key(db, partner_id, label=label, by=who()), reason=None,
                             target_type="partner", targets=[partner_id],
                             done=lambda k: ([partner_id], {"key_id": k.key_id, "label": label}))
    except LookupError as exc:
        typer.echo(f"error: {exc.args[0]}", err=True)
        raise typer.Exit(1) from None
    finally:
        db.dispose()
    typer.echo(f"key id {issued.key_id} for partner {issued.partner_id} (shown once; store it now):")
    typer.echo(issued.key)


@api_key_app.command("list")
def api_key_list(partner_id: Annotated[str | None, typer.Argument(help="Only this partner")] = None) -> None:
    """Key ids per partner with their state (never the keys)."""
    from connectors.security import api_keys

    db = _db()
    try:
        with reported("listing API keys"):
            rows = api_keys(db, partner_id)
    finally:
        db.dispose()
    if not rows:
        typer.echo("no API keys")
    for k in rows:
        state = f"revoked {k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "active"
        used = f"last used {k.last_used_at:%Y-%m-%d %H:%M}" if k.last_used_at else "never used"
        typer.echo(f"{k.key_id}  {k.partner_id:<12} {state:<24} {used:<27} {printable(k.label)}")


@api_key_app.command("revoke")
def api_key_revoke(key_id: Annotated[str, typer.Argument(help="Key id from `hub partners api-key list`")]) -> None:
    """Revoke a key at once."""
    from connectors.security import revoke_api_key

    db = _db()
    try:
        with reported(f"revoking API key {key_id}"):
            from hub.console.audit import audited, cli_principal

            done = audited(db, cli_principal(), "revoke_api_key", lambda: revoke_api_key(db, key_id), reason=None,
                           target_type="api_key", targets=[key_id])
    finally:
        db.dispose()
    if not done:
        typer.echo(f"error: no active API key {key_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {key_id}")


@security_app.command("events")
def security_events_cmd(
    kind: Annotated[str | None, typer.Option(help="Only this kind (sender_not_owned, auth_failed ...)")] = None,
    limit: int = 50,
) -> None:
    """The newest refused attempts: when, what, who authenticated, what was claimed, from where."""
    from connectors.security import security_events

    db = _db()
    try:
        with reported("listing security events"):
            rows = security_events(db, kind=kind, limit=limit)
    finally:
        db.dispose()
    if not rows:
        typer.echo("no security events")
    for e in rows:
        # What was claimed and why it was refused come from the refused message: escaped.
        typer.echo(f"{e.at:%Y-%m-%d %H:%M:%S}  {e.kind:<22} partner={printable(e.partner_id) or '-':<10} "
                   f"claimed={printable(e.claimed) or '-':<24} from={printable(e.remote_addr) or '-':<15} "
                   f"{printable(e.reason)}" + (f"  (bytes kept: sha256 {e.sha256[:16]}…)" if e.sha256 else ""))


@acks_app.command("overdue")
def acks_overdue(
    fail: Annotated[bool, typer.Option("--fail", help="Exit 1 when any ack is overdue (for monitoring)")] = False,
    at: Annotated[datetime | None, typer.Option(help="Judge as of this time (UTC), e.g. tomorrow's 08:00")] = None,
    record: Annotated[bool, typer.Option("--record", help="Put each late clock on the review queue once "
                                         "(ack_missing_or_negative, po_not_acknowledged, asn_missing, "
                                         "invoice_without_receipt)")] = False,
) -> None:
    """Sent interchanges whose 997/999/TA1/CONTRL has not come within the partner's window, sent
    documents whose business answer (855/ORDRSP for a PO) has not, POs without a ship notice
    by the agreed time or their delivery date, invoices without a goods receipt (hub.sla)."""
    from connectors.edi_out import overdue_acks
    from hub.documents import overdue_answers
    from hub.sla import late, record_clocks

    if record and at is not None:
        typer.echo("--record judges by the clock: leave out --at (a record made 'as of' another time would be "
                   "early or late)", err=True)
        raise typer.Exit(2)
    db = _db()
    now = at.replace(tzinfo=at.tzinfo or UTC) if at else None
    try:
        with reported("listing overdue acknowledgements"):
            rows = overdue_acks(db, now=now)
            answers = overdue_answers(db, now=now)
            clocks = [c for c in late(db, now=now) if c.clock in ("ship_notice", "receipt")]
            recorded = len(record_clocks(db, now=now)) if record else 0
    finally:
        db.dispose()
    if not rows and not answers and not clocks:
        typer.echo("no overdue acknowledgements")
    for r in rows:
        hours = r["overdue_seconds"] / 3600
        typer.echo(f"{r['partner_id'] or '-':<10} {r['standard']:<8} {printable(r['receiver']):<22} control "
                   f"{printable(r['control_number']):<10} {r['document_type']} {printable(r['document_key']) or '-':<16} "
                   f"sent {r['sent_at']:%Y-%m-%d %H:%M}"
                   f"  {r['ack_expected']} due {r['due_at']:%Y-%m-%d %H:%M}  overdue {r['overdue_seconds'] / 3600:.1f} h"
                   f"  message {r['message_id']}")
    for r in answers:
        typer.echo(f"{r['partner_id']:<10} {'business':<8} {r['document_type']} {printable(r['document_key']):<16} sent "
                   f"{r['sent_at']:%Y-%m-%d %H:%M}  {r['answer_type']} due {r['due_at']:%Y-%m-%d %H:%M}  overdue "
                   f"{r['overdue_seconds'] / 3600:.1f} h  message {r['message_id']}")
    for c in clocks:
        typer.echo(f"{c.partner_id or '-':<10} {'clock':<8} {c.document_type} {printable(c.document_key):<16} "
                   f"{c.owed} due {c.due_at:%Y-%m-%d %H:%M}  overdue {c.overdue_hours:.1f} h  message {c.message_id}")
    if recorded:
        typer.echo(f"recorded {recorded} late clock(s) on the review queue (hub exceptions list)")
    if (rows or answers or clocks) and fail:
        raise typer.Exit(1)
