"""``hub operators`` (accounts of the console and the operations API) and ``hub audit`` (the
audit trail), mounted by ``hub.cli``. Every change is recorded in the audit trail as the
operator the command runs as (``--by``, else ``HUB_OPERATOR``, else the OS user).

Why passwords from standard input only: a password on the command line lands in the shell's
history and in ``ps`` for every user of the machine.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Annotated

import typer

from hub.cli_errors import fail
from hub.operations.terminal import printable

operators_app = typer.Typer(help="Operators of the console and the operations API: add, roles, lockout, tokens.",
                            no_args_is_help=True)
By = Annotated[str | None, typer.Option(help="Who (recorded); default HUB_OPERATOR or the OS user")]
PasswordStdin = Annotated[bool, typer.Option("--password-stdin", help="Read the password from standard input "
                                             "(else a one-time password is generated and printed)")]


def _hub():
    from hub.app import Hub

    hub = Hub()
    hub.db.create_schema()
    return hub


def _password(from_stdin: bool) -> str | None:
    if not from_stdin:
        return None
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        fail("no password on standard input")
    return password


def _audited(hub, action: str, target: str, run, by: str | None, detail: dict | None = None):
    from hub.console.audit import audited, cli_principal

    try:
        return audited(hub.db, cli_principal(by), action, run, reason=None, target_type="operator", targets=[target],
                       done=lambda _r: ([target], detail or {}))
    except (KeyError, ValueError) as exc:
        fail(str(exc.args[0] if exc.args else exc))


@operators_app.command("add")
def add(name: str, role: Annotated[str, typer.Option(help="viewer, operator or admin")] = "viewer",
        password_stdin: PasswordStdin = False, by: By = None) -> None:
    """Add an operator; prints a one-time password unless --password-stdin gives one."""
    from hub.console.operators import add_operator

    hub = _hub()
    given = _password(password_stdin)
    password = _audited(hub, "add_operator", name,
                        lambda: add_operator(hub.db, name, role, password=given, by=by or _who()), by, {"role": role})
    typer.echo(f"operator {name} ({role}) added")
    if given is None:
        typer.echo(f"one-time password (shown once): {password}")


@operators_app.command("list")
def list_cmd() -> None:
    """Operators with role, state and last login."""
    from hub.console.operators import list_operators

    now = datetime.now(UTC)
    for op in list_operators(_hub().db):
        state = "disabled" if op.disabled_at else (
            f"locked until {op.locked_until:%H:%M:%S}" if op.locked_until and op.locked_until > now else "active")
        last = f"{op.last_login_at:%Y-%m-%d %H:%M}" if op.last_login_at else "never"
        typer.echo(f"{op.name:<24} {op.role:<9} {state:<24} last login {last}")


@operators_app.command("role")
def role(name: str, new_role: Annotated[str, typer.Argument(metavar="ROLE")], by: By = None) -> None:
    """Change an operator's role (viewer, operator, admin)."""
    from hub.console.operators import set_role

    hub = _hub()
    _audited(hub, "operator_role", name, lambda: set_role(hub.db, name, new_role), by, {"role": new_role})
    typer.echo(f"{name} is now {new_role}")


@operators_app.command("disable")
def disable(name: str, by: By = None) -> None:
    """Disable an operator: sessions end, tokens stop working."""
    from hub.console.operators import set_disabled

    hub = _hub()
    _audited(hub, "operator_disable", name, lambda: set_disabled(hub.db, name, True), by)
    typer.echo(f"{name} disabled")


@operators_app.command("enable")
def enable(name: str, by: By = None) -> None:
    """Enable a disabled operator."""
    from hub.console.operators import set_disabled

    hub = _hub()
    _audited(hub, "operator_enable", name, lambda: set_disabled(hub.db, name, False), by)
    typer.echo(f"{name} enabled")


