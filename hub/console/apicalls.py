"""Running an action for the operations API: off the event loop, with each refusal turned into
its documented status (``hub.console.apimodels.ACT``).

Why statuses by kind: a script replaying letters must tell "someone else closed it" (409, fine
to skip) from "you may not" (403) and "no such letter" (404) without parsing prose.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from fastapi import Request
from fastapi.concurrency import run_in_threadpool

from hub.console.actions import Context, CountChanged, Forbidden
from hub.console.auth import ApiRefused, Viewer, peer
from hub.operations.edits import AlreadyDelivered

T = TypeVar("T")
CONFLICTS = ("not parked any more", "already resolved", "exists already", "no active", "has no parked")


async def call(request: Request, viewer: Viewer, work: Callable[[Context], T]) -> T:
    ctx = Context(viewer.principal, peer(request))
    try:
        return await run_in_threadpool(work, ctx)
    except Forbidden as exc:
        raise ApiRefused(403, str(exc)) from None
    except (CountChanged, AlreadyDelivered) as exc:
        raise ApiRefused(409, str(exc)) from None
    except KeyError as exc:
        reason = str(exc.args[0] if exc.args else exc)
        raise ApiRefused(409 if reason.startswith(CONFLICTS) else 404, reason) from None
    except ValueError as exc:
        reason = str(exc.args[0] if exc.args else exc)
        raise ApiRefused(409 if any(c in reason for c in CONFLICTS) else 400, reason) from None
