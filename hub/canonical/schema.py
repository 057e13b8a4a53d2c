"""JSON Schema export of the canonical documents and the compatibility check between two exports.

``export_schemas(dir)`` writes ``<document_type>.schema.json`` per document type.
``compare_dirs(old, new)`` lists every difference that matters to a consumer, each with its JSON
path (``$.lines[].qty_shipped``). Breaking: a removed document type or field, a newly required
field, a type that accepts less than before (type changed, nullable dropped, enum value removed,
const/pattern/format changed, tighter bounds, union branch removed). Additive: new document
types, new optional fields, new enum values, wider types.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.canonical import DOCUMENT_TYPES
from hub.canonical.base import Document

SUFFIX = ".schema.json"


@dataclass(frozen=True)
class Finding:
    document_type: str
    path: str
    message: str
    breaking: bool

    def __str__(self) -> str:
        kind = "BREAKING" if self.breaking else "additive"
        return f"{kind}: {self.document_type} {self.path}: {self.message}"


def document_schema(cls: type[Document]) -> dict[str, Any]:
    schema = cls.model_json_schema(mode="validation")
    schema["$id"] = f"urn:supply-hub:canonical:{cls.type_name()}:{cls.SCHEMA_VERSION}"
    schema["x-schema-version"] = cls.SCHEMA_VERSION
    return schema


def schema_text(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def export_schemas(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, cls in sorted(DOCUMENT_TYPES.items()):
        path = directory / f"{name}{SUFFIX}"
        path.write_text(schema_text(document_schema(cls)), encoding="utf-8")
        written.append(path)
    return written


class SchemaDirError(ValueError):
    """A schema directory is missing or holds a file that is not JSON."""


def load_dir(directory: Path) -> dict[str, dict[str, Any]]:
    if not directory.is_dir():
        raise SchemaDirError(f"{directory}: not a directory")
    schemas = {}
    for path in sorted(directory.glob(f"*{SUFFIX}")):
        try:
            schemas[path.name[: -len(SUFFIX)]] = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SchemaDirError(f"{path}: not valid JSON ({exc})") from None
    if not schemas:
        raise SchemaDirError(f"{directory}: no *{SUFFIX} files")
    return schemas


def compare_dirs(old_dir: Path, new_dir: Path) -> list[Finding]:
    old, new = load_dir(old_dir), load_dir(new_dir)
    findings: list[Finding] = []
    for name in sorted(old.keys() | new.keys()):
        if name not in new:
            findings.append(Finding(name, "$", "document type removed", True))
        elif name not in old:
            findings.append(Finding(name, "$", "document type added", False))
        else:
            findings.extend(_Comparer(name, old[name], new[name]).run())
    return findings


# Keywords whose values, when changed, change what is accepted. Numbers: direction matters.
_TIGHTER_IF_GREATER = ("minLength", "minItems", "minimum", "exclusiveMinimum", "minProperties")
_TIGHTER_IF_SMALLER = ("maxLength", "maxItems", "maximum", "exclusiveMaximum", "maxProperties")
_MUST_STAY = ("const", "pattern", "format")


class _Comparer:
    def __init__(self, name: str, old_root: dict, new_root: dict) -> None:
        self.name = name
        self.roots = (old_root, new_root)
        self.seen: set[tuple[str, str, str]] = set()

    def run(self) -> list[Finding]:
        return list(self._compare(self.roots[0], self.roots[1], "$"))

    def _finding(self, path: str, message: str, breaking: bool) -> Finding:
        return Finding(self.name, path, message, breaking)

    def _resolve(self, schema: dict, root: dict) -> tuple[dict, str | None]:
        ref = schema.get("$ref")
        if not ref:
            return schema, None
        target: Any = root
        for part in ref.lstrip("#/").split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        merged = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        return merged, ref

    @staticmethod
    def _split_null(schema: dict) -> tuple[dict, bool]:
        """(schema without its null branch, nullable?) for pydantic's Optional encoding."""
        branches = schema.get("anyOf")
        if not branches or not any(b.get("type") == "null" for b in branches):
            return schema, schema.get("type") == "null"
        rest = [b for b in branches if b.get("type") != "null"]
        outer = {k: v for k, v in schema.items() if k != "anyOf"}
        if len(rest) == 1:
            return {**rest[0], **outer}, True
        return {**outer, "anyOf": rest}, True

    def _compare(self, old: dict, new: dict, path: str) -> Iterator[Finding]:
        old, old_ref = self._resolve(old, self.roots[0])
        new, new_ref = self._resolve(new, self.roots[1])
        if old_ref and new_ref:
            key = (old_ref, new_ref, path)
            if key in self.seen:
                return
            self.seen.add(key)
        old, old_null = self._split_null(old)
        new, new_null = self._split_null(new)
        old, _ = self._resolve(old, self.roots[0])
        new, _ = self._resolve(new, self.roots[1])
        if old_null and not new_null:
            yield self._finding(path, "no longer accepts null", True)
        elif new_null and not old_null:
            yield self._finding(path, "now accepts null", False)
        yield from self._compare_types(old, new, path)
        yield from self._compare_enums(old, new, path)
        yield from self._compare_keywords(old, new, path)
        yield from self._compare_unions(old, new, path)
        yield from self._compare_objects(old, new, path)
        if "items" in old and "items" in new:
            yield from self._compare(old["items"], new["items"], f"{path}[]")
        if isinstance(old.get("additionalProperties"), dict) and isinstance(new.get("additionalProperties"), dict):
            yield from self._compare(old["additionalProperties"], new["additionalProperties"], f"{path}.*")

    @staticmethod
    def _types(schema: dict) -> set[str]:
        value = schema.get("type")
        if value is None:
            return set()
        return {value} if isinstance(value, str) else set(value)

    def _compare_types(self, old: dict, new: dict, path: str) -> Iterator[Finding]:
        old_types, new_types = self._types(old), self._types(new)
        if not old_types and new_types and "anyOf" not in old:
            yield self._finding(path, f"type narrowed from any to {'/'.join(sorted(new_types))}", True)
        elif old_types and new_types and not old_types <= new_types:
            lost = "/".join(sorted(old_types - new_types))
            yield self._finding(path, f"type changed {'/'.join(sorted(old_types))} → {'/'.join(sorted(new_types))} ({lost} no longer accepted)", True)
        elif old_types and new_types and new_types > old_types:
            yield self._finding(path, f"type widened to {'/'.join(sorted(new_types))}", False)

    def _compare_enums(self, old: dict, new: dict, path: str) -> Iterator[Finding]:
        if "enum" in old and "enum" in new:
            removed = [v for v in old["enum"] if v not in new["enum"]]
            added = [v for v in new["enum"] if v not in old["enum"]]
            if removed:
                yield self._finding(path, f"enum values removed: {', '.join(map(str, removed))}", True)
            if added:
                yield self._finding(path, f"enum values added: {', '.join(map(str, added))}", False)
        elif "enum" in new and "enum" not in old:
            yield self._finding(path, f"now restricted to enum values {', '.join(map(str, new['enum']))}", True)

    def _compare_keywords(self, old: dict, new: dict, path: str) -> Iterator[Finding]:
        for key in _MUST_STAY:
            if key in new and old.get(key) != new[key]:
                yield self._finding(path, f"{key} changed {old.get(key)!r} → {new[key]!r}", True)
            elif key in old and key not in new:
                yield self._finding(path, f"{key} {old[key]!r} dropped", False)
        for keys, tighter in ((_TIGHTER_IF_GREATER, lambda o, n: n > o), (_TIGHTER_IF_SMALLER, lambda o, n: n < o)):
            for key in keys:
                if key in new and (key not in old or tighter(old[key], new[key])):
                    yield self._finding(path, f"{key} tightened {old.get(key)!r} → {new[key]!r}", True)
        if old.get("additionalProperties") is not False and new.get("additionalProperties") is False and "properties" in old:
            yield self._finding(path, "unknown properties no longer accepted", True)

    def _compare_unions(self, old: dict, new: dict, path: str) -> Iterator[Finding]:
        if "anyOf" not in old or "anyOf" not in new:
            return
        canon = lambda b: json.dumps({k: v for k, v in b.items() if k not in {"title", "description"}}, sort_keys=True)  # noqa: E731
        new_branches = {canon(b) for b in new["anyOf"]}
        for branch in old["anyOf"]:
            if canon(branch) not in new_branches:
                yield self._finding(path, f"union branch removed: {canon(branch)}", True)
        old_branches = {canon(b) for b in old["anyOf"]}
        for branch in new["anyOf"]:
            if canon(branch) not in old_branches:
                yield self._finding(path, f"union branch added: {canon(branch)}", False)

    def _compare_objects(self, old: dict, new: dict, path: str) -> Iterator[Finding]:
        old_props, new_props = old.get("properties", {}), new.get("properties", {})
        old_req, new_req = set(old.get("required", ())), set(new.get("required", ()))
        for field in old_props:
            sub = f"{path}.{field}"
            if field not in new_props:
                yield self._finding(sub, "field removed", True)
                continue
            if field in new_req and field not in old_req:
                yield self._finding(sub, "field is now required", True)
            elif field in old_req and field not in new_req:
                yield self._finding(sub, "field is now optional", False)
            yield from self._compare(old_props[field], new_props[field], sub)
        for field in new_props:
            if field not in old_props:
                required = field in new_req
                yield self._finding(f"{path}.{field}", "required field added" if required else "optional field added", required)
