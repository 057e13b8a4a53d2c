"""The ``render`` step: turn the body into the bytes an endpoint sends, with a registered
renderer, before delivery (the endpoint then uses ``format: raw``).

    - render: fixed                  # shorthand needs no options; most renderers take some:
    - render:
        fixed: {layout: {...}}       # renderer name → its options
    - render: x12.850                # EDI writers register x12.* / edifact.* renderers

A renderer is ``fn(body, options, exchange, env) -> RenderedDocument``; registering one with
``@renderer(name, config=Options)`` makes it available to every route. Bad output (a value
that does not fit a field, a character XML cannot carry) is a StepError naming the record and
field: the message goes to the route's dead-letter queue.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, GetJsonSchemaHandler

from hub.exchange import Exchange
from hub.payloads import RenderedDocument, identity
from hub.registry import RouteEnv, Step, StepError, StrictModel, configure_named, step


@dataclass(frozen=True)
class Renderer:
    name: str
    fn: Callable[[Any, Any, Exchange, RouteEnv], RenderedDocument]
    Config: type[BaseModel] | None
    summary: str


RENDERERS: dict[str, Renderer] = {}


def renderer(name: str, *, config: type[BaseModel] | None = None) -> Callable:
    def register(fn: Callable) -> Callable:
        if name in RENDERERS and RENDERERS[name].fn is not fn:
            raise ValueError(f"renderer {name!r} registered twice")
        RENDERERS[name] = Renderer(name, fn, config, (fn.__doc__ or "").strip().split("\n")[0])
        return fn

    return register


class RenderConfig(StrictModel):
    renderer: str
    options: dict[str, Any] = {}

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        # The route-file schema (hub routes schema) describes what YAML says — `render: fixed` or
        # `render: {fixed: {options}}` — not this normalised form.
        forms: list[dict[str, Any]] = [{"type": "string", "enum": sorted(RENDERERS),
                                        "description": "renderer with default options"}]
        for name, spec in sorted(RENDERERS.items()):
            value = handler(spec.Config.__pydantic_core_schema__) if spec.Config else {"type": "null"}
            forms.append({"type": "object", "properties": {name: value}, "required": [name],
                          "additionalProperties": False})
        return {"anyOf": forms}


@step
class RenderStep(Step):
    kind = "render"
    Config = RenderConfig
    summary = "Render the body to bytes with a registered renderer (fixed, xml, x12.850, edifact.ORDERS ...)."

    @classmethod
    def configure(cls, value: Any) -> BaseModel:
        name, options = configure_named("render", value, RENDERERS, "renderer")
        return RenderConfig(renderer=name, options=options)

    def __init__(self, config: RenderConfig, env: RouteEnv) -> None:
        super().__init__(config, env)
        self.spec = RENDERERS[config.renderer]
        self.options = self.spec.Config.model_validate(config.options) if self.spec.Config else None

    def process(self, ex: Exchange) -> list[Exchange]:
        if isinstance(ex.body, (bytes, bytearray, RenderedDocument)):
            raise StepError(f"render {self.config.renderer}: the body is already bytes; render once, after the "
                            "transforms", code="render_error")
        return [ex.derive(self.spec.fn(ex.body, self.options, ex, self.env))]


def rendered(data: bytes, content_type: str, body: Any) -> RenderedDocument:
    """A RenderedDocument that keeps the source document's type and key (file names, traces)."""
    doc_type, doc_key = identity(body if not isinstance(body, list) or len(body) != 1 else body[0])
    return RenderedDocument(data, content_type, doc_type, doc_key)
