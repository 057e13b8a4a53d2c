"""A pool process runs each batch on the route generation it was dispatched with.

The pool processes were forked with the generation the worker had then. When a batch names
another one, the pool process builds a view of the hub for it — the same database, store and
Celery app, that generation's routes, topology and compiled steps — registers the tasks of
routes and endpoints it did not know, and runs the batch with it (``hub.worker._hub`` returns
the view inside the job). The few newest views are kept, so a worker draining a removed route
on the generation before does not rebuild one per batch.

A batch never runs on another generation than the one it was dispatched with (a changed route
would run its old definition, a new one would not be found). The database being away while the
view is built is waited out in place, as any batch's work is (``hub.worker.while_database_away``);
a generation that cannot be built here (its texts are no longer kept) sends the batch back to
its queue (``Reject(requeue=True)``), and is remembered, so the store is not asked again per batch.
"""

from __future__ import annotations

import copy
import logging
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

from celery.exceptions import Reject

from hub.reload.dispatch import batch_hub

log = logging.getLogger(__name__)

KEEP_VIEWS = 3
_views: OrderedDict[int, object] = OrderedDict()
_unbuildable: dict[int, str] = {}  # generation → why this process cannot build it (it will not change)


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
    """The hub to run a batch dispatched with ``generation`` on: ``base`` if that is the one in
    force here, else a view built for it. Raises ``Reject(requeue=True)`` when it cannot be built."""
    from hub.worker import while_database_away

    running_here = base.generation.id if base.generation is not None else None
    if generation is None or generation == running_here:
        return base
    if generation in _views:
        _views.move_to_end(generation)
        return _views[generation]
    if generation not in _unbuildable:
        view = while_database_away(lambda: _build(base, generation), f"route generation {generation} built")
        if view is not None:
            _views[generation] = view
            while len(_views) > KEEP_VIEWS:
                _views.popitem(last=False)
            return view
    raise Reject(f"route generation {generation} cannot be built in this process: {_unbuildable[generation]}",
                 requeue=True)


def _build(base, generation: int):
    """The view of ``generation``, or None (the reason kept in ``_unbuildable``)."""
    from hub.reload.follow import build, put_in_force
    from hub.reload.generations import fetch, load_snapshot

    found = fetch(base.db, generation)
    routes = load_snapshot(found.snapshot) if found is not None and found.snapshot is not None else None
    if routes is None or routes.problems:
        # The main process took this generation, so it builds; if it does not here (its texts are
        # gone), running the batch on another set would run other definitions: it goes back.
        _unbuildable[generation] = (str(routes.problems[0]) if routes is not None else
                                    "no such generation" if found is None else "its texts are no longer kept")
        log.error("pool process: route generation %s cannot be built here (%s); its batches go back to their queue",
                  generation, _unbuildable[generation])
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
            close_sender(deliver._senders.pop(name, None))


def close_sender(sender) -> None:
    """Close what a forgotten sender holds (HTTP keep-alive sockets, an SFTP session): a reload
    must not leak one per changed endpoint per pool process."""
    close = getattr(sender, "close", None)
    if close is None:
        return
    try:
        close()
    except Exception:  # noqa: BLE001 - a broken connection being closed: nothing more to release
        log.debug("closing the sender of a changed endpoint failed", exc_info=True)
