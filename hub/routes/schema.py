"""JSON Schema of route files, built from the models and from every registered step and
parser — so an editor (VS Code's YAML extension, IntelliJ) completes and checks route YAML,
plugins included. ``hub routes schema`` prints it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from hub.conditions import Condition
from hub.registry import PARSERS, STEPS, load_plugins
from hub.routes.model import RouteFile


def route_file_schema() -> dict[str, Any]:
    load_plugins()
    models: list[type[BaseModel]] = [RouteFile]
    models += [cls.Config for cls in STEPS.values()]
    models += [p.Config for p in PARSERS.values() if p.Config is not None]
    models.append(Condition)
    keys, top = models_json_schema([(m, "validation") for m in dict.fromkeys(models)],
                                   ref_template="#/$defs/{model}")
    defs = top["$defs"]

    def ref(model: type[BaseModel]) -> dict[str, Any]:
        return keys[(model, "validation")]

    step_options = []
    for kind, cls in sorted(STEPS.items()):
        if kind == "parse":
            value = {"anyOf": [
                {"type": "string", "enum": sorted(PARSERS), "description": "parser with default options"},
                *({"type": "object", "properties": {name: ref(p.Config) if p.Config else {"type": "null"}},
                   "required": [name], "additionalProperties": False} for name, p in sorted(PARSERS.items())),
            ]}
        elif kind == "filter":  # `filter: {when: …}` or the condition itself
            value = {"anyOf": [ref(cls.Config), ref(Condition)]}
        elif cls.shorthand:
            shorthand_type = cls.Config.model_json_schema()["properties"][cls.shorthand]
            value = {"anyOf": [ref(cls.Config), {k: v for k, v in shorthand_type.items() if k != "title"}]}
        else:
            value = ref(cls.Config)
        step_options.append({"type": "object", "description": cls.summary, "properties": {kind: value},
                             "required": [kind], "additionalProperties": False})
    route = defs["Route"]
    route["properties"]["steps"]["items"] = {"oneOf": step_options}
    schema = dict(ref(RouteFile))
    schema = {**defs[schema["$ref"].split("/")[-1]], "$defs": defs}
    _allow_env_references(schema)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Supply Hub route file"
    return schema


ENV_REFERENCE = {"type": "string", "pattern": r"\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}",
                 "description": "filled from the environment when the file is loaded"}


def _allow_env_references(node: Any) -> None:
    """String values may be ``${VAR}`` references, substituted before validation: let every
    patterned or enumerated string accept one too, so editors do not flag them."""
    if isinstance(node, dict):
        for key, value in list(node.items()):
            if _patterned(value):
                node[key] = {"anyOf": [value, ENV_REFERENCE]}
            else:
                _allow_env_references(value)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            if _patterned(item):  # an optional one: anyOf [patterned string, null]
                node[index] = {"anyOf": [item, ENV_REFERENCE]}
            else:
                _allow_env_references(item)


def _patterned(value: Any) -> bool:
    return isinstance(value, dict) and value.get("type") == "string" and ("pattern" in value or "enum" in value)
