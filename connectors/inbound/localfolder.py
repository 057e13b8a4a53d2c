"""``LocalFolder``: the pickup ``Folder`` protocol on the local file system (the file drop)."""

from __future__ import annotations

import os
from pathlib import Path

from connectors.inbound.pickup import Entry, EntryKind


class LocalFolder:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, rel: str) -> Path:
        return self.root / rel if rel else self.root

    def describe(self, rel: str = "") -> str:
        return str(self._path(rel))

    def list(self, rel: str = "") -> list[Entry]:
        entries = []
        with os.scandir(self._path(rel)) as it:
            for item in it:
                try:
                    st = item.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue  # taken while we listed
                entries.append(Entry(item.name, _kind(item), st.st_size, float(st.st_mtime_ns)))
        return entries

    def exists(self, rel: str) -> bool:
        return self._path(rel).exists()

    def read(self, rel: str, limit: int) -> bytes:
        # O_NOFOLLOW: a claimed name replaced by a link is refused, not followed.
        fd = os.open(self._path(rel), os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as fh:
            return fh.read(limit)

    def write(self, rel: str, data: bytes) -> None:
        self._path(rel).write_bytes(data)

    def rename(self, src: str, dst: str) -> None:
        os.rename(self._path(src), self._path(dst))

    def unlink(self, rel: str) -> None:
        self._path(rel).unlink()

    def makedirs(self, rel: str) -> None:
        self._path(rel).mkdir(parents=True, exist_ok=True)


def _kind(item: os.DirEntry) -> EntryKind:
    if item.is_symlink():
        return "link"
    if item.is_file(follow_symlinks=False):
        return "file"
    if item.is_dir(follow_symlinks=False):
        return "dir"
    return "other"
