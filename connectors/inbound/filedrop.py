"""File drop: watch folders, pick up complete files, store and publish them, archive them.

Per channel folder (``HUB_DATA_DIR/inbox/<channel>/`` unless configured):

1. A file is complete when its size and mtime have held for ``stable_seconds`` — or, with
   ``done_suffix``, when ``<file><suffix>`` exists (the sender writes it last).
2. It is *claimed* by an atomic rename into ``processing/<message id>__<name>``: two
   watchers never take the same file, and the message id is fixed before anything else.
3. It is stored (committed) and published through hub.ingest, then moved to
   ``archive/<yyyy-mm-dd>/``.
4. A file that cannot be taken (too large, unreadable) goes to ``error/`` with a ``.reason``
   file beside it; the original bytes are kept there.

Restart: a file left in ``processing/`` is looked up by its message id — archived if it was
stored, stored if it was not. No file is lost or stored twice.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from connectors.outbound.file import safe_part
from hub.ids import new_id
from hub.ingest import Ingest, Inbound, MessageTooLarge
from hub.sniff import peek
from hub.store import Message

log = logging.getLogger(__name__)

SKIP_SUFFIXES = (".tmp", ".part", ".partial", ".reason")


@dataclass
class DropChannel:
    name: str
    folder: Path
    pattern: str = "*"
    format: str | None = None
    doctype: str | None = None
    sender: str | None = None
    done_suffix: str | None = None
    stable_seconds: float = 1.0

    @property
    def processing(self) -> Path:
        return self.folder / "processing"

    @property
    def archive(self) -> Path:
        return self.folder / "archive"

    @property
    def error(self) -> Path:
        return self.folder / "error"


def channels_from(hub) -> list[DropChannel]:
    """Configured channels, plus any other folder under the inbox (format detected)."""
    out: dict[str, DropChannel] = {}
    inbox = hub.settings.inbox_dir
    for name, channel in hub.routes.channels.items():
        cfg = channel.filedrop
        out[name] = DropChannel(
            name=name, folder=Path(cfg.path) if cfg.path else inbox / name, pattern=cfg.pattern, format=cfg.format,
            doctype=cfg.doctype, sender=cfg.sender, done_suffix=cfg.done_suffix,
            stable_seconds=cfg.stable_seconds if cfg.stable_seconds is not None else hub.settings.inbox_stable_seconds,
        )
    if inbox.is_dir():
        for folder in sorted(p for p in inbox.iterdir() if p.is_dir()):
            if folder.name not in out:
                out[folder.name] = DropChannel(folder.name, folder, stable_seconds=hub.settings.inbox_stable_seconds)
    return list(out.values())


class FileDrop:
    def __init__(self, hub, channels: list[DropChannel] | None = None) -> None:
        self.hub = hub
        self.ingest = Ingest(hub)
        self.channels = channels if channels is not None else channels_from(hub)
        self._seen: dict[Path, tuple[int, int, float]] = {}  # path → (size, mtime_ns, since)

    # -- one pass ----------------------------------------------------------------------------

    def recover(self) -> int:
        """Finish files a previous run claimed but did not archive."""
        done = 0
        for ch in self.channels:
            if not ch.processing.is_dir():
                continue
            for path in sorted(ch.processing.iterdir()):
                if path.is_file() and "__" in path.name:
                    message_id, original = path.name.split("__", 1)
                    with self.hub.db.session() as session:
                        stored = session.get(Message, message_id) is not None
                    if stored:
                        self._archive(ch, path, message_id, original)
                    else:
                        self._take(ch, path, message_id, original)
                    done += 1
        return done

    def scan(self) -> int:
        """Pick up every complete file once. Returns how many were taken."""
        taken = 0
        now = time.monotonic()
        for ch in self.channels:
            ch.folder.mkdir(parents=True, exist_ok=True)
            for path in sorted(ch.folder.iterdir()):
                if self._ready(ch, path, now) and self._claim_and_take(ch, path):
                    taken += 1
        return taken

    def _ready(self, ch: DropChannel, path: Path, now: float) -> bool:
        name = path.name
        if not path.is_file() or name.startswith(".") or name.endswith(SKIP_SUFFIXES):
            return False
        if ch.done_suffix and name.endswith(ch.done_suffix):
            return False
        if not fnmatch.fnmatch(name, ch.pattern):
            return False
        if ch.done_suffix:
            return path.with_name(name + ch.done_suffix).exists()
        try:
            st = path.stat()
        except FileNotFoundError:
            return False
        seen = self._seen.get(path)
        if seen is None or seen[:2] != (st.st_size, st.st_mtime_ns):
            self._seen[path] = (st.st_size, st.st_mtime_ns, now)
            return ch.stable_seconds <= 0
        return now - seen[2] >= ch.stable_seconds

    def _claim_and_take(self, ch: DropChannel, path: Path) -> bool:
        message_id = new_id()
        ch.processing.mkdir(parents=True, exist_ok=True)
        claimed = ch.processing / f"{message_id}__{safe_part(path.name)}"
        try:
            os.rename(path, claimed)  # atomic: exactly one watcher wins
        except FileNotFoundError:
            return False  # another watcher took it
        self._seen.pop(path, None)
        if ch.done_suffix:
            path.with_name(path.name + ch.done_suffix).unlink(missing_ok=True)
        self._take(ch, claimed, message_id, path.name)
        return True

    def _take(self, ch: DropChannel, claimed: Path, message_id: str, original: str) -> None:
        try:
            raw = claimed.read_bytes()
            seen = peek(raw)
            accepted = self.ingest.accept(Inbound(
                raw=raw, format=ch.format or seen.format, doctype=ch.doctype or seen.doctype or "unknown",
                sender=ch.sender or seen.sender or ch.name,
                channel=f"filedrop:{ch.name}", filename=original, message_id=message_id,
                headers={"channel": ch.name, "filename": original},
            ))
        except MessageTooLarge as exc:
            self._reject(ch, claimed, original, str(exc))
            return
        except OSError as exc:
            self._reject(ch, claimed, original, f"cannot read file: {exc.strerror or exc}")
            return
        log.info("file %s from channel %s stored as message %s (published: %s)", original, ch.name,
                 accepted.message_id, accepted.published)
        self._archive(ch, claimed, message_id, original)

    def _archive(self, ch: DropChannel, claimed: Path, message_id: str, original: str) -> None:
        day = datetime.now(UTC).strftime("%Y-%m-%d")
        target = ch.archive / day
        target.mkdir(parents=True, exist_ok=True)
        os.replace(claimed, target / f"{message_id}__{safe_part(original)}")

    def _reject(self, ch: DropChannel, claimed: Path, original: str, reason: str) -> None:
        ch.error.mkdir(parents=True, exist_ok=True)
        target = ch.error / f"{claimed.name.split('__', 1)[0]}__{safe_part(original)}"
        os.replace(claimed, target)
        target.with_name(target.name + ".reason").write_text(
            f"file: {original}\nchannel: {ch.name}\nreason: {reason}\nat: {datetime.now(UTC).isoformat()}\n")
        log.error("file %s from channel %s moved to %s: %s", original, ch.name, target, reason)


class FileDropThread(threading.Thread):
    def __init__(self, hub, interval: float | None = None) -> None:
        super().__init__(name="file-drop", daemon=True)
        self.drop = FileDrop(hub)
        self.interval = hub.settings.inbox_poll_interval if interval is None else interval
        self.stopping = threading.Event()

    def run(self) -> None:
        try:
            self.drop.recover()
        except Exception:  # noqa: BLE001 - keep watching even if recovery hits a bad file
            log.exception("file drop recovery failed")
        while not self.stopping.is_set():
            try:
                self.drop.scan()
            except Exception:  # noqa: BLE001 - a database/broker outage must not kill the watcher
                log.exception("file drop scan failed; retrying")
            self.stopping.wait(self.interval)

    def stop(self) -> None:
        self.stopping.set()
