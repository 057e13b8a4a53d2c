"""``validate: <DocumentType>``: check the body against a canonical model.

    - validate: InventoryAdjustment
    - validate: {model: ship_notice, schema_version: "1.0"}   # pin the version this route emits

A dict (or a list of dicts) becomes model instances; a failure names the document, the field
path and the reason, and the source line when the document carries ``source_ref``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from hub.exchange import Exchange
from hub.registry import Step, StepError, StrictModel, step


def resolve_model(name: str) -> type[BaseModel]:
    from hub.canonical import get_model

    return get_model(name)


class ValidateConfig(StrictModel):
    model: str
    schema_version: str | None = None


@step
class ValidateStep(Step):
    kind = "validate"
    Config = ValidateConfig
    shorthand = "model"
    summary = "Validate the body against a canonical document model (optionally pinning its schema version)."

    @classmethod
    def problems(cls, config: ValidateConfig) -> list[str]:
        try:
            model = resolve_model(config.model)
        except KeyError as exc:
            return [str(exc.args[0]) if exc.args else f"unknown model {config.model!r}"]
        pinned, actual = config.schema_version, getattr(model, "SCHEMA_VERSION", None)
        if pinned is not None and pinned != actual:
            return [f"route pins {config.model} schema_version {pinned!r} but the hub emits {actual!r}"]
        return []

    def __init__(self, config: ValidateConfig, env) -> None:
        super().__init__(config, env)
        self.model = resolve_model(config.model)

    def process(self, ex: Exchange) -> list[Exchange]:
        body = ex.body
        if isinstance(body, list):
            return [ex.derive([self._one(item, i) for i, item in enumerate(body)])]
        return [ex.derive(self._one(body, None))]

    def _one(self, doc: Any, index: int | None) -> BaseModel:
        if isinstance(doc, self.model):
            doc = doc.model_dump(mode="python")
        try:
            return self.model.model_validate(doc)
        except ValidationError as err:
            raise StepError(self._describe(err, doc, index), code="invalid_document") from None

    def _describe(self, err: ValidationError, doc: Any, index: int | None) -> str:
        where = f"{self.model.__name__}" + (f"[{index}]" if index is not None else "")
        meta = doc.get("meta") if isinstance(doc, dict) else None
        source = (meta or {}).get("source_ref") if isinstance(meta, dict) else None
        issues = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(document)'}: {e['msg']}" for e in err.errors()[:10]
        )
        more = f" (and {err.error_count() - 10} more)" if err.error_count() > 10 else ""
        return f"{where}{f' from {source}' if source else ''} is invalid: {issues}{more}"
