"""What an operator can do from the console or the operations API, each action checked against
the operator's role, given a reason where it changes what happens to a message, and recorded
(``hub.console.audit.audited``).

Why a module of its own: the HTML pages and the JSON API are two doors to the same actions;
keeping the actions here means both check the same role, require the same reason and write the
same audit row, and neither can drift. The work itself stays where it lives: ``hub.deadletters``
(replay, discard), ``hub.operations.letters`` (bulk by filter), ``hub.operations.edits``
(edit and resubmit), ``hub.review`` (resolve), ``connectors.security`` (API keys),
``hub.console.operators`` (accounts).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from hub import deadletters, review
from hub.console import operators as accounts
from hub.console.audit import audited
from hub.console.operators import Principal
from hub.operations import edits, letters

T = TypeVar("T")
MAX_REASON = 2000


class Forbidden(PermissionError):
    """The operator's role does not allow the action."""


class CountChanged(ValueError):
    """A bulk action confirmed for N letters now matches another number: ask again."""

    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(f"{actual} dead letter(s) match now, not the {expected} you confirmed: confirm again")
        self.expected, self.actual = expected, actual


@dataclass(frozen=True)
class Context:
    """Who acts, from where."""

    principal: Principal
    remote_addr: str | None = None


def require(principal: Principal, role: str) -> None:
    if not principal.may(role):
        raise Forbidden(f"{principal.name} is a {principal.role}; this needs the {role} role")


def _reason(reason: str | None, needed: bool = True) -> str | None:
    text = (reason or "").strip()
    if needed and not text:
        raise ValueError("give a reason: it is recorded with the action")
    if len(text) > MAX_REASON:
        raise ValueError(f"a reason has at most {MAX_REASON} characters")
    return text or None


def _act(hub, ctx: Context, role: str, action: str, run: Callable[[], T], *, reason: str | None,
         target_type: str, targets: Sequence[str], done=None) -> T:
    require(ctx.principal, role)
    return audited(hub.db, ctx.principal, action, run, reason=reason, target_type=target_type, targets=targets,
                   done=done, remote_addr=ctx.remote_addr)


def _ids(ids: Sequence[str]) -> list[str]:
    unique = list(dict.fromkeys(i.strip() for i in ids if i and i.strip()))
    if not unique:
        raise ValueError("choose at least one")
    return unique


# -- dead letters and messages ---------------------------------------------------------------------

def replay_letters(hub, ctx: Context, ids: Sequence[str], reason: str | None) -> list[str]:
    why, ids = _reason(reason), _ids(ids)
    return _act(hub, ctx, "operator", "replay_dead_letters",
                lambda: deadletters.replay_dead_letters(hub, ids, by=ctx.principal.name, why=why),
                reason=why, target_type="dead_letter", targets=ids)


def discard_letters(hub, ctx: Context, ids: Sequence[str], reason: str | None) -> list[str]:
    why, ids = _reason(reason), _ids(ids)
    return _act(hub, ctx, "operator", "discard_dead_letters",
                lambda: deadletters.discard_dead_letters(hub, ids, by=ctx.principal.name, why=why),
                reason=why, target_type="dead_letter", targets=ids)


def bulk_letters(hub, ctx: Context, action: str, query: letters.LetterFilter, reason: str | None,
                 expected: int) -> list[str]:
    """Replay or discard every parked letter matching ``query``, when exactly ``expected`` match
    (the count the operator confirmed); otherwise CountChanged and nothing is done."""
    if action not in ("replay", "discard"):
        raise ValueError(f"unknown bulk action {action!r}")
    why = _reason(reason)
    require(ctx.principal, "operator")
    query.state = "parked"
    ids = [dl.id for dl in letters.find(hub, query)]
    if len(ids) != expected:
        raise CountChanged(expected, len(ids))
    filter_detail = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in vars(query).items()
                     if v is not None and k != "state"}
    return _act(hub, ctx, "operator", f"bulk_{action}_dead_letters",
                lambda: letters.act(hub, ids, action, by=ctx.principal.name, why=why),
                reason=why, target_type="dead_letter", targets=ids,
                done=lambda done: (done, {"filter": filter_detail, "confirmed": expected}))


def rerun_messages(hub, ctx: Context, ids: Sequence[str], reason: str | None) -> list[str]:
    why, ids = _reason(reason), _ids(ids)
    return _act(hub, ctx, "operator", "rerun_messages",
                lambda: deadletters.replay_messages(hub, ids, by=ctx.principal.name, why=why),
                reason=why, target_type="message", targets=ids)


def resubmit(hub, ctx: Context, some_id: str, corrected: bytes, reason: str | None, *,
             allow_resend: bool = False) -> edits.Edited:
    why = _reason(reason)
    if not corrected:
        raise ValueError("the corrected payload is empty")
    max_bytes = hub.settings.max_message_bytes
    if len(corrected) > max_bytes:
        raise ValueError(f"the corrected payload is larger than HUB_MAX_MESSAGE_BYTES ({max_bytes})")
    return _act(hub, ctx, "operator", "edit_and_resubmit",
                lambda: edits.resubmit(hub, some_id, corrected, by=ctx.principal.name, why=why,
                                       allow_resend=allow_resend),
                reason=why, target_type="message", targets=[some_id],
                done=lambda e: ([e.original_id, e.message_id], {
                    "new_message_id": e.message_id, "version": e.version, "allow_resend": allow_resend,
                    "superseded_letters": e.superseded_letters, "bytes": len(corrected)}))


