"""What both writers share: the located ``WriteError``, the warnings a write collects
(``WriteNotes``), and the check that no canonical field is dropped silently (``uncarried``).

A writer either maps a field or says it did not: each builder lists the fields it carries
(``CARRIED`` tables beside the builders); whatever else a document holds, apart from the hub's
own bookkeeping (``INTERNAL``), comes back as a warning naming the field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


class WriteError(ValueError):
    """A document that cannot be written validly; the message names its place: document,
    field (where known), segment, element, component and the reason."""


# Fields that are the hub's own state or resolution results, never content for a partner:
# the crosswalk's item and party resolutions, unit conversions, match and posting status.
INTERNAL_LEAVES = frozenset({
    "document_type", "schema_version", "meta", "uom_canonical", "base_qty", "base_uom", "item_id", "partner_id",
    "location_id", "assigned_by", "valid_from", "valid_to", "invalid_reason", "sscc_invalid_reason", "match_status",
    "erp_posting", "status", "revision", "qty_acked", "qty_shipped", "qty_received", "qty_invoiced",
    "contract_price", "lot_serial_id",
})
# Fields derived from the envelope or by the reader (a partner learns them from the interchange).
ENVELOPE_FIELDS = frozenset({"supplier_partner_id", "envelope"})


@dataclass
class WriteNotes:
    """Warnings of one write, each prefixed with the document it concerns."""

    where: str = ""
    items: list[str] = field(default_factory=list)

    def warn(self, field_path: str, reason: str) -> None:
        self.items.append(f"{self.where}{field_path}: {reason}")

    def extend(self, texts: Iterable[str]) -> None:
        self.items.extend(texts)


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def uncarried(document: dict[str, Any], carried: frozenset[str], target: str) -> list[str]:
    """Warnings for the fields of ``document`` that the writer for ``target`` does not map.
    ``carried`` holds generic paths (``lines[].qty``); a path carries everything under it."""
    found: dict[str, list[str]] = {}
    for key, sub in document.items():
        if key not in ENVELOPE_FIELDS:
            _dropped(key, sub, key, key, carried, found)
    return [f"{places[0]}{f' (and {len(places) - 1} more)' if len(places) > 1 else ''}: {target} has no place "
            f"for it; not sent" for places in found.values()]


def _dropped(key: str, value: Any, generic: str, concrete: str, carried: frozenset[str],
             found: dict[str, list[str]]) -> None:
    """Collect into ``found`` (generic path → concrete paths) the non-empty leaves under
    ``key`` that nothing carries. A subtree is left as soon as its path is carried or its key
    is the hub's own bookkeeping, so a document that is mostly carried is barely walked (the
    walk of every leaf, with a set of path prefixes each, was most of a 50,000-segment write)."""
    if key in INTERNAL_LEAVES or _empty(value) or generic in carried:
        return
    if isinstance(value, dict):
        for sub_key, sub in value.items():
            _dropped(sub_key, sub, f"{generic}.{sub_key}", f"{concrete}.{sub_key}", carried, found)
    elif isinstance(value, list) and all(isinstance(v, dict) for v in value):
        items = f"{generic}[]"
        if items in carried:
            return
        for n, item in enumerate(value):
            for sub_key, sub in item.items():
                _dropped(sub_key, sub, f"{items}.{sub_key}", f"{concrete}.{n}.{sub_key}", carried, found)
    else:
        found.setdefault(generic, []).append(concrete)


def target_qualifier(identifier: Mapping[str, Any], own: Mapping[str, str], other: Mapping[str, str],
                     by_scheme: Mapping[str, str], shape: re.Pattern[str]) -> str:
    """The qualifier an identifier goes out with in the target standard. The stored one (as
    the partner sent it) when the target reads it as the identifier's scheme, or when neither
    standard knows it and it fits the target's element (a partner's own code); otherwise the
    target's code for the scheme ('' when it has none). ``own``/``other``: code → scheme value
    of the target and of the other standard. Without this an EDIFACT agency 9 (GS1) would go
    out as X12 N103 9 (DUNS+4), or an X12 SAC code into an EDIFACT element."""
    stored = identifier.get("qualifier") or ""
    scheme = identifier["scheme"]
    if stored and own.get(stored) == scheme:
        return stored
    if stored and stored not in own and stored not in other and shape.fullmatch(stored):
        return stored
    return by_scheme.get(scheme, "")
