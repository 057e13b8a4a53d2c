"""The simulated partner's own control numbers (ISA13 / GS06 / ST02, UNB 0020 / UNH 0062).

Why not the hub's allocator: the numbers are the partner's, counted by its translator, not by
the hub — and they must never repeat across runs, or the hub rightly refuses the interchange
as a duplicate (domain.md C #1). They live in a small JSON file per partner under the data dir
(``<data dir>/simulator/<partner>.numbers.json``), taken under a file lock so two simulators of
one partner never hand out the same number.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path


class PartnerNumbers:
    """A ``NumberSource`` (``edi.common.control_numbers``) kept in a file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def take(self, kind: str, scope: str, n: int = 1) -> list[int]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            counters = json.loads(self.path.read_text()) if self.path.exists() else {}
            key = f"{kind}:{scope}"
            start = int(counters.get(key, 0)) + 1
            counters[key] = start + n - 1
            staging = self.path.with_name(f".{self.path.name}.tmp")
            staging.write_text(json.dumps(counters, indent=2, sort_keys=True))
            os.replace(staging, self.path)
        return list(range(start, start + n))
