"""YAML configuration and data files, with file:line for every problem.

Route, endpoint, partner and crosswalk files are data: the round-trip loader never
constructs Python objects, any explicit tag (``!!python/object``, ``!custom``) is refused,
and the only substitution is ``${VAR}`` / ``${VAR:-default}`` from the environment in string
values. Two ways in: ``load_yaml`` (plain data + problems, for route folders that report
everything at once) and ``load_data`` (the line-aware tree, raising ``DataFileError``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.error import MarkedYAMLError

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


class YamlDoc:
    """A loaded file: ``data`` is plain dicts/lists/scalars; ``line_of`` finds where a value was."""

    def __init__(self, path: Path, root: Any, data: Any) -> None:
        self.path = path
        self.root = root
        self.data = data

    @property
    def name(self) -> str:
        return str(self.path)

    def line_of(self, loc: Sequence[Any]) -> int:
        """1-based line of the deepest node reachable along ``loc`` (a pydantic error loc)."""
        return line_of(self.root, loc) or 1

    def problem(self, loc: Sequence[Any], reason: str) -> Problem:
        return Problem(self.name, self.line_of(loc), reason)

    def validation_problems(self, err: ValidationError, prefix: Sequence[Any] = ()) -> list[Problem]:
        out = []
        for e in err.errors():
            loc = (*prefix, *e["loc"])
            where = ".".join(str(p) for p in loc if not (isinstance(p, str) and "[" in p))
            msg = e["msg"].removeprefix("Value error, ")
            out.append(self.problem(loc, f"{where}: {msg}" if where else msg))
        return out


def line_of(root: Any, loc: Sequence[Any]) -> int | None:
    """1-based line of the deepest node of a round-trip tree reachable along ``loc``."""
    node, line = root, None
    for key in loc:
        container_line = _line_of_key(node, key)
        if container_line is None:
            continue  # pydantic adds union-branch labels to locs; they are not YAML keys
        line = container_line
        node = node[key]
    if line is None and isinstance(root, (CommentedMap, CommentedSeq)):
        line = root.lc.line + 1
    return line


def _line_of_key(node: Any, key: Any) -> int | None:
    if isinstance(node, CommentedMap) and isinstance(key, str) and key in node:
        pos = node.lc.data.get(key)
        return (pos[0] + 1) if pos else None
    if isinstance(node, CommentedSeq) and isinstance(key, int) and 0 <= key < len(node):
        pos = node.lc.data.get(key)
        return (pos[0] + 1) if pos else None
    return None


def load_yaml(path: Path, env: Mapping[str, str] | None = None) -> tuple[YamlDoc | None, list[Problem]]:
    """Load one file. Returns (None, problems) when it cannot be read at all."""
    env = os.environ if env is None else env
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(str(path), 1, f"cannot read file: {exc}")]
    try:
        root = YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        line = (exc.problem_mark.line + 1) if exc.problem_mark else 1
        return None, [Problem(str(path), line, f"YAML syntax error: {exc.problem}")]
    problems: list[Problem] = []
    data = _plain(root, path, env, problems, 1)
    return YamlDoc(path, root, data), problems


def _plain(node: Any, path: Path, env: Mapping[str, str], problems: list[Problem], line: int) -> Any:
    tag = getattr(getattr(node, "tag", None), "value", None)
    if isinstance(node, TaggedScalar) or (tag is not None and tag not in _PLAIN_TAGS):
        problems.append(Problem(str(path), line, f"YAML tag {tag!r} is not allowed: configuration is plain data"))
        return None
    if isinstance(node, CommentedMap):
        out = {}
        for key, value in node.items():
            pos = node.lc.data.get(key)
            out[str(key)] = _plain(value, path, env, problems, pos[0] + 1 if pos else line)
        return out
    if isinstance(node, CommentedSeq):
        return [
            _plain(v, path, env, problems, (node.lc.data[i][0] + 1) if i in node.lc.data else line)
            for i, v in enumerate(node)
        ]
    if isinstance(node, str):
        return _interpolate(str(node), path, env, problems, line)
    return node


_PLAIN_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("map", "seq", "str", "int", "float", "bool", "null")}


def _interpolate(value: str, path: Path, env: Mapping[str, str], problems: list[Problem], line: int) -> str:
    def sub(m: re.Match) -> str:
        name, default = m.group(1), m.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        problems.append(Problem(str(path), line, f"environment variable {name} is not set (write ${{{name}:-default}})"))
        return ""

    return _ENV.sub(sub, value)


class DataFileError(ValueError):
    """A data file cannot be read or does not validate; ``problems`` lists file:line: reason."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def load_data(path: Path) -> Any:
    """The round-trip tree of a data file (keeps line numbers for ``line_of``); every problem
    (unreadable, syntax, tag, unset variable) raises ``DataFileError``."""
    doc, problems = load_yaml(path)
    if problems or doc is None:
        raise DataFileError([str(p) for p in problems])
    return doc.root


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
