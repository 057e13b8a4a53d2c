"""Serialising route outputs for endpoints, and naming the business document they carry."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic import BaseModel

from hub.canonical.walk import key_fields



def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)  # money and quantities never pass through float
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_none=True)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", errors="replace")
    raise TypeError(f"cannot serialise {type(value).__name__} as JSON")


def to_json_bytes(body: Any) -> bytes:
    if isinstance(body, BaseModel):
        return body.model_dump_json(exclude_none=True).encode("utf-8")
    return json.dumps(_strip_private(body), default=_default, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _strip_private(value: Any) -> Any:
    """Drop parser bookkeeping keys such as ``_line`` from plain dict bodies."""
    if isinstance(value, dict):
        return {k: _strip_private(v) for k, v in value.items() if not (isinstance(k, str) and k.startswith("_"))}
    if isinstance(value, list):
        return [_strip_private(v) for v in value]
    return value


@dataclass(frozen=True)
class RenderedDocument:
    """A body a ``render:`` step already turned into bytes (X12, EDIFACT, fixed-width, XML)."""

    data: bytes
    content_type: str
    document_type: str | None = None
    document_key: str | None = None


def render(body: Any, fmt: str) -> tuple[bytes, str]:
    """Body → (bytes, content type) for an endpoint's payload format."""
    if isinstance(body, RenderedDocument):
        if fmt != "raw":
            raise ValueError(f"the body was already rendered as {body.content_type}; give the endpoint format: raw")
        return body.data, body.content_type
    if fmt == "json":
        return to_json_bytes(body), "application/json"
    if fmt == "xml":
        from connectors.formats.xmlout import CONTENT_TYPE, to_xml_bytes

        return to_xml_bytes(body), CONTENT_TYPE
    if fmt == "raw":
        if isinstance(body, (bytes, bytearray)):
            return bytes(body), "application/octet-stream"
        if isinstance(body, str):
            return body.encode("utf-8"), "text/plain; charset=utf-8"
        raise ValueError(f"raw payload needs bytes or text, got {type(body).__name__} (use format: json)")
    raise ValueError(f"unknown payload format {fmt!r}")


def identity(body: Any) -> tuple[str | None, str | None]:
    """(document_type, document_key) of a canonical document body, when it is one."""
    if isinstance(body, RenderedDocument):
        return body.document_type, body.document_key
    get = (lambda k: getattr(body, k, None)) if isinstance(body, BaseModel) else (
        body.get if isinstance(body, dict) else (lambda k: None))
    doc_type = get("document_type")
    key = next((str(get(k)) for k in key_fields(doc_type) if get(k) not in (None, "")), None)
    return (str(doc_type) if doc_type else None), key
