"""Content-addressed files for raw messages too large to keep inline in the database.

A blob is written to a temporary name, fsynced, then renamed to ``<sha256[:2]>/<sha256>``:
a reader never sees half a file, and the same content is stored once.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import BinaryIO


_REF = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{64}$")


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, ref: str) -> Path:
        if not _REF.match(ref):  # refs come from the database; never let one escape the root
            raise ValueError(f"bad blob reference {ref!r}")
        return self.root / ref

    def put(self, data: bytes, sha256: str) -> str:
        ref = f"{sha256[:2]}/{sha256}"
        final = self.root / ref
        if final.exists():
            return ref
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(f".{sha256}.{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, final)
        return ref

    def get(self, ref: str) -> bytes:
        return self.path(ref).read_bytes()

    def open(self, ref: str) -> BinaryIO:
        return open(self.path(ref), "rb")
