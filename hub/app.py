"""``Hub``: one object holding what every process needs — settings, database, message store,
routes, broker topology, publisher and the Celery app — built from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import cached_property
from typing import Any

from celery import Celery
from kombu import Connection

import hub.broker  # noqa: F401 - registers the hubdb:// transport
from hub.broker.publisher import Publisher, publisher_for
from hub.broker.topology import RouteBinding, Topology
from hub.celery_app import make_celery
from hub.config import Settings, get_settings
from hub.db import Database
from hub.routes.engine import CompiledRoute
from hub.routes.loader import RouteSet
from hub.store import BlobStore, MessageStore


class RoutesInvalid(Exception):
    def __init__(self, problems: list) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class Hub:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self.db = Database(self.settings.resolved_database_url)
        self.store = MessageStore(BlobStore(self.settings.blob_dir), self.settings.inline_max_bytes)

    # -- configuration ---------------------------------------------------------------------

    @cached_property
    def routes(self) -> RouteSet:
        routes = RouteSet.load(self.settings.routes_dir)
        if routes.problems:
            raise RoutesInvalid(routes.problems)
        return routes

    @cached_property
    def topology(self) -> Topology:
        return self.topology_for(self.routes)

    @cached_property
    def compiled(self) -> dict[str, CompiledRoute]:
        return self.compile(self.routes)

    # -- another route set (hub.reload) ----------------------------------------------------

    generation = None  # the route generation in force here (hub.reload.generations.Generation), once taken

    def topology_for(self, routes: RouteSet,
                     bound_since: Mapping[str, Mapping[str, datetime]] | None = None) -> Topology:
        """The broker topology of ``routes``; ``bound_since``: route → key → when a reload bound it."""
        since = bound_since or {}
        return Topology(
            namespace=self.settings.namespace,
            amqp=self.settings.is_amqp,
            delivery_limit=self.settings.delivery_limit,
            routes=[RouteBinding(r.name, r.route.from_.binding_keys(), since.get(r.name, {}))
                    for r in routes.enabled_routes],
            endpoints=sorted(routes.endpoints),
        )

    def compile(self, routes: RouteSet) -> dict[str, CompiledRoute]:
        return {r.name: CompiledRoute(r, self.services) for r in routes.enabled_routes}

    def use_routes(self, routes: RouteSet, topology: Topology, compiled: dict[str, CompiledRoute],
                   generation: Any) -> None:
        """Put another route set in force (built beforehand): one dict update, so a thread of
        this process reads the old set or the new one, not half of each for long."""
        self.__dict__.update(routes=routes, topology=topology, compiled=compiled, generation=generation)

    @property
    def services(self) -> dict[str, Any]:
        return {"db": self.db, "hub": self, "settings": self.settings}

    @cached_property
    def celery(self) -> Celery:
        return make_celery(self.settings)

    # -- broker ----------------------------------------------------------------------------

    def publisher(self) -> Publisher:
        return publisher_for(self.settings.resolved_broker_url, self.settings.confirm_window)

    def connection(self) -> Connection:
        return Connection(self.settings.resolved_broker_url, connect_timeout=10)

    def declare_topology(self) -> None:
        with self.connection() as conn:
            self.topology.declare(conn.default_channel)

    # -- lifecycle -------------------------------------------------------------------------

    def setup(self) -> None:
        """Create/upgrade the schema, take the route generation in force (when one is recorded:
        its routes, not this process's folder, which may hold an edit nobody reloaded yet) and
        declare the broker topology of the routes in force."""
        from hub.reload.follow import take_in_force

        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.db.create_schema()
        if self.generation is None:  # not taken already (hub.cli's commands take it before setup)
            take_in_force(self)
        self.declare_topology()
