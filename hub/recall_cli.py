"""``hub recall trace``: where the lots of an item are and were, from the hub's store
(transforms/recall.py) — the question a recall asks, answered before or without a recall notice.

    hub recall trace --item 10614141005007 --lot L090001-1 [--serial S] [--json]

``--item`` is a GTIN, or SCHEME:VALUE (``VENDOR_PART:MS-TK220``); ``--lot`` and ``--serial``
repeat. Lines: what (in transit, received, transferred, used, on hand), the document, where,
when, how many; a use names its case number, never the patient. Exit 1 when nothing is found.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from hub.cli_errors import fail, reported

recall_app = typer.Typer(help="Recalls: where a recalled lot is and was.", no_args_is_help=True)

LABELS = {"IN_TRANSIT": "in transit", "RECEIVED": "received", "TRANSFERRED": "transferred", "USED": "used",
          "ON_HAND": "on hand"}


@recall_app.callback()
def _recall() -> None:
    """(A callback keeps the one-command group a group: `hub recall trace`.)"""


@recall_app.command("trace")
def trace(
    item: Annotated[str, typer.Option("--item", help="GTIN, or SCHEME:VALUE (VENDOR_PART:MS-TK220)")],
    lot: Annotated[list[str] | None, typer.Option("--lot", help="A lot (repeat for several); none: every lot")] = None,
    serial: Annotated[list[str] | None, typer.Option("--serial", help="A serial (repeat)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the places as JSON")] = False,
) -> None:
    """Where the item's lots are and were: in transit, received, transferred, used (case), on hand."""
    from hub.app import Hub
    from hub.operations.terminal import printable
    from transforms.recall import Wanted
    from transforms.recall import trace as find

    scheme, _, value = item.rpartition(":")
    wanted = Wanted({(scheme or "GTIN", _gtin(value) if not scheme or scheme == "GTIN" else value)},
                    lots=set(lot or []), serials=set(serial or []))
    hub = Hub()
    with reported("tracing the lots"):
        hits = find(hub.db, wanted)
    if as_json:
        typer.echo(json.dumps([h.__dict__ for h in hits], indent=2, default=str))
    else:
        lots = ", ".join(sorted(wanted.lots | wanted.serials)) or "every lot"
        typer.echo(f"{printable(item)} ({printable(lots)}): {len(hits)} place(s)")
        for h in hits:
            where = f"{h.location_id or '-'}" + (f" → {h.to_location_id}" if h.to_location_id else "")
            typer.echo(f"  {LABELS[h.kind]:<12} {printable(h.ref):<28} lot {printable(h.lot or '-'):<14} {printable(where):<28} "
                       f"{(h.at or '')[:16]:<16} {h.qty if h.qty is not None else '-'} {h.uom or ''}"
                       + (f"  case {printable(h.case)}" if h.case else "")
                       + ("  (inferred: received less used and moved)" if h.confidence == "INFERRED" else ""))
    if not hits:
        raise typer.Exit(1)


def _gtin(value: str) -> str:
    from hub.canonical.identifiers import IdentifierError, normalize_gtin

    try:
        return normalize_gtin(value)
    except IdentifierError as exc:
        fail(f"--item {value}: {exc}", 2)
