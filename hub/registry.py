"""Registries of route steps, parsers and transforms, and plugin discovery.

A route YAML names steps (``parse``, ``transform`` ...), parsers (``parse: csv``) and
transforms (``transform: inventory.cycle_count_to_adjustments``). Each is registered here by
the module that implements it, with its config schema and a line of docs (Benthos-style:
the component carries its own schema and docs). Plugins are modules listed under the
``supply_hub.plugins`` entry point group; importing one registers its components.
"""

from __future__ import annotations

import importlib
import pkgutil
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

if TYPE_CHECKING:
    from hub.exchange import Exchange


class StepError(Exception):
    """A step cannot process this input. Deterministic: not retried; the message goes to the
    route's dead-letter queue with this reason. ``location`` names the place in the input
    (``row 7, column 'Counted Qty'``, ``segment 12 (SN1), element 2``)."""

    def __init__(self, reason: str, *, location: str | None = None, code: str = "step_error") -> None:
        self.reason = reason
        self.location = location
        self.code = code
        super().__init__(f"{location}: {reason}" if location else reason)


class StrictModel(BaseModel):
    """Base for step configs: unknown keys are errors, so typos in YAML are reported."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass
class RouteEnv:
    """What a step may use when it is built: settings and shared services (database, partner
    registry ...). Steps look services up by name so the registry stays independent of them."""

    route_name: str
    services: dict[str, Any] = field(default_factory=dict)

    def service(self, name: str) -> Any:
        try:
            return self.services[name]
        except KeyError:
            raise StepError(f"route {self.route_name!r} needs service {name!r}, which this process lacks") from None


class Step(ABC):
    """A route step. ``kind`` is its YAML key; ``Config`` validates the YAML value; if the YAML
    value is a scalar, it fills the field named by ``shorthand`` (``transform: my.fn``)."""

    kind: ClassVar[str]
    Config: ClassVar[type[BaseModel]]
    shorthand: ClassVar[str | None] = None
    summary: ClassVar[str] = ""

    def __init__(self, config: BaseModel, env: RouteEnv) -> None:
        self.config = config
        self.env = env

    @classmethod
    def configure(cls, value: Any) -> BaseModel:
        """The YAML value → Config: a scalar fills the ``shorthand`` field; null means {}.
        Raises pydantic's ValidationError (locations relative to the value) or ValueError."""
        if value is None:
            value = {}
        elif not isinstance(value, dict):
            if cls.shorthand is None:
                raise ValueError(f"needs a mapping of options, not {value!r}")
            value = {cls.shorthand: value}
        return cls.Config.model_validate(value)

    @classmethod
    def problems(cls, config: BaseModel) -> list[str]:
        """Problems found without running (unknown transform, unknown model ...)."""
        return []

    @abstractmethod
    def process(self, ex: Exchange) -> list[Exchange]:
        """Return the exchanges that go on: [] filters, [ex] passes, several split."""


def configure_named(kind: str, value: Any, components: dict[str, Any], what: str) -> tuple[str, dict[str, Any]]:
    """``<kind>: name`` or ``<kind>: {name: {options}}`` → (name, options), the options checked
    against the named component's ``Config``; option errors are located under the name, so
    the YAML loader points at the exact line. Used by ``parse`` (parsers) and ``render``."""
    if isinstance(value, str):
        name, options = value, {}
    elif isinstance(value, dict) and len(value) == 1:
        (name, options), = value.items()
        name, options = str(name), options or {}
    else:
        raise ValueError(f"write '- {kind}: <{what}>' or '- {kind}: {{<{what}>: {{options}}}}'")
    spec = components.get(name)
    if spec is None:
        raise ValueError(f"unknown {what} {name!r} (known {what}s: {', '.join(sorted(components)) or 'none'})")
    if spec.Config is None:
        if options:
            raise ValueError(f"{what} {name!r} takes no options")
    else:
        try:
            spec.Config.model_validate(options)
        except ValidationError as err:
            errors = [{**e, "loc": (name, *e["loc"])} for e in err.errors()]
            for e in errors:
                e.pop("url", None)
                if "error" in e.get("ctx", {}):
                    e["ctx"] = {**e["ctx"], "error": str(e["ctx"]["error"])}
                    e["type"] = "value_error"
            raise ValidationError.from_exception_data(err.title, errors) from None  # type: ignore[arg-type]
    return name, options


STEPS: dict[str, type[Step]] = {}


def step(cls: type[Step]) -> type[Step]:
    """Class decorator registering a step kind."""
    if cls.kind in STEPS and STEPS[cls.kind] is not cls:
        raise ValueError(f"step kind {cls.kind!r} registered twice")
    STEPS[cls.kind] = cls
    return cls


@dataclass(frozen=True)
class Parser:
    """Turns raw bytes into a body: ``fn(raw, config, exchange) -> body``."""

    name: str
    fn: Callable[[bytes, Any, Exchange], Any]
    Config: type[BaseModel] | None
    summary: str


PARSERS: dict[str, Parser] = {}


def parser(name: str, *, config: type[BaseModel] | None = None, summary: str = "") -> Callable:
    def register(fn: Callable) -> Callable:
        if name in PARSERS and PARSERS[name].fn is not fn:
            raise ValueError(f"parser {name!r} registered twice")
        PARSERS[name] = Parser(name, fn, config, summary or (fn.__doc__ or "").strip().split("\n")[0])
        return fn

    return register


@dataclass(frozen=True)
class Transform:
    """A named function ``fn(body, exchange) -> body``; ``emits`` names the canonical
    document type it produces, when it produces one."""

    name: str
    fn: Callable[[Any, Exchange], Any]
    summary: str
    emits: str | None


TRANSFORMS: dict[str, Transform] = {}


def transform(name: str, *, emits: str | None = None) -> Callable:
    def register(fn: Callable) -> Callable:
        if name in TRANSFORMS and TRANSFORMS[name].fn is not fn:
            raise ValueError(f"transform {name!r} registered twice")
        TRANSFORMS[name] = Transform(name, fn, (fn.__doc__ or "").strip().split("\n")[0], emits)
        return fn

    return register


@dataclass(frozen=True)
class Splitter:
    """Splits a body into parts: ``fn(body, exchange) -> list[body]``. Used by ``split: <name>``
    (e.g. ``split: transaction`` from the EDI engines); any other ``split:`` value is a path."""

    name: str
    fn: Callable[[Any, Exchange], list[Any]]
    summary: str


SPLITTERS: dict[str, Splitter] = {}


def splitter(name: str) -> Callable:
    def register(fn: Callable) -> Callable:
        if name in SPLITTERS and SPLITTERS[name].fn is not fn:
            raise ValueError(f"splitter {name!r} registered twice")
        SPLITTERS[name] = Splitter(name, fn, (fn.__doc__ or "").strip().split("\n")[0])
        return fn

    return register


_loaded = False


def load_plugins() -> None:
    """Import the built-in steps, every module of the ``transforms`` package, the modules
    named by the ``supply_hub.plugins`` entry points (the EDI engines register that way), and
    the modules listed in ``HUB_PLUGINS``."""
    global _loaded
    if _loaded:
        return
    from hub.config import get_settings

    importlib.import_module("hub.steps")
    import transforms

    for info in pkgutil.iter_modules(transforms.__path__, "transforms."):
        importlib.import_module(info.name)
    for ep in entry_points(group="supply_hub.plugins"):
        ep.load()
    for name in filter(None, (m.strip() for m in get_settings().plugins.split(","))):
        importlib.import_module(name)
    _loaded = True
