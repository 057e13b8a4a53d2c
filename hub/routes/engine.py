"""Running a route's steps in-process: one inbound exchange in, deliverable exchanges out.

The same engine serves the worker (``hub.route.<name>`` tasks) and ``hub routes test``, so
what a developer tests locally is exactly what runs on the broker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hub.delivery.states import SIDE_SEQ
from hub.exchange import Exchange, SideOutput
from hub.payloads import identity, render
from hub.registry import Step, StepError
from hub.routes.loader import LoadedRoute


@dataclass
class RouteOutcome:
    outputs: list[Exchange] = field(default_factory=list)
    held: list[Exchange] = field(default_factory=list)
    filtered: int = 0
    side_outputs: list[SideOutput] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    exceptions: list[dict[str, Any]] = field(default_factory=list)

    def _absorb(self, ex: Exchange) -> None:
        for w in ex.warnings:
            if w not in self.warnings:
                self.warnings.append(w)
        for e in ex.exceptions:
            if e not in self.exceptions:
                self.exceptions.append(e)


class CompiledRoute:
    def __init__(self, loaded: LoadedRoute, services: dict[str, Any] | None = None) -> None:
        self.loaded = loaded
        self.route = loaded.route
        self.steps: list[Step] = loaded.build_steps(services)

    @property
    def name(self) -> str:
        return self.route.name

    def run(self, ex: Exchange) -> RouteOutcome:
        """Run every step. A StepError propagates to the caller (the message is dead-lettered)."""
        outcome = RouteOutcome()
        current = [ex]
        for step in self.steps:
            produced: list[Exchange] = []
            for item in current:
                result = step.process(item)
                if not result:
                    outcome.filtered += 1
                    outcome._absorb(item)
                for out in result:
                    outcome.side_outputs.extend(out.side_outputs)
                    out.side_outputs = []
                    if out.held:
                        outcome.held.append(out)
                        outcome._absorb(out)
                    else:
                        produced.append(out)
            current = produced
        for out in current:
            outcome._absorb(out)
        outcome.outputs = current
        return outcome


Rendered = tuple[str, int, bytes, str, str | None, str | None]


def render_outputs(routes, compiled: CompiledRoute, outcome: RouteOutcome) -> list[Rendered]:
    """(endpoint, seq, payload, content type, document type, document key) for every delivery:
    each output for each endpoint in ``to`` (multicast), then the side outputs."""
    out = []
    for seq, ex in enumerate(outcome.outputs):
        doc_type, doc_key = identity(ex.body)
        for endpoint in compiled.route.to:
            fmt = routes.endpoint(endpoint).payload_format
            try:
                body, ctype = render(ex.body, fmt)
            except (ValueError, TypeError) as exc:
                raise StepError(f"cannot render output {seq} for endpoint {endpoint} as {fmt}: {exc}",
                                code="render_error") from None
            out.append((endpoint, seq, body, ctype, doc_type, doc_key))
    for i, side in enumerate(outcome.side_outputs):
        out.append((side.endpoint, SIDE_SEQ + i, side.body, side.content_type, side.document_type, side.document_key))
    return out
