"""What reloads leave behind, looked after again and again rather than once.

A reload's own work may not finish: the broker may refuse an unbind after the generation was
recorded, and a worker draining a removed route's queue may be restarted before the queue is
empty. Neither may depend on one process doing one thing at one moment, so every worker looks,
at its start and every ``UPKEEP`` seconds, at the newest ``KEEP`` generations:

- ``stale_bindings``: the ingress bindings an earlier generation put in force that the one in
  force no longer has — unbound again (unbinding what is already gone changes nothing), so a
  removed route's queue stops receiving copies even when the reload's own unbind failed;
- ``leftovers``: routes and endpoints an earlier generation had and the one in force does not,
  whose queues may still hold messages — the worker drains each one that does, on the last
  generation that had it (hub.reload.worker), as it would have had it not been restarted.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from hub.reload.generations import Generation

log = logging.getLogger(__name__)

UPKEEP = 30.0  # seconds between two looks at what reloads may have left behind


def stale_bindings(generations: list[Generation], current: Generation) -> set[tuple[str, str]]:
    """(route, key) pairs bound by an earlier generation and not by ``current`` (generations
    recorded before bindings were kept with them say nothing, and are skipped)."""
    now = current.changes.get("bindings")
    if now is None:
        return set()
    bound_now = {(route, key) for route, keys in now.items() for key in keys}
    earlier = {(route, key) for g in generations if g.id < current.id
               for route, keys in (g.changes.get("bindings") or {}).items() for key in keys}
    return earlier - bound_now


def unbind(hub, topology, pairs: set[tuple[str, str]]) -> list[tuple[str, str]]:
    """Unbind each (route, key) from the ingress exchange, on one connection. A queue that is
    gone has nothing to unbind. Returns the pairs unbound on a queue that exists; raises only
    when the broker cannot be reached."""
    unbound = []
    with hub.connection() as conn:
        for route, key in sorted(pairs):
            queue = topology.queue_name("route", route)
            with _own_channel(conn) as channel:  # a missing queue closes the channel it was asked on
                try:
                    channel.queue_declare(queue=queue, passive=True)
                except Exception:  # noqa: BLE001 - not there: no binding either
                    continue
                channel.queue_unbind(queue=queue, exchange=topology.ingress.name, routing_key=key)
                unbound.append((route, key))
    return unbound


def ready_counts(hub, queues: list[str]) -> dict[str, int]:
    """Messages ready in each queue that exists (one connection; a missing queue is left out)."""
    counts = {}
    with hub.connection() as conn:
        for queue in queues:
            with _own_channel(conn) as channel:
                try:
                    counts[queue] = channel.queue_declare(queue=queue, passive=True).message_count
                except Exception:  # noqa: BLE001 - gone: nothing in it
                    continue
    return counts


@contextmanager
def _own_channel(conn) -> Iterator:
    """A channel of its own for one question the broker may answer by closing it."""
    channel = conn.channel()
    try:
        yield channel
    finally:
        try:
            channel.close()
        except Exception:  # noqa: BLE001 - closed by the broker already
            pass


@dataclass(frozen=True)
class Leftover:
    """A route or endpoint an earlier generation had, and the last generation that had it."""

    kind: str  # "route" or "endpoint"
    name: str
    last_generation: int

    @property
    def task_name(self) -> str:
        return f"hub.route.{self.name}" if self.kind == "route" else f"hub.deliver.{self.name}"


def leftovers(generations: list[Generation], routes_now: set[str], endpoints_now: set[str]) -> list[Leftover]:
    """Routes (enabled) and endpoints one of ``generations`` (oldest first, texts kept) ran that
    the set in force does not, each with the newest generation that ran it (generations
    recorded before they kept what they ran say nothing)."""
    last: dict[tuple[str, str], int] = {}
    for g in generations:
        for route in g.changes.get("bindings") or {}:
            last[("route", route)] = g.id
        for endpoint in g.changes.get("endpoint_names") or ():
            last[("endpoint", endpoint)] = g.id
    running = {("route", n) for n in routes_now} | {("endpoint", n) for n in endpoints_now}
    return [Leftover(kind, name, gid) for (kind, name), gid in sorted(last.items()) if (kind, name) not in running]
