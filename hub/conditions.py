"""Declarative conditions for ``filter`` (and anything else that must decide without code).

    all:
      - {path: body.counted_qty, op: gt, value: 0}
      - not: {path: headers.test, op: eq, value: "true"}

Operators: eq ne gt ge lt le in not_in exists missing contains startswith matches.
Numbers compare as Decimal when both sides are numeric.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import Field, model_validator

from hub.paths import split_path
from hub.registry import StrictModel

Op = Literal["eq", "ne", "gt", "ge", "lt", "le", "in", "not_in", "exists", "missing", "contains", "startswith",
             "matches"]


class Condition(StrictModel):
    path: str | None = None
    op: Op | None = None
    value: Any = None
    all: list[Condition] | None = None
    any: list[Condition] | None = None
    not_: Condition | None = Field(None, alias="not")

    @model_validator(mode="after")
    def _shape(self) -> Condition:
        groups = [k for k in ("all", "any", "not_") if getattr(self, k) is not None]
        if groups:
            if len(groups) > 1 or self.path or self.op:
                raise ValueError("a condition is either {path, op, value} or one of all/any/not")
            return self
        if not self.path or not self.op:
            raise ValueError("a condition needs path and op (or all/any/not)")
        split_path(self.path)
        if self.op in ("in", "not_in") and not isinstance(self.value, list):
            raise ValueError(f"op {self.op} needs a list value")
        if self.op == "matches":
            try:
                re.compile(str(self.value))
            except re.error as exc:
                raise ValueError(f"bad regular expression: {exc}") from None
        return self

    def holds(self, root: Any) -> bool:
        if self.all is not None:
            return all(c.holds(root) for c in self.all)
        if self.any is not None:
            return any(c.holds(root) for c in self.any)
        if self.not_ is not None:
            return not self.not_.holds(root)
        from hub.paths import resolve

        return _compare(self.op, resolve(root, self.path), self.value)  # type: ignore[arg-type]


def _num(v: Any) -> Decimal | None:
    if isinstance(v, bool) or v is None:
        return None
    try:
        return Decimal(str(v))
    except InvalidOperation:
        return None


def _compare(op: str, left: Any, right: Any) -> bool:
    if op == "exists":
        return left is not None
    if op == "missing":
        return left is None
    if op in ("in", "not_in"):
        found = any(_equal(left, r) for r in right)
        return found if op == "in" else not found
    if op == "eq":
        return _equal(left, right)
    if op == "ne":
        return not _equal(left, right)
    if left is None:
        return False
    if op == "contains":
        return str(right) in left if isinstance(left, str) else any(_equal(x, right) for x in left)
    if op == "startswith":
        return str(left).startswith(str(right))
    if op == "matches":
        return re.search(str(right), str(left)) is not None
    a, b = _num(left), _num(right)
    if a is None or b is None:
        a, b = str(left), str(right)  # type: ignore[assignment]
    return {"gt": a > b, "ge": a >= b, "lt": a < b, "le": a <= b}[op]


def _equal(left: Any, right: Any) -> bool:
    a, b = _num(left), _num(right)
    if a is not None and b is not None:
        return a == b
    return str(left) == str(right) if left is not None and right is not None else left is right
Condition.model_rebuild()
