"""Collecting every bad value of a file before failing, so one run reports them all; and the
shared missing/default/convert rule of a mapped field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hub.registry import StepError

MAX_REPORTED = 20


class Errors:
    def __init__(self, what: str, code: str) -> None:
        self.what, self.code = what, code
        self.items: list[str] = []
        self.count = 0

    def add(self, message: str) -> None:
        self.count += 1
        if len(self.items) < MAX_REPORTED:
            self.items.append(message)

    def raise_if_any(self) -> None:
        if self.count:
            more = f" (and {self.count - len(self.items)} more)" if self.count > len(self.items) else ""
            head = "1 error" if self.count == 1 else f"{self.count} errors"
            raise StepError(f"{self.what}: {head}: " + "; ".join(self.items) + more, code=self.code)


SKIP = object()  # the field had an error (recorded): leave it out of the record


def field_value(cell: str | None, spec: Any, where: str, errors: Errors, convert: Callable[[str, Any], Any]) -> Any:
    """A mapped field's value: the default for a blank cell, None when optional, an error when
    required; else the converted text (a conversion error is recorded with ``where``)."""
    if not cell:
        if spec.default is None:
            if spec.required:
                errors.add(f"{where}: value is missing")
                return SKIP
            return None
        cell = spec.default
    try:
        return convert(cell, spec)
    except ValueError as exc:
        errors.add(f"{where}: {exc}")
        return SKIP