def resolve_exceptions(hub, ctx: Context, ids: Sequence[str], reason: str | None, *, rerun: bool) -> list[str]:
    why, ids = _reason(reason), _ids(ids)
    return _act(hub, ctx, "operator", "resolve_exceptions",
                lambda: review.resolve(hub, ids, by=ctx.principal.name, why=why, rerun=rerun),
                reason=why, target_type="exception", targets=ids,
                done=lambda rerun_ids: (ids, {"rerun": rerun, "rerun_messages": rerun_ids}))


# -- partners --------------------------------------------------------------------------------------

def reload_partners(hub, ctx: Context, reason: str | None) -> int:
    from hub.partners import PartnerRegistry

    path = hub.settings.routes_dir / "partners.yaml"
    return _act(hub, ctx, "admin", "reload_partners", lambda: _load_registry(PartnerRegistry(hub.db), path),
                reason=_reason(reason, needed=False), target_type="partner_registry", targets=[str(path)],
                done=lambda n: ([str(path)], {"partners": n}))


def _load_registry(registry, path) -> int:
    from hub.yamlfile import DataFileError

    try:
        return registry.load_file(path)
    except DataFileError as exc:
        raise ValueError("; ".join(exc.problems)) from None


def create_api_key(hub, ctx: Context, partner_id: str, label: str | None) -> Any:
    from connectors.security import create_api_key as create

    def run():
        try:
            return create(hub.db, partner_id, label=(label or "").strip() or None, by=ctx.principal.name)
        except LookupError as exc:
            raise KeyError(exc.args[0]) from None

    return _act(hub, ctx, "admin", "create_api_key", run, reason=None, target_type="partner", targets=[partner_id],
                done=lambda issued: ([partner_id], {"key_id": issued.key_id, "label": label}))


def revoke_api_key(hub, ctx: Context, key_id: str, reason: str | None) -> None:
    from connectors.security import revoke_api_key as revoke

    def run() -> None:
        if not revoke(hub.db, key_id):
            raise KeyError(f"no active API key {key_id}")

    _act(hub, ctx, "admin", "revoke_api_key", run, reason=_reason(reason, needed=False), target_type="api_key",
         targets=[key_id])


# -- operators -------------------------------------------------------------------------------------

def add_operator(hub, ctx: Context, name: str, role: str) -> str:
    """Returns the one-time password."""
    return _act(hub, ctx, "admin", "add_operator",
                lambda: accounts.add_operator(hub.db, name, role, by=ctx.principal.name),
                reason=None, target_type="operator", targets=[name], done=lambda _pw: ([name], {"role": role}))


def change_operator(hub, ctx: Context, name: str, change: str, value: str | None = None) -> str | None:
    """``role`` (to ``value``), ``disable``, ``enable``, ``unlock``, ``reset_password`` (returns
    the new one-time password). An admin cannot disable, demote or lock themselves out."""
    def refuse() -> None:
        raise ValueError("an admin cannot disable or demote themselves: ask another admin")

    runs: dict[str, Callable[[], Any]] = {
        "role": lambda: accounts.set_role(hub.db, name, value or ""),
        "disable": lambda: accounts.set_disabled(hub.db, name, True),
        "enable": lambda: accounts.set_disabled(hub.db, name, False),
        "unlock": lambda: accounts.unlock(hub.db, name),
        "reset_password": lambda: accounts.set_password(hub.db, name),
    }
    if change not in runs:
        raise ValueError(f"unknown change {change!r}")
    run = refuse if name == ctx.principal.name and change in ("disable", "role") else runs[change]
    result = _act(hub, ctx, "admin", f"operator_{change}", run, reason=None, target_type="operator",
                  targets=[name], done=lambda _r: ([name], {"role": value} if change == "role" else {}))
    return result if change == "reset_password" else None


def create_token(hub, ctx: Context, operator: str, label: str | None) -> tuple[str, str]:
    """An operator may make tokens for themselves; an admin for anyone."""
    require(ctx.principal, "viewer" if operator == ctx.principal.name else "admin")
    return audited(hub.db, ctx.principal, "create_token",
                   lambda: accounts.create_token(hub.db, operator, label=(label or "").strip() or None,
                                                 by=ctx.principal.name),
                   reason=None, target_type="operator", targets=[operator],
                   done=lambda t: ([operator], {"token_id": t[0]}), remote_addr=ctx.remote_addr)


def revoke_token(hub, ctx: Context, token_id: str) -> None:
    owner = next((t.operator for t in accounts.list_tokens(hub.db) if t.token_id == token_id), None)
    require(ctx.principal, "viewer" if owner == ctx.principal.name else "admin")

    def run() -> None:
        if not accounts.revoke_token(hub.db, token_id):
            raise KeyError(f"no active token {token_id}")

    audited(hub.db, ctx.principal, "revoke_token", run, reason=None, target_type="token", targets=[token_id],
            remote_addr=ctx.remote_addr)
