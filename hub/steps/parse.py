"""``parse``: turn the raw inbound bytes into a body, with a registered parser.

    - parse: json                    # shorthand: parser name, default options
    - parse:
        csv:                         # parser name → its options
          columns: {...}

Parsers come from the registry (``@parser``): json and text here, csv in
``hub.steps.flatfile``, x12/edifact from the EDI engines, xml and fixed-width from connectors.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from hub.exchange import Exchange
from hub.registry import PARSERS, Step, StepError, StrictModel, configure_named, parser, step


class ParseConfig(StrictModel):
    parser: str
    options: dict[str, Any] = {}


@step
class ParseStep(Step):
    kind = "parse"
    Config = ParseConfig
    summary = "Parse the raw message with a registered parser (json, text, csv, x12, edifact ...)."

    @classmethod
    def configure(cls, value: Any) -> BaseModel:
        name, options = configure_named("parse", value, PARSERS, "parser")
        return ParseConfig(parser=name, options=options)

    def __init__(self, config: ParseConfig, env) -> None:
        super().__init__(config, env)
        self.spec = PARSERS[config.parser]
        self.options = self.spec.Config.model_validate(config.options) if self.spec.Config else None

    def process(self, ex: Exchange) -> list[Exchange]:
        raw = ex.body
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        if not isinstance(raw, (bytes, bytearray)):
            raise StepError(f"parse {self.config.parser}: the body is already parsed ({type(ex.body).__name__})")
        return [ex.derive(self.spec.fn(bytes(raw), self.options, ex))]


def decode(raw: bytes, encoding: str) -> str:
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise StepError(f"bytes are not valid {encoding}: {exc.reason}", location=f"line {line}, byte offset {exc.start}",
                        code="bad_encoding") from None


class TextOptions(StrictModel):
    encoding: str = "utf-8-sig"


@parser("text", config=TextOptions)
def parse_text(raw: bytes, options: TextOptions, ex: Exchange) -> str:
    """Decode the bytes as text."""
    return decode(raw, options.encoding)


@parser("json")
def parse_json(raw: bytes, options: None, ex: Exchange) -> Any:
    """JSON; numbers with a fraction become Decimal, never float."""
    text = decode(raw, "utf-8-sig")
    try:
        return json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise StepError(exc.msg, location=f"line {exc.lineno}, column {exc.colno}", code="bad_json") from None