@operators_app.command("unlock")
def unlock_cmd(name: str, by: By = None) -> None:
    """Clear a lock after too many wrong passwords."""
    from hub.console.operators import unlock

    hub = _hub()
    _audited(hub, "operator_unlock", name, lambda: unlock(hub.db, name), by)
    typer.echo(f"{name} unlocked")


@operators_app.command("passwd")
def passwd(name: str, password_stdin: PasswordStdin = False, by: By = None) -> None:
    """Set a new password (ends the operator's sessions); prints a one-time one unless --password-stdin."""
    from hub.console.bootstrap import forget_first_password
    from hub.console.operators import set_password

    hub = _hub()
    given = _password(password_stdin)
    password = _audited(hub, "operator_reset_password", name, lambda: set_password(hub.db, name, given), by)
    forget_first_password(hub, name)
    typer.echo(f"password of {name} changed")
    if given is None:
        typer.echo(f"one-time password (shown once): {password}")


@operators_app.command("token")
def token(name: str, label: Annotated[str | None, typer.Option(help="What the token is for")] = None,
          by: By = None) -> None:
    """Create an operator token for the operations API; printed once."""
    from hub.console.operators import create_token

    hub = _hub()
    token_id, value = _audited(hub, "create_token", name, lambda: create_token(hub.db, name, label=label,
                                                                               by=by or _who()), by)
    typer.echo(f"token {token_id} for {name} (shown once; send as Authorization: Bearer ...):")
    typer.echo(value)


@operators_app.command("tokens")
def tokens(name: Annotated[str | None, typer.Argument(help="Only this operator's")] = None) -> None:
    """Operator tokens with their state (never the tokens)."""
    from hub.console.operators import list_tokens

    rows = list_tokens(_hub().db, name)
    if not rows:
        typer.echo("no tokens")
    for t in rows:
        state = f"revoked {t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "active"
        typer.echo(f"{t.token_id}  {t.operator:<20} {state:<24} {printable(t.label)}")


@operators_app.command("revoke-token")
def revoke_token_cmd(token_id: str, by: By = None) -> None:
    """Revoke an operator token at once."""
    from hub.console.operators import revoke_token

    hub = _hub()

    def run() -> None:
        if not revoke_token(hub.db, token_id):
            raise KeyError(f"no active token {token_id}")

    _audited(hub, "revoke_token", token_id, run, by)
    typer.echo(f"revoked {token_id}")


def _who() -> str:
    from hub.deadletters import who

    return who()


def audit(
    operator: Annotated[str | None, typer.Option(help="Only this operator's actions")] = None,
    action: Annotated[str | None, typer.Option(help="Only this action (replay_dead_letters, login ...)")] = None,
    via: Annotated[str | None, typer.Option(help="console, api or cli")] = None,
    target: Annotated[str | None, typer.Option(help="Only actions that touched this id")] = None,
    since: Annotated[datetime | None, typer.Option(help="At or after this time (UTC)")] = None,
    limit: int = 50,
    as_json: Annotated[bool, typer.Option("--json", help="A JSON list instead of lines")] = False,
) -> None:
    """The audit trail, newest first: when, who, via, action, outcome, what it touched, why."""
    from hub.console.audit import AuditFilter, as_json as entry_json, entries

    rows = entries(_hub().db, AuditFilter(operator=operator, action=action, via=via, target=target,
                                          since=since.replace(tzinfo=since.tzinfo or UTC) if since else None,
                                          limit=limit))
    if as_json:
        typer.echo(json.dumps([entry_json(r) for r in rows], indent=2))
        return
    if not rows:
        typer.echo("nothing recorded")
    for e in rows:
        what = f"{e.target_count} {e.target_type}(s) {','.join((e.targets or [])[:3])}" if e.target_type else ""
        typer.echo(f"{e.at:%Y-%m-%d %H:%M:%S}  {printable(e.operator):<16} {e.via:<8} {e.action:<26} {e.outcome:<8} "
                   f"{printable(what)}  {printable(e.reason)}")
