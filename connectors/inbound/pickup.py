"""Safe pickup from a folder, local or remote: the rules the file drop and the SFTP poller share.

Per folder (``<root>/``, with ``processing/``, ``archive/<yyyy-mm-dd>/`` and ``error/`` inside):

1. A file is complete when its size and mtime have held for ``stable_seconds`` — or, with
   ``done_suffix``, when ``<file><suffix>`` exists (the sender writes it last).
2. It is *claimed* by an atomic rename into ``processing/<message id>__<safe name>``: two
   pickers never take the same file (the second rename finds no source), and the message id
   is fixed before anything else.
3. It is stored (committed) and published through ``hub.ingest``, then moved to
   ``archive/<yyyy-mm-dd>/``.
4. A file that cannot be taken (too large, unreadable, a symbolic link) goes to ``error/`` with
   a ``.reason`` file beside it; the original bytes are kept there.

Restart: a file left in ``processing/`` is looked up by its message id — archived if it was
stored, stored if it was not. Because the id is the store's primary key, a second picker
recovering the same file at the same time cannot store it twice either.

Names: only a plain name is ever joined to a path. A listed name holding a path separator, a
NUL or ``.``/``..`` (a hostile or broken server) is never renamed, read or stored; every name
written by the hub is reduced to ``[A-Za-z0-9._-]`` (``safe_part``).
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, Protocol

from sqlalchemy.exc import IntegrityError

from connectors.outbound.file import safe_part
from hub.ids import new_id
from hub.ingest import MessageTooLarge
from hub.store import Message

log = logging.getLogger(__name__)

SKIP_SUFFIXES = (".tmp", ".part", ".partial", ".reason")
PROCESSING, ARCHIVE, ERROR = "processing", "archive", "error"

EntryKind = Literal["file", "dir", "link", "other"]


@dataclass(frozen=True)
class Entry:
    name: str
    kind: EntryKind
    size: int
    mtime: float


class Folder(Protocol):
    """A folder the pickup works in. Paths are relative to the folder's root, ``/``-separated."""

    def describe(self, rel: str = "") -> str: ...

    def list(self, rel: str = "") -> list[Entry]: ...

    def exists(self, rel: str) -> bool: ...

    def read(self, rel: str, limit: int) -> bytes: ...

    def write(self, rel: str, data: bytes) -> None: ...

    def rename(self, src: str, dst: str) -> None:
        """Atomic; raises FileNotFoundError when ``src`` is gone (another picker took it)."""

    def unlink(self, rel: str) -> None: ...

    def makedirs(self, rel: str) -> None: ...


def plain_name(name: str) -> bool:
    """A name that is one path component: nothing in it can climb out of the folder."""
    return bool(name) and name not in (".", "..") and not any(c in name for c in "/\x00")


@dataclass
class PickupRules:
    pattern: str = "*"
    done_suffix: str | None = None
    stable_seconds: float = 1.0
    max_bytes: int = 50 * 1024 * 1024


# (raw bytes, message id, original name) → nothing; raises MessageTooLarge, OSError, IntegrityError
StoreFn = Callable[[bytes, str, str], None]


