"""Dotted paths into documents (``body.lines.0.qty``): the only way route YAML reaches into data.

Paths are data: segments are attribute names, mapping keys or list indexes. Nothing is
evaluated, imported or called.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel

_MISSING = object()


def split_path(path: str) -> list[str]:
    parts = path.split(".")
    if not path or any(not p for p in parts):
        raise ValueError(f"bad path {path!r}: empty segment")
    for p in parts:
        if p.startswith("_"):
            raise ValueError(f"bad path {path!r}: segment {p!r} starts with '_'")
    return parts


def _step(obj: Any, key: str) -> Any:
    if obj is None:
        return _MISSING
    if isinstance(obj, Mapping):
        return obj.get(key, _MISSING)
    if isinstance(obj, (str, bytes)):
        return _MISSING
    if isinstance(obj, Sequence):
        try:
            return obj[int(key)]
        except (ValueError, IndexError):
            return _MISSING
    if isinstance(obj, BaseModel):
        return getattr(obj, key, _MISSING) if key in type(obj).model_fields else _MISSING
    # dataclasses such as Exchange: public attributes only
    return getattr(obj, key, _MISSING) if hasattr(obj, "__dataclass_fields__") else _MISSING


def resolve(root: Any, path: str, default: Any = None) -> Any:
    obj = root
    for key in split_path(path):
        obj = _step(obj, key)
        if obj is _MISSING:
            return default
    return obj
