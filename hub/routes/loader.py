"""Load a folder of route files, validate everything, and report problems as file:line.

``RouteSet.load(dir)`` never raises for bad files: it collects every problem (unknown step,
transform or endpoint; bad match; duplicate name; bad config) so ``hub routes validate``
can print them all at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from hub.registry import STEPS, RouteEnv, Step, load_plugins
from hub.routes.model import NAME, Channel, Endpoint, Route, RouteFile
from hub.yamlfile import Problem, YamlDoc, load_yaml


def route_files(directory: Path) -> list[Path]:
    """The files a route folder is made of, in the order they are read."""
    return sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml"))


@dataclass
class LoadedRoute:
    route: Route
    doc: YamlDoc
    loc: tuple[Any, ...]  # where the route sits in its file, e.g. ("routes", 2)
    step_configs: list[tuple[type[Step], BaseModel]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.route.name

    @property
    def line(self) -> int:
        return self.doc.line_of(self.loc)

    def build_steps(self, services: dict[str, Any] | None = None) -> list[Step]:
        env = RouteEnv(self.name, dict(services or {}))
        return [cls(config, env) for cls, config in self.step_configs]


@dataclass
class RouteSet:
    directory: Path
    routes: dict[str, LoadedRoute] = field(default_factory=dict)
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    channels: dict[str, Channel] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def enabled_routes(self) -> list[LoadedRoute]:
        return [r for r in self.routes.values() if r.route.enabled]

    def endpoint(self, name: str) -> Endpoint:
        return self.endpoints[name]

    @classmethod
    def load(cls, directory: Path, texts: dict[str, str] | None = None) -> RouteSet:
        """The route files of ``directory``; with ``texts`` (file name → text, a route
        generation's snapshot: hub.reload) those texts instead of the files on disk, read as
        the files of ``directory`` so every problem still names its file:line."""
        load_plugins()
        rs = cls(Path(directory))
        if texts is None and not rs.directory.is_dir():
            rs.problems.append(Problem(str(directory), 1, "routes folder does not exist"))
            return rs
        endpoint_docs: dict[str, tuple[YamlDoc, tuple]] = {}
        for path in route_files(rs.directory) if texts is None else [rs.directory / name for name in texts]:
            doc, problems = load_yaml(path, text=None if texts is None else texts[path.name])
            rs.problems.extend(problems)
            if doc is not None:
                rs._add_file(doc, endpoint_docs)
        rs._check_references(endpoint_docs)
        rs.problems.sort()
        return rs

    def _add_file(self, doc: YamlDoc, endpoint_docs: dict[str, tuple[YamlDoc, tuple]]) -> None:
        if doc.data is None:
            return
        if not isinstance(doc.data, dict):
            self.problems.append(Problem(doc.name, 1, "a route file is a mapping with routes/endpoints keys"))
            return
        # Validate each route and endpoint on its own, so one bad entry does not hide the others.
        shell = {k: v for k, v in doc.data.items() if k not in ("route", "routes", "endpoints", "channels")}
        try:
            RouteFile.model_validate(shell)
        except ValidationError as err:
            self.problems.extend(doc.validation_problems(err))
        entries: list[tuple[tuple, Any]] = []
        if "route" in doc.data:
            entries.append((("route",), doc.data["route"]))
        routes = doc.data.get("routes") or []
        if not isinstance(routes, list):
            self.problems.append(doc.problem(("routes",), "routes must be a list"))
            routes = []
        entries += [(("routes", i), r) for i, r in enumerate(routes)]
        for loc, raw in entries:
            self._add_route(doc, loc, raw)
        endpoints = doc.data.get("endpoints") or {}
        if not isinstance(endpoints, dict):
            self.problems.append(doc.problem(("endpoints",), "endpoints must be a mapping of name → endpoint"))
            return
        for name, raw in endpoints.items():
            self._add_endpoint(doc, name, raw, endpoint_docs)
        channels = doc.data.get("channels") or {}
        if not isinstance(channels, dict):
            self.problems.append(doc.problem(("channels",), "channels must be a mapping of name → channel"))
            return
        for name, raw in channels.items():
            self._add_channel(doc, name, raw)

    def _add_channel(self, doc: YamlDoc, name: str, raw: Any) -> None:
        loc = ("channels", name)
        if not re.match(NAME, name):
            self.problems.append(doc.problem(loc, f"channel name {name!r} must match {NAME}"))
        elif name in self.channels:
            self.problems.append(doc.problem(loc, f"duplicate channel name {name!r}"))
        else:
            try:
                self.channels[name] = Channel.model_validate(raw)
            except ValidationError as err:
                self.problems.extend(doc.validation_problems(err, loc))

    def _add_route(self, doc: YamlDoc, loc: tuple, raw: Any) -> None:
        try:
            route = Route.model_validate(raw)
        except ValidationError as err:
            self.problems.extend(doc.validation_problems(err, loc))
            return
        if route.name in self.routes:
            first = self.routes[route.name]
            self.problems.append(doc.problem(
                loc, f"duplicate route name {route.name!r} (first defined at {first.doc.name}:{first.line})"))
            return
        loaded = LoadedRoute(route, doc, loc)
        for i, spec in enumerate(route.steps):
            parsed = self._parse_step(doc, (*loc, "steps", i), spec)
            if parsed is not None:
                loaded.step_configs.append(parsed)
        self.routes[route.name] = loaded

    def _parse_step(self, doc: YamlDoc, loc: tuple, spec: dict[str, Any]) -> tuple[type[Step], BaseModel] | None:
        (kind, value), = spec.items()
        cls = STEPS.get(kind)
        if cls is None:
            known = ", ".join(sorted(STEPS))
            self.problems.append(doc.problem(loc, f"unknown step {kind!r} (known steps: {known})"))
            return None
        try:
            config = cls.configure(value)
        except ValidationError as err:
            self.problems.extend(doc.validation_problems(err, (*loc, kind)))
            return None
        except ValueError as err:
            self.problems.append(doc.problem((*loc, kind), f"{kind}: {err}"))
            return None
        for reason in cls.problems(config):
            self.problems.append(doc.problem((*loc, kind), f"{kind}: {reason}"))
        return cls, config

    def _add_endpoint(self, doc: YamlDoc, name: str, raw: Any, seen: dict[str, tuple[YamlDoc, tuple]]) -> None:
        loc = ("endpoints", name)
        if name in seen:
            first_doc, first_loc = seen[name]
            self.problems.append(doc.problem(
                loc, f"duplicate endpoint name {name!r} (first defined at {first_doc.name}:{first_doc.line_of(first_loc)})"))
            return
        try:
            if not re.match(NAME, name):
                raise ValueError(f"endpoint name {name!r} must match {NAME}")
            self.endpoints[name] = Endpoint.model_validate(raw)
            seen[name] = (doc, loc)
        except ValidationError as err:
            self.problems.extend(doc.validation_problems(err, loc))
        except ValueError as err:
            self.problems.append(doc.problem(loc, str(err)))

    def _check_references(self, endpoint_docs: dict[str, tuple[YamlDoc, tuple]]) -> None:
        for name, endpoint in self.endpoints.items():
            test = endpoint.test_endpoint
            if test is not None and (test not in self.endpoints or test == name):
                doc, loc = endpoint_docs[name]
                reason = "an endpoint cannot be its own test endpoint" if test == name else \
                    f"unknown endpoint {test!r} in 'test_endpoint'"
                self.problems.append(doc.problem((*loc, "test_endpoint"), reason))
        for lr in self.routes.values():
            for i, name in enumerate(lr.route.to):
                if name not in self.endpoints:
                    self.problems.append(lr.doc.problem((*lr.loc, "to", i), f"unknown endpoint {name!r} in 'to'"))
            for i, name in enumerate(lr.route.on_error.dead_letter.notify):
                if name not in self.endpoints:
                    self.problems.append(lr.doc.problem(
                        (*lr.loc, "on_error", "dead_letter", "notify", i), f"unknown endpoint {name!r} in notify"))
