"""Reading crosswalk files (CSV or YAML) into validated rows, every problem as file:line.

YAML: a mapping whose keys are kinds (``items``, ``item_identifiers``, ``uom_crosswalk``,
``conversions``, ``locations``), each a list of rows. CSV: one kind per file, named by
``--kind`` or by the file name (``conversions.csv``, ``acme_conversions.csv``); a header row
with the field names; empty cells are absent values. Decimals in YAML must be quoted or
integers (``"2.5"``): a YAML float has already lost digits.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hub.canonical.base import CanonicalModel
from hub.canonical.xref import KIND_MODELS
from hub.yamlfile import DataFileError, describe_errors, load_yaml

Rows = dict[str, list[CanonicalModel]]


def kind_from_name(path: Path) -> str | None:
    stem = path.stem.lower()
    for kind in sorted(KIND_MODELS, key=len, reverse=True):
        if stem == kind or stem.endswith(f"_{kind}") or stem.endswith(f"-{kind}"):
            return kind
    return None


def read_xref_file(path: Path, kind: str | None = None) -> Rows:
    if kind is not None and kind not in KIND_MODELS:
        raise DataFileError([f"{path}: unknown kind {kind!r}; kinds: {', '.join(KIND_MODELS)}"])
    suffix = path.suffix.lower()
    if suffix in {".yaml", ".yml"}:
        return _read_yaml(path, kind)
    if suffix == ".csv":
        kind = kind or kind_from_name(path)
        if kind is None:
            raise DataFileError([f"{path}: cannot tell the kind of rows; pass --kind ({', '.join(KIND_MODELS)}) or name the file after it"])
        return {kind: _read_csv(path, kind)}
    raise DataFileError([f"{path}: unsupported file type {suffix or '(none)'}; use .csv, .yaml or .yml"])


def _read_yaml(path: Path, only: str | None) -> Rows:
    data = load_yaml(path)
    if not isinstance(data, dict):
        raise DataFileError([f"{path}:1: expected a mapping of kinds ({', '.join(KIND_MODELS)}) to lists of rows"])
    problems: list[str] = []
    result: Rows = {}
    for kind, items in data.items():
        if kind not in KIND_MODELS:
            problems.append(f"{path}:{data.lc.key(kind)[0] + 1}: unknown kind {kind!r}; kinds: {', '.join(KIND_MODELS)}")
            continue
        if only and kind != only:
            continue
        if not isinstance(items, list):
            problems.append(f"{path}:{data.lc.key(kind)[0] + 1}: {kind}: expected a list of rows")
            continue
        result[kind] = _validate_all(path, data, kind, items, problems)
    if problems:
        raise DataFileError(problems)
    return result


def _validate_all(path: Path, data: Any, kind: str, items: list, problems: list[str]) -> list[CanonicalModel]:
    model = KIND_MODELS[kind]
    rows = []
    for index, item in enumerate(items):
        try:
            rows.append(model.model_validate(item))
        except ValidationError as exc:
            problems.extend(describe_errors(path, data, exc, prefix=(kind, index)))
    return rows


def _read_csv(path: Path, kind: str) -> list[CanonicalModel]:
    model = KIND_MODELS[kind]
    problems: list[str] = []
    rows: list[CanonicalModel] = []
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            unknown = [name for name in reader.fieldnames or [] if name not in model.model_fields]
            if unknown:
                raise DataFileError([f"{path}:1: unknown column(s) {', '.join(unknown)} for {kind}; columns: {', '.join(model.model_fields)}"])
            for record in reader:
                values = {k: v for k, v in record.items() if k is not None and v not in (None, "")}
                try:
                    rows.append(model.model_validate(values))
                except ValidationError as exc:
                    for error in exc.errors(include_url=False, include_input=False):
                        field = ".".join(str(p) for p in error["loc"]) or "(row)"
                        problems.append(f"{path}:{reader.line_num}: {kind}.{field}: {error['msg']}")
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataFileError([f"{path}: cannot read CSV ({exc})"]) from None
    if problems:
        raise DataFileError(problems)
    return rows
