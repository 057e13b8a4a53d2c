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
   a ``.reason`` file beside it; the original bytes are kept there. ``error/`` is for files that
   are themselves bad: a store that does not answer, or any other fault of the hub, never
   sends a file there.

Recovery: a file in ``processing/`` is looked up by its message id — archived if it was
stored, stored if it was not. Because the id is the store's primary key, a second picker
recovering the same file at the same time cannot store it twice either. ``recover`` does this
for every claimed file (at start, on a new SFTP session). While running, two mechanisms keep a
store outage from stranding files, and neither needs a restart. Both are needed: periodic
recovery alone would go on claiming every new file into ``processing/`` through an outage (out
of the sender's sight, one failed store each), and a check alone cannot close the window.

- *Nothing is claimed while the store does not answer*: before a scan that has something to
  do, one ``SELECT 1`` (``check_store``). A file left in the inbox costs nothing to recover, is
  visible where the sender put it, and another picker that does reach the store may take it.
- The store may still go between the check and the commit, or a commit's answer may be lost:
  such a file stays in ``processing/`` (*held*) with its reason written beside it
  (``<claimed>.reason``), and no new file is claimed until a retry of it succeeds (a store that
  answered the check and then failed is not trusted with more). A *sweep* of ``processing/``
  retries held files: at once when the store answers again, else after a back-off
  (``retry_after``, doubling up to ``sweep_every``). Any other fault of the hub (a bug, a
  constraint other than the message id's) holds only that file; the others go on, and the
  periodic sweep retries it. The sweep runs every ``sweep_every`` seconds too, and adopts claims
  older than ``adopt_after`` that no picker finished (a killed process, a dropped SFTP
  session); a younger claim may be in flight in another process and is left to it. Claims
  this process is storing right now are always skipped.

Every claimed file that no picker is storing is reported: a warning naming it, how long ago it
was claimed and why it waits (again every ``report_every`` seconds while it does), and
``Pickup.waiting`` lists every claimed file (name, channel, age, last error, whether this
process is storing it) for operations.

Names: only a plain name is ever joined to a path. A listed name holding a path separator, a
NUL or ``.``/``..`` (a hostile or broken server) is never renamed, read or stored; every name
written by the hub is reduced to ``[A-Za-z0-9._-]`` (``safe_part``); every name logged is shown
with control and direction characters escaped (``printable``): it cannot forge a log line.
"""

from __future__ import annotations

import fnmatch
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, Protocol

from sqlalchemy import text
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout

from connectors.outbound.file import safe_part
from hub.ids import new_id
from hub.ingest import MessageTooLarge
from hub.operations.terminal import printable
from hub.store import Message

log = logging.getLogger(__name__)

SKIP_SUFFIXES = (".tmp", ".part", ".partial", ".reason")
PROCESSING, ARCHIVE, ERROR = "processing", "archive", "error"
REASON = ".reason"  # beside a file in error/ (why it was refused) or processing/ (why it waits)

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

    def list(self, rel: str = "") -> list[Entry]:
        """Raises FileNotFoundError when the folder does not exist."""

    def exists(self, rel: str) -> bool: ...

    def read(self, rel: str, limit: int) -> bytes: ...

    def write(self, rel: str, data: bytes) -> None: ...

    def rename(self, src: str, dst: str) -> None:
        """Atomic; raises FileNotFoundError when ``src`` is gone (another picker took it)."""

    def unlink(self, rel: str) -> None: ...

    def makedirs(self, rel: str) -> None: ...


def undecodable(name: str) -> bool:
    """A name whose bytes are not UTF-8 (read with surrogate escapes, as Python and the SFTP
    folder read them)."""
    return any("\udc80" <= c <= "\udcff" for c in name)


def plain_name(name: str) -> bool:
    """A name that is one path component: nothing in it can climb out of the folder."""
    return bool(name) and name not in (".", "..") and not any(c in name for c in "/\x00")


@dataclass
class PickupRules:
    pattern: str = "*"
    done_suffix: str | None = None
    stable_seconds: float = 1.0
    max_bytes: int = 50 * 1024 * 1024


@dataclass
class Recovery:
    """When claimed files are retried, adopted and reported (seconds; see the module docstring)."""

    sweep_every: float = 30.0  # sweep processing/ at least this often
    adopt_after: float = 60.0  # a claim this old is finished by whoever sweeps
    retry_after: float = 1.0  # first retry after the store failed a file; doubles up to sweep_every
    report_every: float = 60.0  # a waiting file is logged again after this long


@dataclass(frozen=True)
class Waiting:
    """A claimed file in ``processing/`` that is not archived (or set aside in error/) yet."""

    channel: str  # the pickup's label: "filedrop:<channel>", "sftp:<channel>"
    name: str  # the file's name, as claimed (reduced to safe characters)
    message_id: str  # fixed by the claim
    path: str  # where it waits
    age: float | None  # seconds since it was claimed (read from the message id); None if unknown
    last_error: str | None  # why the last attempt to store it failed; None if none failed
    ingesting: bool  # this process is storing it right now


class RefusedFile(Exception):
    """The file itself may not be taken (a channel bound to a partner received what is not the
    partner's to send): it goes to error/ with the reason, like a file that is too large."""


# (raw bytes, message id, original name) → nothing; raises MessageTooLarge, RefusedFile,
# IntegrityError, and whatever the store raises when it is away (never a reason to refuse the file)
StoreFn = Callable[[bytes, str, str], None]

# What became of a claimed file: finished (archived, set aside in error/, or by another picker);
# held in processing/ for a fault of the hub; held because the store is away (claim no more).
Result = Literal["done", "held", "store away"]


def store_away(exc: BaseException) -> bool:
    """Is this the store being unreachable (worth waiting for), rather than it refusing one file?"""
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout | DisconnectionError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def describe(exc: BaseException) -> str:
    """One line naming an error. For a database error, the driver's message only: SQLAlchemy's
    own text carries the statement's parameters, which would put the file's bytes in the log."""
    inner = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = str(inner).strip().splitlines()
    return f"{type(inner).__name__}: {lines[0] if lines else ''}"[:300]


def claim_age(message_id: str) -> float | None:
    """Seconds since a claim was made, read from its id (the hub's ids are UUIDv7, milliseconds
    first, so this holds across processes and hosts); None for an id of another kind."""
    try:
        value = uuid.UUID(message_id)
    except ValueError:
        return None
    return max(0.0, time.time() - (value.int >> 80) / 1000) if value.version == 7 else None


@dataclass(frozen=True)
class Claim:
    """A claimed file found in ``processing/``."""

    name: str
    message_id: str
    original: str
    size: int
    noted: bool  # a ``.reason`` beside it says why it waits

    @property
    def path(self) -> str:
        return f"{PROCESSING}/{self.name}"


def claims_in(entries: list[Entry]) -> list[Claim]:
    """The claimed files among ``processing/``'s entries, oldest claim first (ids sort by time)."""
    names = {e.name for e in entries}
    claims = []
    for entry in sorted(entries, key=lambda e: e.name):
        if entry.kind != "file" or "__" not in entry.name or not plain_name(entry.name) or entry.name.endswith(REASON):
            continue
        message_id, original = entry.name.split("__", 1)
        claims.append(Claim(entry.name, message_id, original, entry.size, entry.name + REASON in names))
    return claims


# Claims this process is storing right now (``Folder.describe`` of each): a sweep leaves them
# alone and a report says so. Process-wide, since two pickups may watch one folder.
_in_flight: set[str] = set()
_in_flight_lock = threading.Lock()


@contextmanager
def _own(where: str) -> Iterator[bool]:
    """Mark a claim as being stored by this process; yields False if it already is."""
    with _in_flight_lock:
        mine = where not in _in_flight
        _in_flight.add(where)
    try:
        yield mine
    finally:
        if mine:
            with _in_flight_lock:
                _in_flight.discard(where)


def _busy(where: str) -> bool:
    with _in_flight_lock:
        return where in _in_flight


def _always_answers() -> None:
    """The default store check: none (a pickup without a database, in tests of the rules)."""


def _claimed(age: float | None) -> str:
    if age is None:
        return "claimed at an unknown time"
    s = int(age)
    if s < 120:
        return f"claimed {s}s ago"
    if s < 7200:
        return f"claimed {s // 60}m{s % 60:02}s ago"
    return f"claimed {s // 3600}h{s % 3600 // 60:02}m ago"


@dataclass
class Pickup:
    """One folder's pickup: ``scan`` takes complete files (and sweeps ``processing/`` when due),
    ``recover`` finishes every claimed one, ``waiting`` lists those not finished."""

    folder: Folder
    rules: PickupRules
    store: StoreFn
    is_stored: Callable[[str], bool]
    label: str
    seen: dict[str, tuple[int, float, float]] = field(default_factory=dict)  # name → (size, mtime, since)
    check_store: Callable[[], None] = _always_answers  # raises while the store does not answer
    recovery: Recovery = field(default_factory=Recovery)
    # -- state ----------------------------------------------------------------------------------
    held: dict[str, str] = field(default_factory=dict, init=False)  # claim name → why it waits
    reported: dict[str, float] = field(default_factory=dict, init=False)  # claim path → last warning
    store_error: str | None = field(default=None, init=False)  # set while the store check fails
    next_sweep: float = field(default=0.0, init=False)  # monotonic
    retry_delay: float = field(default=0.0, init=False)  # > 0: the store failed a file since the last sweep
    restarting: bool = field(default=False, init=False)  # the next sweep adopts every claim

    # -- passes ------------------------------------------------------------------------------

    def recover(self) -> int:
        """Finish every file in processing/ (at start: none of them can be in flight here).
        Returns how many were finished; none while the store is away — the next sweep adopts
        them all as soon as it answers."""
        self.restarting = True
        now = time.monotonic()
        if not self._store_answers(now):
            return 0
        return self._sweep(now)[0]

    def scan(self, now: float) -> int:
        """Pick up every complete file once, sweeping processing/ first when due. Returns how
        many were taken (stored, or set aside in error/)."""
        entries = self.folder.list()
        names = {e.name for e in entries}
        ready = []
        # Oldest first: a backlog (the store was away, the process restarted) is taken in the
        # order the sender wrote it, so the hub receives — and an ordered endpoint gets — a
        # document's versions in that order.
        for entry in sorted(entries, key=lambda e: (e.mtime, e.name)):
            if entry.kind == "link" and self._candidate(entry.name):
                self._refuse_link(entry)
            elif entry.kind == "file" and undecodable(entry.name) and plain_name(entry.name):
                self._set_aside(entry, "the file name is not UTF-8 (its bytes are kept in the .reason file): "
                                       "rename it and send it again")
            elif self._ready(entry, names, now):
                ready.append(entry)
        self._forget_missing(names)
        if not ready and now < self.next_sweep:
            return 0  # nothing to do: the store is not even asked
        if not self._store_answers(now):
            return 0  # claim nothing: the files stay in the inbox, where the sender put them
        if now >= self.next_sweep:
            if not self._sweep(now)[1]:
                return 0
        elif self.retry_delay:
            return 0  # the store failed a file it had answered for: claim no more until it takes that one
        taken = 0
        for entry in ready:
            result = self._claim_and_take(entry)
            if result == "store away":
                break  # the rest stay in the inbox
            taken += result == "done"
        return taken

    def waiting(self) -> list[Waiting]:
        """Claimed files in processing/ not finished yet, oldest claim first."""
        out = []
        for claim in claims_in(self._processing()):
            path = self.folder.describe(claim.path)
            error = self.held.get(claim.name) or (self._read_note(claim) if claim.noted else None)
            out.append(Waiting(self.label, claim.original, claim.message_id, path, claim_age(claim.message_id),
                               error, _busy(path)))
        return out

    # -- the store, the sweep, the report ----------------------------------------------------

    def _store_answers(self, now: float) -> bool:
        """Ask the store before claiming anything: while it does not answer, nothing moves."""
        try:
            self.check_store()
        except Exception as exc:  # noqa: BLE001 - whatever the failure, storing cannot work now
            if self.store_error is None:
                log.warning("%s: the store does not answer, no file is claimed until it does: %s", self.label,
                            describe(exc))
            self.store_error = f"the store does not answer: {describe(exc)}"
            self.next_sweep = now  # finish what waits as soon as it answers
            self._report(now)
            return False
        if self.store_error is not None:
            log.info("%s: the store answers again", self.label)
            self.store_error = None
        return True

    def _sweep(self, now: float) -> tuple[int, bool]:
        """Finish the claims in processing/ this picker holds, and those old enough to have been
        left by a picker that stopped (all of them after ``recover``). Returns (finished, whether
        the store stayed available)."""
        self.next_sweep = now + self.recovery.sweep_every
        entries = self._processing()
        self._drop_stale_notes(entries)
        done = 0
        for claim in claims_in(entries):
            if not (self.restarting or claim.name in self.held or self._abandoned(claim)):
                continue  # young: its picker, in another process, may be storing it now
            result = self._finish(claim)
            if result == "store away":
                return done, False
            done += result == "done"
        self.restarting = False
        self.retry_delay = 0.0
        self._report(now)
        return done, True

    def _abandoned(self, claim: Claim) -> bool:
        age = claim_age(claim.message_id)
        return age is None or age >= self.recovery.adopt_after

    def _finish(self, claim: Claim) -> Result:
        """Archive a claimed file if it was stored, else store it."""
        with _own(self.folder.describe(claim.path)) as mine:
            if not mine:
                return "held"  # this process is storing it right now
            try:
                stored = self.is_stored(claim.message_id)
            except Exception as exc:  # noqa: BLE001 - a store fault: hold the file, never error/
                return self._hold(claim.path, claim.original, exc)
            if stored:
                self._archive(claim.path, claim.message_id, claim.original, claim.noted)
                return "done"
            return self._take(claim.path, claim.message_id, claim.original, claim.size, claim.noted)

    def _hold(self, claimed: str, original: str, exc: BaseException) -> Result:
        """Keep a claimed file in processing/ after a fault of the store or the hub (never in
        error/: the file is not to blame), note why beside it and report it; the sweep retries it."""
        away = store_away(exc)
        reason = f"the store did not answer: {describe(exc)}" if away else f"not stored: {describe(exc)}"
        name = claimed.removeprefix(f"{PROCESSING}/")
        self.held[name] = reason
        self._note(claimed, original, reason)
        now = time.monotonic()
        where = self.folder.describe(claimed)
        # A fault of the hub (not the store being away) is an error, with the traceback that fixes it.
        log.log(logging.WARNING if away else logging.ERROR, "%s: %s stays in %s (%s) and is retried: %s",
                self.label, printable(original), where, _claimed(claim_age(name.split("__", 1)[0])), reason,
                exc_info=None if away else exc)
        self.reported[where] = now
        if not away:
            return "held"  # retried by the periodic sweep; other files go on
        self.retry_delay = min(max(2 * self.retry_delay, self.recovery.retry_after), self.recovery.sweep_every)
        self.next_sweep = min(self.next_sweep, now + self.retry_delay)
        return "store away"

    def _report(self, now: float) -> None:
        """Warn about each claimed file that waits and is not being stored by this process: its
        name, age and why it waits; again every ``report_every`` seconds while it does."""
        waiting = self.waiting()
        current = {w.path for w in waiting}
        for path in [p for p in self.reported if p not in current]:
            del self.reported[path]
        for w in waiting:
            if w.ingesting or not self._overdue(w):
                continue
            last = self.reported.get(w.path)
            if last is not None and now - last < self.recovery.report_every:
                continue
            self.reported[w.path] = now
            why = self.store_error or w.last_error or "its picker has not finished it (stopped, or still at work)"
            log.warning("%s: %s waits in %s (%s): %s", self.label, w.name, w.path, _claimed(w.age), why)

    def _overdue(self, w: Waiting) -> bool:
        """Worth a warning: it failed, the store is away, or no picker finished it in time. A
        young claim of another process is not: that process is storing it."""
        return (w.last_error is not None or self.store_error is not None or w.age is None
                or w.age >= self.recovery.adopt_after)

    def _processing(self) -> list[Entry]:
        try:
            return self.folder.list(PROCESSING)
        except FileNotFoundError:
            return []

    def _note(self, claimed: str, original: str, reason: str) -> None:
        try:
            self._write_reason(claimed, original, reason)
        except OSError as exc:  # the note only explains; the file itself is safe in processing/
            log.warning("%s: cannot note why %s waits: %s", self.label, printable(original), exc)

    def _read_note(self, claim: Claim) -> str | None:
        try:
            note = self.folder.read(claim.path + REASON, 4096).decode("utf-8", "replace")
        except OSError:
            return None  # finished meanwhile
        return next((ln.removeprefix("reason: ") for ln in note.splitlines() if ln.startswith("reason: ")), None)

    def _drop_stale_notes(self, entries: list[Entry]) -> None:
        """A note whose file is gone (finished by another picker, which did not know of it)."""
        names = {e.name for e in entries}
        for name in names:
            if name.endswith(REASON) and plain_name(name) and name.removesuffix(REASON) not in names:
                self._unlink_quietly(f"{PROCESSING}/{name}")

    # -- readiness ---------------------------------------------------------------------------

    def _candidate(self, name: str) -> bool:
        if not plain_name(name):
            log.warning("%s: ignoring a listed name that is not a plain file name: %s", self.label,
                        printable(name))
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

    def _claim_and_take(self, entry: Entry) -> Result | None:
        """None when another picker claimed the file first."""
        message_id = new_id()
        self.folder.makedirs(PROCESSING)
        claimed = f"{PROCESSING}/{message_id}__{safe_part(entry.name)}"
        with _own(self.folder.describe(claimed)):  # before the rename: a sweep must never see it unowned
            try:
                self.folder.rename(entry.name, claimed)  # atomic: exactly one picker wins
            except FileNotFoundError:
                return None  # another picker took it
            self.seen.pop(entry.name, None)
            if self.rules.done_suffix:
                self._unlink_quietly(entry.name + self.rules.done_suffix)
            return self._take(claimed, message_id, entry.name, entry.size)

    def _take(self, claimed: str, message_id: str, original: str, size: int, noted: bool = False) -> Result:
        if size > self.rules.max_bytes:  # refuse before reading gigabytes over the wire
            self._reject(claimed, message_id, original, str(MessageTooLarge(size, self.rules.max_bytes)), noted)
            return "done"
        try:
            raw = self.folder.read(claimed, self.rules.max_bytes + 1)
        except FileNotFoundError:
            log.info("%s: %s was finished by another picker", self.label, printable(original))
            return "done"
        except OSError as exc:
            self._reject(claimed, message_id, original, f"cannot read file: {exc.strerror or exc}", noted)
            return "done"
        try:
            self.store(raw, message_id, original)
        except (MessageTooLarge, RefusedFile) as exc:
            self._reject(claimed, message_id, original, str(exc), noted)
            return "done"
        except IntegrityError as exc:
            if (held := self._conflict(claimed, message_id, original, exc)) is not None:
                return held
        except Exception as exc:  # noqa: BLE001 - the store's fault or the hub's, not the file's: hold it
            return self._hold(claimed, original, exc)
        self._archive(claimed, message_id, original, noted)
        return "done"

    def _conflict(self, claimed: str, message_id: str, original: str, exc: IntegrityError) -> Result | None:
        """The claim's id is the primary key, so a conflict is normally another picker having
        stored this claim first (None: archive it). Any other conflict is a fault of the hub:
        the file is held, not archived unstored."""
        try:
            if self.is_stored(message_id):
                log.info("%s: %s is already stored as message %s (another picker stored it)", self.label,
                         printable(original), message_id)
                return None
        except Exception as lookup:  # noqa: BLE001 - the store went away meanwhile: hold the file
            return self._hold(claimed, original, lookup)
        return self._hold(claimed, original, exc)

    def _archive(self, claimed: str, message_id: str, original: str, noted: bool = False) -> None:
        day = datetime.now(UTC).strftime("%Y-%m-%d")
        target = f"{ARCHIVE}/{day}/{message_id}__{safe_part(original)}"
        try:
            self.folder.makedirs(f"{ARCHIVE}/{day}")
            self.folder.rename(claimed, target)
        except FileNotFoundError:
            log.info("%s: %s was archived by another picker", self.label, printable(original))
        except OSError as exc:
            # Stored already: the file stays in processing/ (the sweep archives it later) and the
            # other files go on. Both paths are named: the fix is on that folder.
            log.error("%s: %s is stored as message %s but cannot be archived from %s to %s: %s", self.label,
                      printable(original), message_id, self.folder.describe(claimed), self.folder.describe(target),
                      exc.strerror or exc)
            return
        self._settle(claimed, noted)

    def _reject(self, claimed: str, message_id: str, original: str, reason: str, noted: bool = False) -> None:
        self.folder.makedirs(ERROR)
        target = f"{ERROR}/{message_id}__{safe_part(original)}"
        try:
            self.folder.rename(claimed, target)
        except FileNotFoundError:
            return
        self._settle(claimed, noted)
        self._write_reason(target, original, reason)
        log.error("%s: file %s moved to %s: %s", self.label, printable(original), self.folder.describe(target),
                  printable(reason))

    def _settle(self, claimed: str, noted: bool) -> None:
        """The claim left processing/: forget it, and remove the note that said why it waited."""
        self.reported.pop(self.folder.describe(claimed), None)
        if self.held.pop(claimed.removeprefix(f"{PROCESSING}/"), None) is not None or noted:
            self._unlink_quietly(claimed + REASON)

    def _refuse_link(self, entry: Entry) -> None:
        # A link could point anywhere (/etc/shadow, another partner's folder): never follow it.
        self._set_aside(entry, "symbolic links are not picked up (they may point outside the folder)")

    def _set_aside(self, entry: Entry, reason: str) -> None:
        """Move an entry that is not to be picked up to error/, with the reason beside it."""
        self.folder.makedirs(ERROR)
        target = f"{ERROR}/{new_id()}__{safe_part(entry.name)}"
        try:
            self.folder.rename(entry.name, target)
        except FileNotFoundError:
            return
        self._write_reason(target, entry.name, reason)
        log.error("%s: %s moved to %s: %s", self.label, printable(entry.name), self.folder.describe(target), reason)

    def _write_reason(self, target: str, original: str, reason: str) -> None:
        shown = original.encode("unicode_escape").decode("ascii")  # a name cannot add lines to the file
        body = f"file: {shown}\nchannel: {self.label}\nreason: {reason}\nat: {datetime.now(UTC).isoformat()}\n"
        self.folder.write(target + REASON, body.encode("utf-8"))

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


def store_check(hub) -> Callable[[], None]:
    """Raises while the store does not answer: one ``SELECT 1``, asked before files are claimed."""

    def check() -> None:
        with hub.db.read() as session:
            session.execute(text("SELECT 1"))

    return check


@dataclass(frozen=True)
class FileChannel:
    """What a picked-up file is, when the channel says so (else detected from its bytes)."""

    kind: str  # filedrop, sftp
    name: str
    format: str | None = None
    doctype: str | None = None
    sender: str | None = None
    partner: str | None = None  # the registry partner the channel belongs to: its files are checked

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.name}"


def store_into(hub, channel: FileChannel) -> StoreFn:
    """A ``StoreFn`` committing picked-up files through ``hub.ingest`` (then published). On a
    channel bound to a partner, each file must first pass the partner's admission check
    (``connectors.inbound.admission``); a refusal is a security event and the file goes to error/."""
    from hub.ingest import Inbound, Ingest
    from hub.sniff import peek

    ingest = Ingest(hub)

    def store(raw: bytes, message_id: str, original: str) -> None:
        seen = peek(raw)
        fmt = channel.format or seen.format
        doctype, sender, headers = channel.doctype or seen.doctype or "unknown", None, {}
        if channel.partner is not None:
            admitted = admit_file(hub, channel, raw, fmt, original)
            doctype, sender, headers = admitted.doctype, admitted.sender, {"partner_id": channel.partner}
        accepted = ingest.accept(Inbound(
            raw=raw, format=fmt, doctype=doctype, sender=sender or channel.sender or seen.sender or channel.name,
            channel=channel.label, filename=original, message_id=message_id,
            headers={"channel": channel.name, "filename": original, **headers},
        ))
        log.info("file %s from %s channel %s stored as message %s (published: %s)", printable(original),
                 channel.kind, channel.name, accepted.message_id, accepted.published)

    return store


def admit_file(hub, channel: FileChannel, raw: bytes, fmt: str, original: str):
    """The bound partner's admission check for one file; raises ``RefusedFile`` (recorded as a
    security event with the bytes kept) or, when the partner is not in the registry, a plain
    error: a configuration fault of the hub holds the file in processing/, it is not to blame."""
    from connectors.inbound.admission import NotAdmitted, admit
    from connectors.security import record_event
    from hub.canonical.enums import PartnerStatus
    from hub.partners import PartnerRegistry

    registry = PartnerRegistry(hub.db)
    partner = registry.by_id(channel.partner)
    if partner is None:
        raise LookupError(f"channel {channel.name} is bound to partner {channel.partner}, which is not in the "
                          "partner registry (hub partners load)")
    try:
        if partner.status == PartnerStatus.SUSPENDED:
            raise NotAdmitted(403, f"partner {partner.id} is suspended", "partner_suspended")
        return admit(registry, partner, raw, fmt, channel.doctype)
    except NotAdmitted as exc:
        record_event(hub, exc.kind, exc.reason, channel=channel.label, partner_id=partner.id, claimed=exc.claimed,
                     raw=raw, detail={**exc.detail, "filename": original})
        log.warning("%s: refused %s (%s): %s", channel.label, printable(original), exc.kind, printable(exc.reason))
        raise RefusedFile(f"{exc.kind}: {exc.reason}") from None

