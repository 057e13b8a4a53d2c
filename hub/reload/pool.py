"""A pool process runs each batch on the route generation it was dispatched with.

The pool processes were forked with the generation the worker had then. When a batch names
another one, the pool process builds a view of the hub for it — the same database, store and
Celery app, that generation's routes, topology and compiled steps — registers the tasks of
routes and endpoints it did not know, and runs the batch with it (``hub.worker._hub`` returns
the view inside the job). The few newest views are kept, so a worker draining a removed route
on the generation before does not rebuild one per batch.
"""

from __future__ import annotations

import copy
import logging
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

from hub.reload.dispatch import batch_hub

log = logging.getLogger(__name__)

KEEP_VIEWS = 3
_views: OrderedDict[int, object] = OrderedDict()


@contextmanager
def running(generation: int | None) -> Iterator:
    """The hub to run a batch with, seen by ``hub.worker._hub`` for the batch's duration."""
    from hub import worker

    hub = view_for(worker._hub(), generation)
    token = batch_hub.set(hub)
    try:
        yield hub
    finally:
        batch_hub.reset(token)


def view_for(base, generation: int | None):
    running_here = base.generation.id if base.generation is not None else None
    if generation is None or generation == running_here:
        return base
    if generation in _views:
        _views.move_to_end(generation)
        return _views[generation]
    view = _build(base, generation)
    if view is None:
        return base
    _views[generation] = view
    while len(_views) > KEEP_VIEWS:
        _views.popitem(last=False)
    return view


def _build(base, generation: int):
    from hub.reload.follow import build, put_in_force
    from hub.reload.generations import fetch, load_snapshot

    found = fetch(base.db, generation)
    routes = load_snapshot(found.snapshot) if found is not None and found.snapshot is not None else None
    if routes is None or routes.problems:
        # The main process took this generation, so it builds; if it does not here, the batch
        # runs on the set this process has rather than not at all.
        log.error("pool process: route generation %s cannot be built here (%s); batch runs on generation %s",
                  generation, routes.problems[0] if routes else "no texts", base.generation.id if base.generation
                  else None)
        return None
    view = copy.copy(base)
    put_in_force(view, build(view, found, routes))
    _register_tasks(view)
    _forget_senders(base, view)
    return view


def _register_tasks(view) -> None:
    """Tasks of routes and endpoints this pool process did not know (a batch names its task)."""
    from hub.worker import _register_endpoint, _register_route

    app = view.celery
    for route in view.compiled:
        if f"hub.route.{route}" not in app.tasks:
            _register_route(app, view, route)
    for endpoint in view.routes.endpoints:
        if f"hub.deliver.{endpoint}" not in app.tasks:
            _register_endpoint(app, view, endpoint)


def _forget_senders(base, view) -> None:
    """An endpoint whose configuration changed gets a new sender (the delivery module keeps one
    per endpoint name per process). Only when moving forward: a view of an older generation
    (finishing a removed route) shares the newer senders rather than bringing old ones back."""
    from hub.delivery import deliver

    def number(h) -> int:
        return h.generation.id if h.generation is not None else 0

    newest = max([base, *_views.values()], key=number)
    if number(view) < number(newest):
        return
    for name, endpoint in view.routes.endpoints.items():
        if newest.routes.endpoints.get(name) != endpoint:
            deliver._senders.pop(name, None)
