"""YAML configuration and data files, with file:line for every problem.

Route, endpoint, partner and crosswalk files are data: the round-trip loader never
constructs Python objects, any explicit tag (``!!python/object``, ``!custom``) is refused,
and the only substitution is ``${VAR}`` / ``${VAR:-default}`` from the environment in string
values. Two ways in: ``load_yaml`` (plain data + problems, for route folders that report
everything at once) and ``load_data`` (the line-aware tree, raising ``DataFileError``).

A file is held within bounds before it is built (``check_bounds``, over the parser's events,
which needs no recursion): at most ``MAX_FILE_BYTES``, ``MAX_DEPTH`` levels of nesting,
``MAX_ALIASES`` aliases, and aliases may add at most ``MAX_ALIAS_NODES`` nodes to what the file
itself writes — an "alias bomb" (anchors of anchors, used or not) is refused at the line of the
alias that crosses the bound instead of expanding into gigabytes. Merge keys (``<<``) are refused
with their line: they are a YAML 1.1 extension whose merged keys have no line of their own,
and route files are plain data (write the keys out, or anchor the whole value). Whatever goes
wrong, the answer is a ``file:line`` problem, never a traceback.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    Event,
    MappingStartEvent,
    ScalarEvent,
)

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
MAX_FILE_BYTES = 16 * 1024 * 1024  # a big crosswalk fits; a file that would exhaust the hub does not
MAX_DEPTH = 64  # mappings and lists inside each other (route files need about 10)
MAX_ALIASES = 1000
MAX_ALIAS_NODES = 100_000  # nodes aliases may add to the file's own (a layout reused, not an exponent)
_MERGE_TAG = "tag:yaml.org,2002:merge"


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


def load_yaml(path: Path, env: Mapping[str, str] | None = None,
              text: str | None = None) -> tuple[YamlDoc | None, list[Problem]]:
    """Load one file. Returns (None, problems) when it cannot be read at all. With ``text``, that
    text is read as the file ``path`` (a route generation's snapshot, hub.reload): problems
    still name ``path``."""
    env = os.environ if env is None else env
    if text is None:
        try:
            size = path.stat().st_size
            if size > MAX_FILE_BYTES:
                return None, [Problem(str(path), 1, f"file is {size} bytes, more than the {MAX_FILE_BYTES} a data "
                                                    "file may have")]
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            return None, [Problem(str(path), 1, f"cannot read file: {exc}")]
    elif len(text.encode()) > MAX_FILE_BYTES:
        return None, [Problem(str(path), 1, f"file is more than the {MAX_FILE_BYTES} bytes a data file may have")]
    try:
        bounds = check_bounds(YAML(typ="rt").parse(text), str(path))
        if bounds:
            return None, bounds
        root = YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        return None, [Problem(str(path), (mark.line + 1) if mark else 1, f"YAML syntax error: {exc.problem}")]
    except (YAMLError, RecursionError, MemoryError) as exc:  # bounded above; kept so nothing escapes as a traceback
        return None, [Problem(str(path), 1, f"YAML cannot be read: {type(exc).__name__}: {exc}")]
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


class _Collection:
    """A mapping or list being read: its nodes (aliases expanded), its anchor, its kind."""

    __slots__ = ("anchor", "mapping", "children", "nodes")

    def __init__(self, anchor: str | None, mapping: bool) -> None:
        self.anchor, self.mapping, self.children, self.nodes = anchor, mapping, 0, 1


def check_bounds(events: Iterator[Event], name: str) -> list[Problem]:
    """Depth, aliases, alias expansion and merge keys, from the parser's events (iterative:
    50,000 levels of nesting cost a loop, not a stack). Returns the first problem found."""
    stack: list[_Collection] = []
    sizes: dict[str, int] = {}  # anchor → nodes of its value, aliases in it expanded
    own = expanded = aliases = 0
    for event in events:
        line = event.start_mark.line + 1
        if isinstance(event, CollectionStartEvent):
            if len(stack) >= MAX_DEPTH:
                return [Problem(name, line, f"nested more than {MAX_DEPTH} levels deep")]
            stack.append(_Collection(event.anchor, isinstance(event, MappingStartEvent)))
            own += 1
            continue
        if isinstance(event, CollectionEndEvent):
            done = stack.pop()
            if done.anchor:
                sizes[done.anchor] = done.nodes
            _add(stack, done.nodes)
            continue
        if isinstance(event, ScalarEvent):
            if _is_merge_key(event, stack):
                return [Problem(name, line, "merge keys (<<) are not supported: write the keys out, or anchor "
                                            "the whole value and use the alias")]
            if event.anchor:
                sizes[event.anchor] = 1
            own += 1
            _add(stack, 1)
        elif isinstance(event, AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                return [Problem(name, line, f"more than {MAX_ALIASES} aliases")]
            size = sizes.get(event.anchor, 1)  # an unknown anchor is the composer's error to report
            expanded += size
            if expanded > MAX_ALIAS_NODES:
                return [Problem(name, line, f"aliases expand the file by more than {MAX_ALIAS_NODES} nodes (an "
                                            f"alias of *{event.anchor} adds {size}): refused")]
            _add(stack, size)
    return []


def _add(stack: list[_Collection], nodes: int) -> None:
    if stack:
        stack[-1].nodes += nodes
        stack[-1].children += 1


def _is_merge_key(event: ScalarEvent, stack: list[_Collection]) -> bool:
    in_key_place = bool(stack) and stack[-1].mapping and stack[-1].children % 2 == 0
    plain = event.style is None and event.value == "<<"
    return in_key_place and (plain or event.tag == _MERGE_TAG)


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
