"""YAML data files (partners, crosswalks) read as data with line numbers kept for errors.

ruamel.yaml's round-trip loader builds plain data (no tags are executed) and remembers where
every key and list item sits, so a pydantic error at ``partners.2.auth.api_key_env`` becomes
``routes/partners.yaml:31: partners.2.auth.api_key_env: ...``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError


class DataFileError(ValueError):
    """A data file cannot be read or does not validate; ``problems`` lists file:line: reason."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def load_yaml(path: Path) -> Any:
    yaml = YAML(typ="rt", pure=True)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataFileError([f"{path}: cannot read ({exc})"]) from None
    try:
        return yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        raise DataFileError([f"{path}{line}: YAML syntax error: {exc.problem or exc.context}"]) from None
    except YAMLError as exc:
        raise DataFileError([f"{path}: YAML error: {exc}"]) from None


def line_of(data: Any, loc: Sequence[str | int]) -> int | None:
    """1-based line of the deepest part of ``loc`` that the YAML tree knows."""
    line = None
    node = data
    for part in loc:
        lc = getattr(node, "lc", None)
        try:
            if isinstance(node, dict) and part in node:
                if lc is not None:
                    line = lc.key(part)[0] + 1
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                if lc is not None:
                    line = lc.item(part)[0] + 1
                node = node[part]
            else:
                break
        except (KeyError, TypeError, AttributeError):
            break
    if line is None and getattr(data, "lc", None) is not None:
        line = data.lc.line + 1
    return line


def describe_errors(path: Path, data: Any, exc: ValidationError, prefix: Sequence[str | int] = ()) -> list[str]:
    """One ``file:line: field.path: reason`` string per pydantic error."""
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = [*prefix, *error["loc"]]
        line = line_of(data, loc)
        where = f"{path}:{line}" if line else str(path)
        field = ".".join(str(p) for p in loc) or "(file)"
        problems.append(f"{where}: {field}: {error['msg']}")
    return problems
