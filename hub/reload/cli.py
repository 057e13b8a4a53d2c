"""``hub routes reload`` and ``hub routes status``, and the start of every hub process's
following (mounted by hub.cli)."""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer

from hub.cli_errors import fail
from hub.operations.terminal import printable


def _hub():
    from hub.app import Hub

    return Hub()  # routes not loaded: the folder may be invalid, and that is for the reload to say


def reload(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check and show what would change; apply nothing")] = False,
    wait: Annotated[float, typer.Option(help="Wait up to this many seconds for every running hub process to "
                                        "take the new generation")] = 0.0,
    watch: Annotated[bool, typer.Option("--watch", help="Keep running: reload whenever a route file changes "
                                        "(every HUB_ROUTES_WATCH_INTERVAL seconds, default 2)")] = False,
    by: Annotated[str | None, typer.Option(help="Who (recorded); default HUB_OPERATOR or the OS user")] = None,
) -> None:
    """Check the route folder and put it in force in every running process, without a restart.

    Refused with every problem as file:line when the folder is invalid (the generation in force
    stays). Recorded: who, when, what changed (hub routes status, hub audit --action routes_reload)."""
    from hub.console.audit import cli_principal
    from hub.reload.command import describe, reload_routes

    hub = _hub()
    hub.db.create_schema()
    if watch:
        _watch(hub)
        return
    result = reload_routes(hub, cli_principal(by), dry_run=dry_run)
    for line in describe(result, hub.settings.routes_dir):
        typer.echo(printable(line) if result.outcome != "refused" else line)
    if result.outcome == "refused":
        raise typer.Exit(1)
    if wait > 0 and result.generation is not None:
        _wait_taken(hub, result.generation.id, wait)


def _wait_taken(hub, generation: int, seconds: float) -> None:
    from hub.reload.status import processes

    started = time.monotonic()
    deadline = started + seconds
    while True:
        live = processes(hub.db)
        behind = [p for p in live if (p.generation or 0) < generation]
        if not behind:
            typer.echo(f"taken by {len(live)} running process(es) within {time.monotonic() - started:.1f}s")
            return
        if time.monotonic() >= deadline:
            fail("not taken within {:.0f}s by: {}".format(seconds, ", ".join(
                f"{p.process} (generation {p.generation}{'; ' + p.error if p.error else ''})" for p in behind)), 4)
        time.sleep(0.2)


def _watch(hub) -> None:
    from hub.reload.follow import RoutesFollower, watch_interval

    follower = RoutesFollower(hub, "watch", watch=watch_interval() or 2.0, interval=0.5)
    typer.echo(f"watching {hub.settings.routes_dir} (every {follower.watch:g}s); Ctrl-C to stop", err=True)
    try:
        while True:
            try:
                follower.step()
            except Exception as exc:  # noqa: BLE001 - the store away: report and go on watching
                typer.echo(f"watch: {type(exc).__name__}: {exc}", err=True)
            time.sleep(follower.interval)
    except KeyboardInterrupt:
        pass


def status(as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False) -> None:
    """The route generation in force, whether the folder differs from it, and which generation
    each running hub process runs."""
    from hub.reload.status import current_status

    hub = _hub()
    hub.db.create_schema()  # a fresh database answers "no generation yet", not a missing table
    report = current_status(hub)
    if as_json:
        typer.echo(json.dumps(report, indent=2, default=str))
        return
    for line in format_status(report):
        typer.echo(printable(line))


def format_status(report: dict) -> list[str]:
    gen = report["generation"]
    if gen is None:
        lines = ["no route generation recorded yet (the first hub process to start records one)"]
    else:
        lines = [f"generation {gen['id']} in force since {gen['activated_at']:%Y-%m-%d %H:%M:%S} UTC, "
                 f"by {gen['by']} via {gen['via']}: {gen['summary']}"]
    folder = report["folder"]
    lines.append(f"folder {folder['directory']}: {folder['state']}")
    lines += [f"  {p}" for p in folder.get("problems", [])[:50]]
    lines.append(f"processes ({len(report['processes'])} running):")
    for p in report["processes"]:
        behind = "" if gen is None or p["generation"] == gen["id"] else "  BEHIND"
        error = f"  ({p['error']})" if p["error"] else ""
        lines.append(f"  {p['process']:<44} generation {p['generation']}{behind}  seen {p['seen_seconds_ago']:.0f}s ago"
                     f"{error}")
    if report["history"]:
        lines.append("recent generations:")
        lines += [f"  {h['id']:>4}  {h['activated_at']:%Y-%m-%d %H:%M:%S}  {h['by']:<16} {h['via']:<6} {h['summary']}"
                  for h in report["history"]]
    return lines


def start_routes(hub, kind: str) -> str:
    """A starting process: its route files in force as a generation (a start is a reload).
    Stops the process (exit 2) on files it cannot run, naming each file:line."""
    from hub.deadletters import who
    from hub.reload.follow import RoutesInvalidHere, adopt_at_start

    try:
        return adopt_at_start(hub, who())
    except RoutesInvalidHere as exc:
        fail("route files have problems:\n" + "\n".join(f"  {p}" for p in exc.problems), 2)
    raise AssertionError("unreachable")
