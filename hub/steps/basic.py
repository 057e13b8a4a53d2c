"""The small built-in steps: transform, filter, split, set_header."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from hub.conditions import Condition
from hub.exchange import Exchange
from hub.paths import resolve, split_path
from hub.registry import SPLITTERS, TRANSFORMS, Step, StepError, StrictModel, step


class TransformConfig(StrictModel):
    name: str


@step
class TransformStep(Step):
    kind = "transform"
    Config = TransformConfig
    shorthand = "name"
    summary = "Call a registered transform function by name: body → new body."

    @classmethod
    def problems(cls, config: TransformConfig) -> list[str]:
        if config.name not in TRANSFORMS:
            return [f"unknown transform {config.name!r} (known: {', '.join(sorted(TRANSFORMS)) or 'none'})"]
        return []

    def process(self, ex: Exchange) -> list[Exchange]:
        spec = TRANSFORMS[self.config.name]
        try:
            body = spec.fn(ex.body, ex)
        except StepError:
            raise
        except Exception as exc:  # noqa: BLE001 - a transform bug is deterministic: DLQ, not retry
            raise StepError(f"transform {spec.name} failed: {type(exc).__name__}: {exc}", code="transform_error") from exc
        return [ex.derive(body)]


class FilterConfig(StrictModel):
    when: Condition = Field(description="Messages for which this holds go on; the others stop here")


@step
class FilterStep(Step):
    kind = "filter"
    Config = FilterConfig
    summary = "Keep only exchanges for which a declarative condition holds."

    @classmethod
    def configure(cls, value: Any):
        # `filter: {path: …, op: …}` is the condition itself; `filter: {when: …}` also works.
        if isinstance(value, dict) and "when" not in value:
            value = {"when": value}
        return super().configure(value)

    def process(self, ex: Exchange) -> list[Exchange]:
        return [ex] if self.config.when.holds(ex) else []


class SplitConfig(StrictModel):
    by: str = Field(description="A registered splitter (e.g. transaction) or a path to a list (body.lines)")

    @model_validator(mode="after")
    def _path_or_splitter(self) -> SplitConfig:
        if self.by not in SPLITTERS:
            split_path(self.by)
        return self


@step
class SplitStep(Step):
    kind = "split"
    Config = SplitConfig
    shorthand = "by"
    summary = "One exchange becomes one per element of a list (or per EDI transaction)."

    def process(self, ex: Exchange) -> list[Exchange]:
        if self.config.by in SPLITTERS:
            parts = SPLITTERS[self.config.by].fn(ex.body, ex)
        else:
            parts = resolve(ex, self.config.by)
            if parts is None:
                raise StepError(f"split: {self.config.by} is missing", code="split_error")
            if not isinstance(parts, (list, tuple)):
                raise StepError(f"split: {self.config.by} is a {type(parts).__name__}, not a list", code="split_error")
        return [ex.derive(part, part=i) for i, part in enumerate(parts)]


class SetHeaderConfig(StrictModel):
    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
    value: str | int | bool | None = None
    from_: str | None = Field(None, alias="from", description="Path to copy the value from")

    @model_validator(mode="after")
    def _one_source(self) -> SetHeaderConfig:
        if (self.value is None) == (self.from_ is None):
            raise ValueError("give exactly one of value or from")
        if self.from_:
            split_path(self.from_)
        return self


@step
class SetHeaderStep(Step):
    kind = "set_header"
    Config = SetHeaderConfig
    summary = "Set a header from a literal or from a path into the exchange."

    def process(self, ex: Exchange) -> list[Exchange]:
        value = self.config.value if self.config.from_ is None else resolve(ex, self.config.from_)
        out = ex.derive(ex.body)
        out.headers[self.config.name] = value if value is None or isinstance(value, (str, int, bool)) else str(value)
        return [out]
