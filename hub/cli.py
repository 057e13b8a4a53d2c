"""``hub``: the command line. Every command reads its configuration from HUB_* variables."""

from __future__ import annotations

import json
import logging
import socket
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from celery import bootsteps

from hub.app import Hub, RoutesInvalid
from hub.cli_errors import fail
from hub.operations.terminal import printable

app = typer.Typer(help="Supply Hub: healthcare supply-chain integration hub.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
routes_app = typer.Typer(help="Route files: validate, schema, test, reload without a restart.", no_args_is_help=True)
db_app = typer.Typer(help="The hub's database.", no_args_is_help=True)
documents_app = typer.Typer(help="Business documents across messages (a PO number from order to invoice).",
                            no_args_is_help=True)
exceptions_app = typer.Typer(help="The review queue: business exceptions (unknown item, duplicate, price ...).",
                             no_args_is_help=True)
app.add_typer(routes_app, name="routes")
app.add_typer(exceptions_app, name="exceptions")
app.add_typer(documents_app, name="documents")
app.add_typer(db_app, name="db")


def _mount_component_apps() -> None:
    """Sub-commands that live with their component (operations, canonical model, crosswalks, partners)."""
    from hub.operations.cli import dlq_app, messages_app, replay, trace

    app.add_typer(messages_app, name="messages")
    app.add_typer(dlq_app, name="dlq")
    app.command("trace")(trace)
    app.command("replay")(replay)
    from edi.cli import app as edi_app
    from hub.canonical.cli import schema_app
    from hub.canonical.xref_cli import xref_app
    from hub.partners_cli import partners_app
    from hub.reload.cli import reload as routes_reload, status as routes_status

    routes_app.command("reload")(routes_reload)
    routes_app.command("status")(routes_status)

    app.add_typer(edi_app, name="edi", help="EDI (X12, EDIFACT): translate to canonical JSON, show acks.")
    app.add_typer(schema_app, name="schema")
    app.add_typer(xref_app, name="xref")
    app.add_typer(partners_app, name="partners")

    from connectors.cli import acks_app, api, api_key_app, security_app, sftp_app

    partners_app.add_typer(api_key_app, name="api-key")
    app.add_typer(sftp_app, name="sftp")
    app.add_typer(security_app, name="security")
    app.add_typer(acks_app, name="acks")
    app.command("api")(api)

    from hub.console.cli import audit, operators_app

    app.add_typer(operators_app, name="operators")
    app.command("audit")(audit)

    from hub.simulator.cli import app as simulate_app

    app.add_typer(simulate_app, name="simulate")
    from hub.recall_cli import recall_app

    app.add_typer(recall_app, name="recall")

    from connectors.as2.cli import as2_app

    app.add_typer(as2_app, name="as2")


_mount_component_apps()


def _fail(message: str, code: int = 1) -> None:
    fail(message, code)


def _hub() -> Hub:
    from hub.reload.follow import take_in_force

    hub = Hub()
    if take_in_force(hub) is not None:
        return hub  # the routes in force (hub.reload), whatever the folder holds now
    try:
        hub.routes  # noqa: B018 - load and validate now, to fail before doing anything
    except RoutesInvalid as exc:
        _fail("route files have problems:\n" + "\n".join(f"  {p}" for p in exc.problems), 2)
    return hub


def _load_registry(hub: Hub) -> str:
    """The partner registry file into the store (hub.partner_sync); refuses to start on an
    invalid file, naming each problem's file:line. Returns the line saying what changed."""
    from hub.partner_sync import RegistryInvalid, sync_partners
    from hub.reload.follow import registry_routes

    routes = registry_routes(hub)
    if routes is None:
        line = (f"partner registry: the one loaded from {hub.generation.directory} stays in force "
                f"({hub.settings.routes_dir} is not the folder of the route generation in force)")
        logging.getLogger("hub.partners").warning("%s", line)
        return line
    try:
        change = sync_partners(hub, routes)
    except RegistryInvalid as exc:
        _fail("the partner registry has problems:\n" + "\n".join(f"  {p}" for p in exc.problems), 2)
    line = change.summary() if change else f"no partner registry in {hub.settings.routes_dir}"
    logging.getLogger("hub.partners").info("%s", line)
    if change is not None:
        from hub.partner_sync import RegistryWatcher, record_change

        record_change(hub, change, "start")
        # Edits to the file are loaded while the process runs (no restart), checked the same way.
        RegistryWatcher(hub).start()
    return line


def _start_routes(hub: Hub, kind: str) -> str:
    """The route files in force as a generation every running process follows (hub.reload);
    refuses to start on files this process cannot run, naming each file:line."""
    from hub.reload.cli import start_routes

    return start_routes(hub, kind)


def _logging(level: str = "INFO") -> None:
    from hub.logsafe import configure_logging

    configure_logging(level)  # partner text in a log line is escaped: it cannot forge lines


# -- running ---------------------------------------------------------------------------------

class FileDropStep(bootsteps.StartStopStep):
    """Watches the inbox folders and polls the SFTP channels inside the worker's main process
    (for ``hub run``); both follow the route generations (connectors.inbound.channels_follow)."""

    requires = {"celery.worker.components:Pool"}

    def start(self, worker) -> None:
        from connectors.inbound.channels_follow import ChannelRunner
        from hub import worker as hub_worker

        self.runner = ChannelRunner(hub_worker._hub()).start()

    def stop(self, worker) -> None:
        if getattr(self, "runner", None):
            self.runner.stop()


@app.command()
def run(
    demo_erp: Annotated[bool, typer.Option("--demo-erp", help="Also start the demo ERP on 127.0.0.1:8099")] = False,
    concurrency: Annotated[int | None, typer.Option(help="Worker processes")] = None,
) -> None:
    """Start everything in one process: file watcher, outbox relay and workers."""
    _logging()
    hub = _hub()
    hub.setup()
    registry = _load_registry(hub)  # first: its banner line says what the file added
    generation = _start_routes(hub, "run")
    stub = None
    if demo_erp:
        from hub.stubs import ErpStub

        stub = ErpStub(port=8099, folder=hub.settings.data_dir / "demo-erp").start()
    inbox = hub.settings.inbox_dir
    for name in hub.routes.channels:
        (inbox / name).mkdir(parents=True, exist_ok=True)
    s = hub.settings
    console = _console_banner(hub)
    typer.echo(
        f"\nSupply Hub is running.\n"
        f"  database : {s.resolved_database_url}\n"
        f"  broker   : {s.resolved_broker_url}\n"
        f"  routes   : {s.routes_dir.resolve()} ({len(hub.routes.routes)} routes, {len(hub.routes.endpoints)} endpoints;"
        f" {generation})\n"
        f"  partners : {registry}\n"
        + (f"  demo ERP : {stub.url} (documents it applies land in {s.data_dir / 'demo-erp'})\n" if stub else "")
        + console
        + "\nPush a file through it, from another terminal:\n"
        f"  cp examples/cycle-counts/counts-2026-11-20.csv {inbox / 'cycle-counts'}/\n"
        f"  .venv/bin/hub messages          # newest messages and their status\n"
        f"  .venv/bin/hub trace <message id>\n"
    )
    from connectors.inbound.channels_follow import on_generation
    from hub.console.server import ConsoleStep
    from hub.reload.worker import follow_in_worker
    from hub.worker import start_worker

    follow_in_worker(hub, kind="run", listeners=[on_generation])
    try:
        code = start_worker(hub, extra_steps=[FileDropStep, ConsoleStep], concurrency=concurrency)
    finally:
        if stub:
            stub.stop()
    raise typer.Exit(code)


def _console_banner(hub: Hub) -> str:
    """The console's lines of the banner; the first operator is created (and shown) on a fresh hub."""
    from connectors.inbound.api import ApiSettings
    from hub.console.bootstrap import FIRST, ensure_first_admin, password_file

    url = f"http://{ApiSettings().host}:{hub.settings.api_port}/"
    created = ensure_first_admin(hub)
    login = (f"log in as {FIRST}, password {created} (also in {password_file(hub)})" if created
             else f"log in as your operator ({FIRST}'s first password: {password_file(hub)})")
    return f"  console  : {url}  {login}\n  API docs : {url}docs\n"


@app.command()
def worker(
    route: Annotated[list[str] | None, typer.Option("--route", help="Consume only these routes")] = None,
    endpoint: Annotated[list[str] | None, typer.Option("--endpoint", help="Consume only these endpoints")] = None,
    concurrency: Annotated[int | None, typer.Option(help="Prefork processes")] = None,
    hostname: Annotated[str | None, typer.Option("--hostname", "-n", help="Celery node name, unique per "
                                                 "worker (default <namespace>-<pid>@<host>)")] = None,
    loglevel: str = "INFO",
) -> None:
    """Run a Celery worker for the route and endpoint queues (prefork, late acks)."""
    _logging(loglevel)
    hub = _hub()
    if hostname is not None and not _own_node_name(hub, hostname):
        raise typer.BadParameter(f"{hostname!r}: a node name here is {hub.settings.namespace}-NAME@"
                                 f"{socket.gethostname()} (hub health recognises its workers by that form)",
                                 param_hint="--hostname")
    hub.setup()
    _load_registry(hub)
    logging.getLogger("hub.routes").info("%s", _start_routes(hub, "worker"))
    from hub.reload.worker import follow_in_worker
    from hub.worker import start_worker

    only_routes = route or (None if not endpoint else [])
    only_endpoints = endpoint or (None if not route else [])
    follow_in_worker(hub, routes=only_routes, endpoints=only_endpoints)
    raise typer.Exit(start_worker(hub, routes=only_routes, endpoints=only_endpoints, concurrency=concurrency,
                                  loglevel=loglevel, hostname=hostname))


def _own_node_name(hub: Hub, name: str) -> bool:
    prefix, _, host = name.partition("@")
    return prefix.startswith(f"{hub.settings.namespace}-") and len(prefix) > len(hub.settings.namespace) + 1 \
        and host == socket.gethostname()


@app.command()
def filedrop() -> None:
    """Watch the inbox folders and ingest complete files (the ingest process in production)."""
    _logging()
    hub = _hub()
    hub.setup()
    _load_registry(hub)
    logging.getLogger("hub.routes").info("%s", _start_routes(hub, "filedrop"))
    from connectors.inbound.channels_follow import ChannelRunner
    from hub.reload.follow import start_following

    runner = ChannelRunner(hub, sftp=False).start()
    follower = start_following(hub, "filedrop", listeners=[runner.on_generation])
    try:
        runner.drop_thread.join()
    except KeyboardInterrupt:
        follower.stop()
        runner.stop()


@app.command()
def relay(once: bool = False) -> None:
    """Republish outbox rows the broker has not confirmed (normally inside every worker)."""
    _logging()
    hub = _hub()
    from hub.outbox import Relay, relay_once

    if once:
        typer.echo(f"republished {relay_once(hub)} message(s)")
        return
    from hub.reload.follow import start_following, take_in_force

    take_in_force(hub)  # the statuses it refreshes expect the routes in force (hub.reload)
    start_following(hub, "relay")
    r = Relay(hub)
    r.start()
    try:
        r.join()
    except KeyboardInterrupt:
        r.stop()


@app.command()
def flower(port: Annotated[int | None, typer.Option(help="Default HUB_FLOWER_PORT")] = None) -> None:
    """Start Flower (Celery monitoring) against the configured broker: only with authentication
    (FLOWER_BASIC_AUTH or Flower's OAuth), on 127.0.0.1 unless HUB_FLOWER_ADDRESS says otherwise,
    with the broker's management API for queue depths (dead-letter queues included)."""
    from hub.monitoring import FlowerRefused, list_hub_queues, plan

    hub = _hub()
    try:
        started = plan(hub.settings, port)
    except FlowerRefused as exc:
        _fail(f"hub flower: {exc}", 2)
    from hub.reload.follow import take_in_force
    from hub.worker import build_worker_app

    take_in_force(hub)  # the queues of the route generation in force, not of this folder (read once)
    celery = build_worker_app(hub)
    list_hub_queues([q.name for q in hub.topology.work_queues() + hub.topology.dead_letter_queues()])
    typer.echo(f"Flower on http://{started.address}:{started.port} ({started.auth} authentication)", err=True)
    celery.start(started.arguments())


@app.command()
def push(
    file: Path,
    format: Annotated[str | None, typer.Option(help="Default: detected")] = None,
    doctype: Annotated[str | None, typer.Option(help="Default: from the EDI envelope")] = None,
    sender: Annotated[str | None, typer.Option(help="Default: from the EDI envelope, else 'cli'")] = None,
) -> None:
    """Store and publish one file, as an inbound connector would."""
    from hub.ingest import Inbound, Ingest, MessageTooLarge
    from hub.sniff import peek

    hub = _hub()
    hub.setup()
    try:
        raw = file.read_bytes()
    except OSError as exc:
        _fail(f"{file}: {exc.strerror or exc}")
    seen = peek(raw)
    try:
        acc = Ingest(hub).accept(Inbound(raw=raw, format=format or seen.format, doctype=doctype or seen.doctype or "unknown",
                                         sender=sender or seen.sender or "cli", channel="cli", filename=file.name))
    except MessageTooLarge as exc:
        _fail(f"{file}: {exc}")
    state = "published" if acc.published else "stored; the relay will publish it when the broker is back"
    if acc.published and not acc.routed:
        state = "stored, but no route matches " + acc.routing_key
    typer.echo(f"{acc.message_id}  {printable(acc.routing_key)}  {printable(state)}")


# -- business documents ----------------------------------------------------------------------

@documents_app.callback()
def _documents() -> None:
    """(A callback keeps the one-command group a group: `hub documents trail`.)"""


@documents_app.command("trail")
def documents_trail(
    number: Annotated[str, typer.Argument(help="A PO, ASN, invoice or receipt number")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of lines")] = False,
) -> None:
    """Every document that carries NUMBER (order, ack, ship notice, receipt, invoice), oldest first.

    Each line: when, the document, where NUMBER stands in it, route, message, sender, and where
    it was delivered (or that it is held for review)."""
    from dataclasses import asdict

    from hub.documents import format_trail, trail

    hub = _hub()
    entries = trail(hub.db, number)
    if as_json:
        typer.echo(json.dumps([asdict(e) for e in entries], indent=2, default=str))
    else:
        typer.echo(format_trail(number, entries))
        from hub.sla import clocks_for

        for line in clocks_for(hub.db, number):  # the SLA clocks the number's partner agreed (hub.sla)
            typer.echo(printable(line))


# -- review queue ----------------------------------------------------------------------------

@exceptions_app.command("list")
def exceptions_list(
    status: Annotated[str, typer.Option(help="open, resolved or all")] = "open",
    kind: Annotated[str | None, typer.Option(help="Only this kind (unknown_item, duplicate_document ...)")] = None,
    partner: Annotated[str | None, typer.Option(help="Only this partner id")] = None,
    document: Annotated[str | None, typer.Option(help="Only this document key (PO, ASN or invoice number ...)")] = None,
    message: Annotated[str | None, typer.Option(help="Only exceptions of this message")] = None,
    since: Annotated[datetime | None, typer.Option(help="Only those recorded at/after this time (UTC)")] = None,
    limit: int = 100,
) -> None:
    """Business exceptions, newest first: id, time, severity, kind, document, message id, reason."""
    from datetime import UTC

    from hub.review import ExceptionFilter, list_exceptions

    hub = _hub()
    query = ExceptionFilter(status=None if status == "all" else status, kind=kind, partner_id=partner,
                            document_key=document, message_id=message, limit=limit,
                            since=since.replace(tzinfo=since.tzinfo or UTC) if since else None)
    try:
        rows = list_exceptions(hub.db, query)
    except ValueError as exc:
        _fail(str(exc))
    if not rows:
        typer.echo(f"no {'' if status == 'all' else status + ' '}business exceptions")
    for row in rows:
        # Document keys and reasons quote what partners sent: escaped, they cannot forge lines.
        document_ref = printable(f"{row.document_type or '-'} {row.document_key or '-'}")
        typer.echo(f"{row.id}  {row.created_at.strftime('%Y-%m-%d %H:%M:%S')}  {row.severity:<5} {row.status:<8} "
                   f"{row.kind:<26} {document_ref:<36} message {row.message_id or '-'}  {printable(row.message[:100])}")


@exceptions_app.command("show")
def exceptions_show(exception_id: str) -> None:
    """One exception as JSON (section C number, offending value, detail), then its message's trace."""
    from hub.review import describe, get_exception

    hub = _hub()
    try:
        row = get_exception(hub.db, exception_id)
    except KeyError as exc:
        _fail(str(exc.args[0]))
    _echo_with_trace(hub, describe(row), row.message_id)


@exceptions_app.command("resolve")
def exceptions_resolve(
    ids: Annotated[list[str], typer.Argument(help="Exception ids (hub exceptions list)")],
    reason: Annotated[str, typer.Option("--reason", "-r", help="What was done (recorded)")] = ...,
    rerun: Annotated[bool, typer.Option("--rerun", help="Run their messages through their routes again "
                                        "(after fixing the cause: crosswalk, contract, partner entry)")] = False,
    by: Annotated[str | None, typer.Option(help="Who (recorded); default HUB_OPERATOR or the OS user")] = None,
) -> None:
    """Resolve exceptions, recording who and why; --rerun re-processes their messages."""
    from hub.console.audit import audited, cli_principal
    from hub.review import resolve

    hub = _hub()
    principal = cli_principal(by)
    try:
        rerun_ids = audited(hub.db, principal, "resolve_exceptions",
                            lambda: resolve(hub, ids, by=principal.name, why=reason, rerun=rerun),
                            reason=reason, target_type="exception", targets=ids,
                            done=lambda done: (ids, {"rerun": rerun, "rerun_messages": done}))
    except (KeyError, ValueError) as exc:
        _fail(str(exc.args[0]))
    typer.echo(f"resolved {len(ids)} exception(s)")
    if rerun_ids:
        typer.echo(f"re-ran message(s) through their routes: {', '.join(rerun_ids)}")


def _echo_with_trace(hub: Hub, record: dict, message_id: str | None) -> None:
    """A record as JSON, then the trace of the message it concerns."""
    from hub.operations.trace import format_trace

    typer.echo(json.dumps(record, indent=2, default=str))
    if message_id:
        typer.echo("")
        typer.echo(format_trace(hub, message_id))


# -- routes ----------------------------------------------------------------------------------

@routes_app.command("validate")
def routes_validate(directory: Annotated[Path | None, typer.Argument(help="Default HUB_ROUTES_DIR")] = None) -> None:
    """Check route files; print every problem as file:line: reason."""
    from hub.config import get_settings
    from hub.routes.loader import RouteSet

    rs = RouteSet.load(directory or get_settings().routes_dir)
    for problem in rs.problems:
        typer.echo(str(problem))
    if rs.problems:
        raise typer.Exit(1)
    typer.echo(f"ok: {len(rs.routes)} route(s), {len(rs.endpoints)} endpoint(s), {len(rs.channels)} channel(s)")


@routes_app.command("schema")
def routes_schema() -> None:
    """Print the JSON Schema of route files (for editors)."""
    from hub.routes.schema import route_file_schema

    typer.echo(json.dumps(route_file_schema(), indent=2))


@routes_app.command("test")
def routes_test(
    route: Annotated[str | None, typer.Argument(help="Only this route")] = None,
    update: Annotated[bool, typer.Option("--update", help="Write the actual outputs as expected")] = False,
) -> None:
    """Run routes in-process on their sample inputs and compare with the expected outputs."""
    from hub.routes import testing

    hub = _hub()
    if route and route not in hub.routes.routes:
        _fail(f"unknown route {route!r}")
    cases = testing.discover(hub.routes, route)
    if not cases:
        _fail(f"no samples under {hub.routes.directory / 'tests'}" + (f"/{route}" if route else ""))
    results = [testing.run_case(hub.routes, name, case, hub.services, update=update) for name, case in cases]
    for r in results:
        typer.echo(r.report())
    failed = sum(not r.ok for r in results)
    typer.echo(f"\n{len(results) - failed} passed, {failed} failed")
    if failed:
        raise typer.Exit(1)


@routes_app.command("list")
def routes_list() -> None:
    """Routes with their bindings and endpoints."""
    hub = _hub()
    for lr in hub.routes.routes.values():
        r = lr.route
        typer.echo(f"{r.name:<28} {'enabled' if r.enabled else 'disabled':<9} {','.join(r.from_.binding_keys()):<30}"
                   f" → {', '.join(r.to) or '-'}   ({lr.doc.name}:{lr.line})")


@app.command()
def topology() -> None:
    """Exchanges and queues the hub declares."""
    hub = _hub()
    t = hub.topology
    typer.echo(f"exchanges: {t.ingress.name} (topic), {t.egress.name} (direct), {t.dlx.name} (direct)")
    for q in t.work_queues() + t.dead_letter_queues():
        keys = ", ".join(b.routing_key for b in q.bindings) if q.bindings else q.routing_key
        typer.echo(f"  {q.name:<48} {keys}  {q.queue_arguments or ''}")


@app.command()
def health(
    worker: Annotated[bool, typer.Option("--worker", help="Also require a worker of this hub on this host to "
                                         "answer a ping through the broker: it is consuming")] = False,
) -> None:
    """Exit 0 when the database and the broker answer (for container health checks); with
    --worker, only when a worker on this host also answers (the worker's health check)."""
    from sqlalchemy import text

    hub = Hub()
    problems = []
    try:
        with hub.db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - report any failure as unhealthy
        problems.append(f"database: {type(exc).__name__}: {exc}")
    try:
        with hub.connection() as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as exc:  # noqa: BLE001
        problems.append(f"broker: {type(exc).__name__}: {exc}")
    if worker and not problems:
        problems += _worker_answers(hub)
    if problems:
        _fail("unhealthy:\n  " + "\n  ".join(problems))
    typer.echo("ok: database and broker reachable" + (", a worker on this host consumes" if worker else ""))


def _worker_answers(hub: Hub) -> list[str]:
    """A ping over the broker to this hub's workers on this host. The reply comes from the
    worker's own consumer loop, so an answer means it takes messages off the broker; a process
    that is up but stuck, or connected to nothing, does not answer."""
    import socket
    import time

    suffix, prefix = f"@{socket.gethostname()}", f"{hub.settings.namespace}-"
    # Short pings until one of ours answers, not one ping of 5 s: a broadcast waits its whole
    # timeout (the workers of other hubs on the broker answer too, so no reply count ends it),
    # and a healthy worker should pass its check in a fraction of a second.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            replies = hub.celery.control.ping(timeout=0.5)
        except Exception as exc:  # noqa: BLE001 - any failure: the worker cannot be shown to consume
            return [f"worker: the ping could not be sent: {type(exc).__name__}: {exc}"]
        if any(name.startswith(prefix) and name.endswith(suffix) for reply in replies for name in reply):
            return []
    return [f"worker: no worker of {hub.settings.namespace} on {socket.gethostname()} answered a ping within 5 s"]


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema to the newest revision."""
    hub = Hub()
    hub.db.create_schema()
    from hub.migrate import current

    typer.echo(f"database at revision {current(hub.db)}")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
