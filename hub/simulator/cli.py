"""``hub simulate``: a simulated trading partner, and the order-to-invoice cycle against it.

    hub simulate scenarios                                  # the scenarios, with what each raises
    hub simulate supplier --partner P-0310 --scenario backorder [--day 10s] [--once]
    hub simulate order-to-invoice --scenario clean [--partner P-0320] [--json]

Exit codes: 0 done (``order-to-invoice``: the hub did what the scenario expects), 1 the cycle ran
but the outcome differs from the scenario's ``raises`` / match, 2 a scenario, partner or
channel that cannot be used (the reason on stderr), 3 the cycle could not finish (a step the
hub did not process in time, with what its records show).
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer

from hub.cli_errors import fail

app = typer.Typer(help="A simulated trading partner answering the hub's orders, and the order-to-invoice cycle.",
                  no_args_is_help=True)

ScenariosOption = typer.Option("--scenarios", help="A folder of more scenario files (*.yaml); they win over the "
                               "built-in ones of the same name")
DayOption = typer.Option("--day", help="How long a business day of the scenario lasts: 86400 (real time), 10s, "
                         "500ms, 0 (at once)")


def _hub():
    from hub.app import Hub, RoutesInvalid

    hub = Hub()
    try:
        hub.routes  # noqa: B018 - load and validate now
    except RoutesInvalid as exc:
        fail("route files have problems:\n" + "\n".join(f"  {p}" for p in exc.problems), 2)
    return hub


def _scenario(name: str, folder: Path | None):
    from hub.simulator.scenarios import ScenarioError, load_scenario

    try:
        return load_scenario(name, folder)
    except ScenarioError as exc:
        fail(str(exc), 2)


def _seconds(value: str) -> float:
    from hub.routes.model import parse_duration

    try:
        return parse_duration(value)
    except ValueError as exc:
        fail(f"--day {value}: {exc}", 2)


def _echo(line: str) -> None:
    from hub.operations.terminal import printable

    typer.echo(printable(line), err=True)


@app.command("scenarios")
def scenarios(folder: Annotated[Path | None, ScenariosOption] = None) -> None:
    """The scenarios a simulated partner can play, and the business exceptions each must raise."""
    from hub.simulator.scenarios import ScenarioError, read_scenario, scenario_files

    for name, path in scenario_files(folder).items():
        try:
            scenario = read_scenario(path)
        except ScenarioError as exc:
            typer.echo(f"{name:<24} (unreadable) {exc.problems[0]}")
            continue
        typer.echo(f"{name:<24} raises {', '.join(scenario.raises) or 'nothing (matched)'}")


@app.command("supplier")
def supplier(
    partner: Annotated[str, typer.Option(help="The partner to play (registry id), e.g. P-0310")],
    scenario: Annotated[str, typer.Option(help="Scenario name (hub simulate scenarios)")] = "clean",
    day: Annotated[str, DayOption] = "86400",
    once: Annotated[bool, typer.Option(help="Answer the orders waiting now, then exit")] = False,
    folder: Annotated[Path | None, ScenariosOption] = None,
) -> None:
    """Run a simulated supplier: it takes the orders the hub sends PARTNER over the channel its
    purchase_order endpoint binds (folder, SFTP, HTTP, AS2) and answers each with the scenario's
    997/CONTRL, 855/ORDRSP, 856/DESADV and 810/INVOIC, the same way back (AS2 to the hub's /as2,
    the partner's SFTP or file-drop channel, else the hub's API), on the scenario's schedule."""
    from hub.simulator.channels import ChannelError
    from hub.simulator.supplier import SimulatedSupplier, SimulatorError
    from hub.simulator.wire import WireError

    import logging

    # pyas2lib logs a traceback for every message it refuses; the simulator says why in one line.
    logging.getLogger("pyas2lib").setLevel(logging.CRITICAL)
    hub = _hub()
    hub.db.create_schema()  # a fresh data dir: the registry's tables, before the partner is looked up
    try:
        simulated = SimulatedSupplier(hub, partner, _scenario(scenario, folder), day=_seconds(day), log=_echo)
    except (ChannelError, SimulatorError) as exc:
        fail(str(exc), 2)
    _echo(f"{partner} plays {scenario}: orders from {simulated.channels.orders.where}, answers to "
          f"{simulated.channels.answers.where} (Ctrl-C to stop)")
    stop = threading.Event()
    try:
        simulated.run(once=once, stop=stop)
    except (WireError, ChannelError) as exc:
        fail(str(exc), 3)
    except KeyboardInterrupt:
        stop.set()
    finally:
        simulated.channels.close()


@app.command("order-to-invoice")
def order_to_invoice(
    scenario: Annotated[str, typer.Option(help="Scenario name (hub simulate scenarios)")] = "clean",
    partner: Annotated[str, typer.Option(help="P-0310 (X12 850) or P-0320 (EDIFACT ORDERS), or your own")] = "P-0310",
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary object as JSON")] = False,
    day: Annotated[str, DayOption] = "2s",
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the hub to process each step")] = 90.0,
    folder: Annotated[Path | None, ScenariosOption] = None,
) -> None:
    """One purchase order's whole cycle through the real routes: the example ERP releases a PO,
    the hub sends it, the simulated supplier answers as the scenario says, the dock scans the
    delivery, the invoice is matched three ways. Uses the running hub (make run), else starts a
    worker and a file drop for the cycle. Prints what happened; --json the summary object."""
    from hub.simulator.channels import ChannelError
    from hub.simulator.cycle import Cycle, CycleError
    from hub.simulator.summary import format_summary
    from hub.simulator.supplier import SimulatorError
    from hub.simulator.wire import WireError

    hub = _hub()
    cycle = Cycle(hub, _scenario(scenario, folder), partner, day=_seconds(day), timeout=timeout, log=_echo)
    try:
        summary = cycle.run()
    except (ChannelError, SimulatorError) as exc:
        fail(str(exc), 2)
    except (CycleError, WireError) as exc:
        fail(f"hub simulate order-to-invoice: {exc}", 3)
    if as_json:
        sys.stdout.write(json.dumps(summary, indent=2, default=str) + "\n")
    else:
        typer.echo(format_summary(summary))
    if not summary["as_expected"]:
        raise typer.Exit(1)