@dataclass
class Pickup:
    """One folder's pickup: ``scan`` takes complete files, ``recover`` finishes claimed ones."""

    folder: Folder
    rules: PickupRules
    store: StoreFn
    is_stored: Callable[[str], bool]
    label: str
    seen: dict[str, tuple[int, float, float]] = field(default_factory=dict)  # name → (size, mtime, since)

    # -- passes ------------------------------------------------------------------------------

    def recover(self) -> int:
        """Finish files a previous run claimed but did not archive."""
        done = 0
        if not self.folder.exists(PROCESSING):
            return 0
        for entry in sorted(self.folder.list(PROCESSING), key=lambda e: e.name):
            if entry.kind != "file" or "__" not in entry.name or not plain_name(entry.name):
                continue
            message_id, original = entry.name.split("__", 1)
            claimed = f"{PROCESSING}/{entry.name}"
            if self.is_stored(message_id):
                self._archive(claimed, message_id, original)
            else:
                self._take(claimed, message_id, original, entry.size)
            done += 1
        return done

    def scan(self, now: float) -> int:
        """Pick up every complete file once. Returns how many were taken."""
        taken = 0
        entries = self.folder.list()
        names = {e.name for e in entries}
        for entry in sorted(entries, key=lambda e: e.name):
            if entry.kind == "link" and self._candidate(entry.name):
                self._refuse_link(entry)
            elif self._ready(entry, names, now) and self._claim_and_take(entry):
                taken += 1
        self._forget_missing(names)
        return taken

    # -- readiness ---------------------------------------------------------------------------

    def _candidate(self, name: str) -> bool:
        if not plain_name(name):
            log.warning("%s: ignoring a listed name that is not a plain file name: %r", self.label, name)
            return False
        if name.startswith(".") or name.endswith(SKIP_SUFFIXES):
            return False
        if self.rules.done_suffix and name.endswith(self.rules.done_suffix):
            return False
        return fnmatch.fnmatch(name, self.rules.pattern)

    def _ready(self, entry: Entry, names: set[str], now: float) -> bool:
        if entry.kind != "file" or not self._candidate(entry.name):
            return False
        if self.rules.done_suffix:
            return entry.name + self.rules.done_suffix in names
        seen = self.seen.get(entry.name)
        if seen is None or seen[:2] != (entry.size, entry.mtime):
            self.seen[entry.name] = (entry.size, entry.mtime, now)
            return self.rules.stable_seconds <= 0
        return now - seen[2] >= self.rules.stable_seconds

    def _forget_missing(self, names: set[str]) -> None:
        for name in [n for n in self.seen if n not in names]:
            del self.seen[name]

    # -- claim, store, archive ---------------------------------------------------------------

    def _claim_and_take(self, entry: Entry) -> bool:
        message_id = new_id()
        self.folder.makedirs(PROCESSING)
        claimed = f"{PROCESSING}/{message_id}__{safe_part(entry.name)}"
        try:
            self.folder.rename(entry.name, claimed)  # atomic: exactly one picker wins
        except FileNotFoundError:
            return False  # another picker took it
        self.seen.pop(entry.name, None)
        if self.rules.done_suffix:
            self._unlink_quietly(entry.name + self.rules.done_suffix)
        self._take(claimed, message_id, entry.name, entry.size)
        return True

    def _take(self, claimed: str, message_id: str, original: str, size: int) -> None:
        if size > self.rules.max_bytes:  # refuse before reading gigabytes over the wire
            self._reject(claimed, message_id, original, str(MessageTooLarge(size, self.rules.max_bytes)))
            return
        try:
            raw = self.folder.read(claimed, self.rules.max_bytes + 1)
            self.store(raw, message_id, original)
        except FileNotFoundError:
            log.info("%s: %s was finished by another picker", self.label, original)
            return
        except MessageTooLarge as exc:
            self._reject(claimed, message_id, original, str(exc))
            return
        except IntegrityError:
            log.info("%s: %s is already stored as message %s (another picker stored it)", self.label, original,
                     message_id)
        except OSError as exc:
            self._reject(claimed, message_id, original, f"cannot read file: {exc.strerror or exc}")
            return
        self._archive(claimed, message_id, original)

    def _archive(self, claimed: str, message_id: str, original: str) -> None:
        day = datetime.now(UTC).strftime("%Y-%m-%d")
        self.folder.makedirs(f"{ARCHIVE}/{day}")
        try:
            self.folder.rename(claimed, f"{ARCHIVE}/{day}/{message_id}__{safe_part(original)}")
        except FileNotFoundError:
            log.info("%s: %s was archived by another picker", self.label, original)

    def _reject(self, claimed: str, message_id: str, original: str, reason: str) -> None:
        self.folder.makedirs(ERROR)
        target = f"{ERROR}/{message_id}__{safe_part(original)}"
        try:
            self.folder.rename(claimed, target)
        except FileNotFoundError:
            return
        self._write_reason(target, original, reason)
        log.error("%s: file %s moved to %s: %s", self.label, original, self.folder.describe(target), reason)

    def _refuse_link(self, entry: Entry) -> None:
        # A link could point anywhere (/etc/shadow, another partner's folder): never follow it.
        self.folder.makedirs(ERROR)
        target = f"{ERROR}/{new_id()}__{safe_part(entry.name)}"
        try:
            self.folder.rename(entry.name, target)
        except FileNotFoundError:
            return
        self._write_reason(target, entry.name, "symbolic links are not picked up (they may point outside the folder)")
        log.error("%s: symbolic link %s moved to %s", self.label, entry.name, self.folder.describe(target))

    def _write_reason(self, target: str, original: str, reason: str) -> None:
        shown = original.encode("unicode_escape").decode("ascii")  # a name cannot add lines to the file
        text = f"file: {shown}\nchannel: {self.label}\nreason: {reason}\nat: {datetime.now(UTC).isoformat()}\n"
        self.folder.write(target + ".reason", text.encode("utf-8"))

    def _unlink_quietly(self, rel: str) -> None:
        try:
            self.folder.unlink(rel)
        except FileNotFoundError:
            pass


def stored_in(hub) -> Callable[[str], bool]:
    """``message id → is it in the store?`` for ``Pickup``'s restart recovery."""

    def lookup(message_id: str) -> bool:
        with hub.db.session() as session:
            return session.get(Message, message_id) is not None

    return lookup


@dataclass(frozen=True)
class FileChannel:
    """What a picked-up file is, when the channel says so (else detected from its bytes)."""

    kind: str  # filedrop, sftp
    name: str
    format: str | None = None
    doctype: str | None = None
    sender: str | None = None


def store_into(hub, channel: FileChannel) -> StoreFn:
    """A ``StoreFn`` committing picked-up files through ``hub.ingest`` (then published)."""
    from hub.ingest import Inbound, Ingest
    from hub.sniff import peek

    ingest = Ingest(hub)

    def store(raw: bytes, message_id: str, original: str) -> None:
        seen = peek(raw)
        accepted = ingest.accept(Inbound(
            raw=raw, format=channel.format or seen.format, doctype=channel.doctype or seen.doctype or "unknown",
            sender=channel.sender or seen.sender or channel.name, channel=f"{channel.kind}:{channel.name}",
            filename=original, message_id=message_id, headers={"channel": channel.name, "filename": original},
        ))
        log.info("file %r from %s channel %s stored as message %s (published: %s)", original, channel.kind,
                 channel.name, accepted.message_id, accepted.published)

    return store
