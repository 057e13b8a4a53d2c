"""Which route generation a worker's batch runs on (hub.reload), kept apart from the rest so
``hub.batches`` and ``hub.worker`` can read it without importing the reload machinery.

The worker's main process dispatches every batch with the generation in force there at that
moment (``generation_for``); a pool process runs the batch on that generation (``batch_hub``
holds the hub view it built for it: hub.reload.pool). So a batch already running finishes on the
set it started with, and the next one dispatched after a swap runs on the new set. A task the new
set no longer has (a removed route whose queue the worker is still draining) is dispatched with
the last generation that had it.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

# Inside a pool job: the hub of the job's generation (read by hub.worker._hub).
batch_hub: ContextVar[Any] = ContextVar("hub_batch_hub", default=None)

_current: int | None = None
_names: frozenset[str] = frozenset()
_last_with: dict[str, int] = {}


def generation_for(task_name: str) -> int | None:
    """The generation to run a batch of ``task_name`` on (None: the pool's own, no reloads here)."""
    if _current is None or task_name in _names:
        return _current
    return _last_with.get(task_name, _current)


def advance(generation: int, task_names: set[str]) -> None:
    """A new generation in force in this process, with these task names."""
    global _current, _names
    if _current is not None:
        for name in _names - task_names:
            _last_with[name] = _current
    for name in task_names:
        _last_with.pop(name, None)
    _current, _names = generation, frozenset(task_names)


def remember(task_name: str, generation: int) -> None:
    """A task the set in force lacks, found left over after a restart (hub.reload.upkeep): its
    batches run on ``generation``, the last that had it."""
    if task_name not in _names:
        _last_with[task_name] = generation


def current() -> int | None:
    return _current
