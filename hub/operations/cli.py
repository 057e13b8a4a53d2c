"""The operations commands: ``hub messages``, ``hub messages show``, ``hub trace``,
``hub replay``, ``hub dlq list|show|discard``. Each records the operator it runs as
(``--by``, else ``HUB_OPERATOR``, else the OS user)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Annotated

import typer
from kombu.exceptions import OperationalError

from hub.cli_errors import fail
from hub.operations.terminal import printable

messages_app = typer.Typer(help="Find messages and read what came in, what the hub made of it, what it sent.")
dlq_app = typer.Typer(help="Dead-letter queues: list, show, discard (replay: `hub replay`).", no_args_is_help=True)

Since = Annotated[datetime | None, typer.Option(help="At or after this time (UTC unless it says otherwise)")]
Until = Annotated[datetime | None, typer.Option(help="Before this time (UTC unless it says otherwise)")]
By = Annotated[str | None, typer.Option(help="Who (recorded); default HUB_OPERATOR or the OS user")]


def _hub():
    from hub.cli import _hub as load

    return load()


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=value.tzinfo or UTC) if value else None


def _operator(by: str | None) -> str:
    from hub.deadletters import who

    return by or who()


def _audited(hub, operator: str, action: str, run, *, reason: str, target_type: str, targets: list[str],
             done=None):
    """Run an action through the audit trail (hub.console.audit): the console, the operations
    API and these commands record the same row for the same action."""
    from hub.console.audit import audited, cli_principal

    return audited(hub.db, cli_principal(operator), action, run, reason=reason, target_type=target_type,
                   targets=targets, done=done)


# -- hub messages ------------------------------------------------------------------------------

@messages_app.callback(invoke_without_command=True)
def messages(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="received, routing, delivering, delivered, "
                                               "partially_delivered, held, dead_lettered, refused, unrouted, "
                                               "processed, discarded")] = None,
    route: Annotated[str | None, typer.Option(help="Messages this route processed or parked")] = None,
    partner: Annotated[str | None, typer.Option(help="The sender (partner id)")] = None,
    since: Since = None,
    until: Until = None,
    file: Annotated[str | None, typer.Option("--file", help="File name glob, e.g. 'counts-*.csv'")] = None,
    key: Annotated[str | None, typer.Option(help="A business number: PO, ASN, invoice or receipt")] = None,
    limit: int = 50,
    as_json: Annotated[bool, typer.Option("--json", help="A JSON list instead of a table")] = False,
) -> None:
    """Messages, newest first, with their derived status (docs/operations.md)."""
    if ctx.invoked_subcommand is not None:
        return
    from hub.operations.messages import MessageFilter, find

    hub = _hub()
    query = MessageFilter(status=status, route=route, partner=partner, since=_utc(since), until=_utc(until),
                          file=file, key=key, limit=limit)
    try:
        rows = find(hub, query)
    except ValueError as exc:
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps([r.as_json() for r in rows], indent=2))
        return
    typer.echo(f"{'MESSAGE':<36}  {'RECEIVED (UTC)':<19}  {'STATUS':<22} {'ROUTE':<22} {'PARTNER':<16} "
               f"{'FORMAT/DOCTYPE':<22} FILE")
    for r in rows:
        typer.echo(f"{r.message_id:<36}  {r.received_at.strftime('%Y-%m-%d %H:%M:%S'):<19}  {r.progress:<22} "
                   f"{','.join(r.routes) or '-':<22} {printable(r.partner):<16} {r.format + '/' + r.doctype:<22} "
                   f"{printable(r.filename) or '-'}")
        for endpoint, circuit in r.waiting_on.items():
            typer.echo(f"{'':<38} waiting for {endpoint}: {circuit}")
    if not rows:
        typer.echo("(no messages match)")


@messages_app.command("show")
def messages_show(
    message_id: str,
    raw: Annotated[bool, typer.Option("--raw", help="The stored bytes, exactly as received")] = False,
    canonical: Annotated[bool, typer.Option("--canonical", help="The documents the routes made, as JSON")] = False,
    sent: Annotated[str | None, typer.Option("--sent", metavar="ENDPOINT",
                                             help="Exactly what was sent to this endpoint")] = None,
) -> None:
    """One message: its trace; or its raw bytes, canonical documents, or what was sent."""
    from hub.operations import messages as ops
    from hub.operations.trace import format_trace

    if sum((raw, canonical, sent is not None)) > 1:
        fail("give one of --raw, --canonical, --sent")
    hub = _hub()
    try:
        if raw:
            sys.stdout.buffer.write(ops.raw(hub, message_id))
            sys.stdout.buffer.flush()
        elif canonical:
            typer.echo(json.dumps(ops.canonical(hub, message_id), indent=2, ensure_ascii=False))
        elif sent is not None:
            rows = ops.sent(hub, message_id, sent)
            for i, d in enumerate(rows):
                # The bytes go to stdout untouched; which delivery they are goes to stderr.
                typer.echo(f"# delivery {d.id} seq {d.seq} {d.content_type} {d.status} idempotency key "
                           f"{d.idempotency_key}", err=True)
                sys.stdout.buffer.write(d.payload + (b"\n" if len(rows) > 1 and i < len(rows) - 1 else b""))
            sys.stdout.buffer.flush()
        else:
            typer.echo(format_trace(hub, message_id))
    except KeyError as exc:
        fail(str(exc.args[0]))


def trace(message_id: str) -> None:
    """Every stage of a message: timestamps, durations, errors, delivery attempts, replays."""
    from hub.operations.trace import format_trace

    try:
        typer.echo(format_trace(_hub(), message_id))
    except KeyError as exc:
        fail(str(exc.args[0]))


# -- replay ------------------------------------------------------------------------------------

def replay(
    ids: Annotated[list[str] | None, typer.Argument(help="Dead-letter ids (hub dlq list) or message ids")] = None,
    queue: Annotated[str | None, typer.Option("--queue", "--dlq", help="Every parked letter of this DLQ "
                                              "(or route / endpoint name)")] = None,
    reason_code: Annotated[str | None, typer.Option(help="Only letters parked with this reason")] = None,
    since: Since = None,
    edited: Annotated[str | None, typer.Option(metavar="FILE", help="Resubmit this corrected payload as a new "
                                               "version of the message (one id)")] = None,
    allow_resend: Annotated[bool, typer.Option("--allow-resend", help="With --edited: even if the original "
                                               "already delivered documents (they go out again)")] = False,
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why (recorded)")] = ...,
    by: By = None,
) -> None:
    """Replay dead letters (by id or by filter), re-run messages, or resubmit a corrected payload
    (--edited). Every replay is recorded."""
    hub = _hub()
    operator = _operator(by)
    if edited is not None:
        _replay_edited(hub, ids or [], edited, operator, reason, allow_resend)
    elif queue or reason_code or since:
        if ids:
            fail("give ids or a filter (--queue, --reason-code, --since), not both")
        _bulk(hub, "replay", queue, reason_code, since, operator, reason)
    elif not ids:
        fail("give dead-letter or message ids, a filter (--queue, --reason-code, --since), or --edited FILE")
    else:
        _replay_ids(hub, ids, operator, reason)


def _replay_ids(hub, ids: list[str], operator: str, reason: str) -> None:
    from hub import deadletters
    from hub.store import DeadLetter, Message

    with hub.db.read() as session:
        letters = [i for i in ids if session.get(DeadLetter, i) is not None]
        msgs = [i for i in ids if i not in letters and session.get(Message, i) is not None]
    unknown = [i for i in ids if i not in letters and i not in msgs]
    if unknown:
        fail(f"unknown id(s): {', '.join(unknown)}")
    try:
        if letters:
            _audited(hub, operator, "replay_dead_letters",
                     lambda: deadletters.replay_dead_letters(hub, letters, by=operator, why=reason),
                     reason=reason, target_type="dead_letter", targets=letters)
            typer.echo(f"replayed dead letter(s): {', '.join(letters)}")
        if msgs:
            _audited(hub, operator, "rerun_messages",
                     lambda: deadletters.replay_messages(hub, msgs, by=operator, why=reason),
                     reason=reason, target_type="message", targets=msgs)
            typer.echo(f"re-ran message(s) through their routes: {', '.join(msgs)}")
    except (KeyError, ValueError) as exc:
        fail(str(exc.args[0]))


def _replay_edited(hub, ids: list[str], edited: str, operator: str, reason: str, allow_resend: bool) -> None:
    from pathlib import Path

    from hub.operations.edits import resubmit

    if len(ids) != 1:
        fail("--edited takes exactly one message or dead-letter id")
    try:
        corrected = Path(edited).read_bytes()
    except OSError as exc:
        fail(f"{edited}: {exc.strerror or exc}")
    try:
        done = _audited(hub, operator, "edit_and_resubmit",
                        lambda: resubmit(hub, ids[0], corrected, by=operator, why=reason, allow_resend=allow_resend),
                        reason=reason, target_type="message", targets=[ids[0]],
                        done=lambda e: ([e.original_id, e.message_id], {
                            "new_message_id": e.message_id, "version": e.version, "allow_resend": allow_resend,
                            "superseded_letters": e.superseded_letters, "bytes": len(corrected)}))
    except (KeyError, ValueError) as exc:
        fail(str(exc.args[0]))
    typer.echo(f"message {done.message_id} is version {done.version} of {done.original_id}"
               + (f"; superseded dead letter(s) discarded: {', '.join(done.superseded_letters)}"
                  if done.superseded_letters else ""))


def _bulk(hub, action: str, queue: str | None, reason_code: str | None, since: datetime | None, operator: str,
          reason: str) -> None:
    from hub.deadletters import reconcile
    from hub.operations.letters import LetterFilter, act, find

    try:
        reconcile(hub)  # letters the broker parked by itself count too
    except (OSError, OperationalError) as exc:
        typer.echo(f"(broker not reachable: {exc})", err=True)
    letters = find(hub, LetterFilter(queue=queue, reason_code=reason_code, since=_utc(since)))
    verb = "replayed" if action == "replay" else "discarded"
    if not letters:
        typer.echo(f"{verb} 0 dead letter(s): none parked matches")
        return
    with typer.progressbar(length=len(letters), label=f"{action} {len(letters)} dead letter(s)", file=sys.stderr) as bar:
        try:
            ids = [dl.id for dl in letters]
            done = _audited(hub, operator, f"bulk_{action}_dead_letters",
                            lambda: act(hub, ids, action, by=operator, why=reason, progress=bar.update),
                            reason=reason, target_type="dead_letter", targets=ids,
                            done=lambda done: (done, {"filter": {"queue": queue, "reason_code": reason_code,
                                                                 "since": since.isoformat() if since else None}}))
        except (KeyError, ValueError) as exc:
            fail(str(exc.args[0]))
    typer.echo(f"{verb} {len(done)} dead letter(s)" + (f" ({len(letters) - len(done)} closed meanwhile by someone "
                                                       "else)" if len(done) < len(letters) else ""))


# -- hub dlq ------------------------------------------------------------------------------------

@dlq_app.command("list")
def dlq_list(
    queue: Annotated[str | None, typer.Option("--queue", help="A DLQ, route or endpoint name")] = None,
    route: Annotated[str | None, typer.Option(help="Only this route's DLQ")] = None,
    endpoint: Annotated[str | None, typer.Option(help="Only this endpoint's DLQ")] = None,
    reason_code: Annotated[str | None, typer.Option(help="Only this reason (docs/operations.md)")] = None,
    since: Since = None,
    all_: Annotated[bool, typer.Option("--all", help="Include replayed and discarded letters")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="A JSON list instead of lines")] = False,
) -> None:
    """Dead letters waiting for an operator (the broker's own parking found too)."""
    from hub import deadletters
    from hub.operations.letters import LetterFilter, as_json as letter_json, find

    hub = _hub()
    try:
        deadletters.reconcile(hub)
    except (OSError, OperationalError) as exc:  # listing the ledger must work while the broker is away
        typer.echo(f"(broker not reachable, showing the store only: {exc})", err=True)
    rows = find(hub, LetterFilter(state=None if all_ else "parked", queue=queue or route or endpoint,
                                  reason_code=reason_code, since=_utc(since)))
    if as_json:
        typer.echo(json.dumps([letter_json(dl) for dl in rows], indent=2))
        return
    if not rows:
        typer.echo("no dead letters")
    for dl in rows:
        where = f"route {dl.route}" if dl.endpoint is None else f"endpoint {dl.endpoint}"
        typer.echo(f"{dl.id}  {dl.created_at.strftime('%Y-%m-%d %H:%M:%S')}  {dl.state:<9} {where:<28} "
                   f"{dl.reason:<22} message {dl.message_id}  {printable((dl.error or '')[:80])}")


@dlq_app.command("show")
def dlq_show(dl_id: str) -> None:
    """One dead letter: reason, error, task, and the message's trace."""
    from hub.operations.letters import as_json as letter_json
    from hub.operations.trace import format_trace
    from hub.store import DeadLetter

    hub = _hub()
    with hub.db.read() as session:
        dl = session.get(DeadLetter, dl_id)
    if dl is None:
        fail(f"no dead letter with id {dl_id}")
    typer.echo(json.dumps({**letter_json(dl), "task": dl.task_name, "args": dl.task_args}, indent=2))
    if dl.message_id:
        typer.echo("")
        typer.echo(format_trace(hub, dl.message_id))


@dlq_app.command("discard")
def dlq_discard(
    ids: Annotated[list[str] | None, typer.Argument(help="Dead-letter ids")] = None,
    queue: Annotated[str | None, typer.Option("--queue", help="Every parked letter of this DLQ / route / endpoint")] = None,
    reason_code: Annotated[str | None, typer.Option(help="Only letters parked with this reason")] = None,
    since: Since = None,
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why (recorded)")] = ...,
    by: By = None,
) -> None:
    """Close dead letters without delivering them (recorded; the raw message stays)."""
    from hub import deadletters

    hub = _hub()
    operator = _operator(by)
    if queue or reason_code or since:
        if ids:
            fail("give ids or a filter (--queue, --reason-code, --since), not both")
        _bulk(hub, "discard", queue, reason_code, since, operator, reason)
        return
    if not ids:
        fail("give dead-letter ids or a filter (--queue, --reason-code, --since)")
    try:
        _audited(hub, operator, "discard_dead_letters",
                 lambda: deadletters.discard_dead_letters(hub, ids, by=operator, why=reason),
                 reason=reason, target_type="dead_letter", targets=ids)
    except (KeyError, ValueError) as exc:
        fail(str(exc.args[0]))
    typer.echo(f"discarded {len(ids)} dead letter(s)")
