"""File drop: watch local folders and pick up complete files (``HUB_DATA_DIR/inbox/<channel>/``
unless configured), with the safe-pickup rules of ``connectors.inbound.pickup``: stable size or
done-file, atomic claim by rename into ``processing/<message id>__<name>``, stored and published
through hub.ingest, then ``archive/<yyyy-mm-dd>/``; bad files to ``error/`` with a ``.reason``;
nothing is lost or stored twice.

While the store (the database) does not answer, nothing is claimed; a file whose store failed
after its claim waits in ``processing/`` and is finished by the running file drop when the
store answers again — no restart (the rules: ``connectors.inbound.pickup``). ``files_waiting``
lists what waits in the channels' ``processing/`` folders, for operations, from any process.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from connectors.inbound.localfolder import LocalFolder
from connectors.inbound.pickup import (
    FileChannel,
    Pickup,
    PickupRules,
    Recovery,
    Waiting,
    store_check,
    store_into,
    stored_in,
)

log = logging.getLogger(__name__)


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
    partner: str | None = None

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
    """Configured file-drop channels, plus any other folder under the inbox (format detected)."""
    out: dict[str, DropChannel] = {}
    inbox = hub.settings.inbox_dir
    for name, channel in hub.routes.channels.items():
        cfg = channel.filedrop
        if cfg is None:
            continue  # another kind (sftp): its own poller
        out[name] = DropChannel(
            name=name, folder=Path(cfg.path) if cfg.path else inbox / name, pattern=cfg.pattern, format=cfg.format,
            doctype=cfg.doctype, sender=cfg.sender, done_suffix=cfg.done_suffix, partner=cfg.partner,
            stable_seconds=cfg.stable_seconds if cfg.stable_seconds is not None else hub.settings.inbox_stable_seconds,
        )
    if inbox.is_dir():
        for folder in sorted(p for p in inbox.iterdir() if p.is_dir()):
            if folder.name not in out and folder.name not in hub.routes.channels:
                out[folder.name] = DropChannel(folder.name, folder, stable_seconds=hub.settings.inbox_stable_seconds)
    return list(out.values())


class FileDrop:
    def __init__(self, hub, channels: list[DropChannel] | None = None, recovery: Recovery | None = None) -> None:
        self.hub = hub
        self.recovery = recovery
        self.channels = channels if channels is not None else channels_from(hub)
        self.pickups = [(ch, self._pickup(ch)) for ch in self.channels]

    def _pickup(self, ch: DropChannel) -> Pickup:
        hub = self.hub
        return Pickup(LocalFolder(ch.folder),
                      PickupRules(ch.pattern, ch.done_suffix, ch.stable_seconds, hub.settings.max_message_bytes),
                      store_into(hub, FileChannel("filedrop", ch.name, ch.format, ch.doctype, ch.sender, ch.partner)),
                      stored_in(hub), f"filedrop:{ch.name}", check_store=store_check(hub),
                      recovery=self.recovery or Recovery())

    def retarget(self, channels: list[DropChannel]) -> list[str]:
        """Watch these channels from the next scan on (a route reload changed them: hub.reload).
        An unchanged channel keeps its pickup, and with it the sizes it has seen holding still;
        a new or changed one first finishes what its processing/ folder holds. Returns what
        changed, as ``+name``, ``-name``, ``~name``."""
        kept = {ch.name: (ch, pickup) for ch, pickup in self.pickups}
        pickups, said = [], []
        for ch in channels:
            old = kept.pop(ch.name, None)
            if old is not None and old[0] == ch:
                pickups.append(old)
                continue
            pickup = self._pickup(ch)
            try:
                if ch.folder.is_dir():
                    pickup.recover()
            except Exception:  # noqa: BLE001 - as at start: the scans finish what recovery could not
                log.exception("file drop: recovering channel %s failed", ch.name)
            pickups.append((ch, pickup))
            said.append(("~" if old else "+") + ch.name)
        said += [f"-{name}" for name in kept]
        self.channels, self.pickups = list(channels), pickups
        return said

    def recover(self) -> int:
        """Finish files a previous run claimed but did not archive."""
        return sum(pickup.recover() for ch, pickup in self.pickups if ch.folder.is_dir())

    def waiting(self) -> list[Waiting]:
        """Files claimed into processing/ and not finished, every channel, oldest first per channel."""
        return [w for ch, pickup in self.pickups if ch.folder.is_dir() for w in pickup.waiting()]

    def scan(self) -> int:
        """Pick up every complete file once. Returns how many were taken."""
        taken = 0
        for ch, pickup in self.pickups:
            ch.folder.mkdir(parents=True, exist_ok=True)
            taken += pickup.scan(time.monotonic())
        return taken


def files_waiting(hub) -> list[Waiting]:
    """What waits in the file drop's ``processing/`` folders: per file its name, channel, age and
    last error, and whether this process is storing it right now. Reads the folders only (and
    the ``.reason`` notes beside held files): safe to call from any process, with or without
    the store."""
    return FileDrop(hub).waiting()


class FileDropThread(threading.Thread):
    def __init__(self, hub, interval: float | None = None, drop: FileDrop | None = None) -> None:
        super().__init__(name="file-drop", daemon=True)
        self.drop = drop or FileDrop(hub)
        self.interval = hub.settings.inbox_poll_interval if interval is None else interval
        self.stopping = threading.Event()
        self.pending: list[DropChannel] | None = None  # channels to take between two scans (retarget)
        self._pending_lock = threading.Lock()

    def retarget(self, channels: list[DropChannel]) -> None:
        """Take these channels before the next scan: never in the middle of one, so a file being
        stored finishes under the channel that claimed it."""
        with self._pending_lock:
            self.pending = channels

    def _take_pending(self) -> None:
        with self._pending_lock:
            channels, self.pending = self.pending, None
        if channels is not None:
            changed = self.drop.retarget(channels)
            if changed:
                log.info("file drop: channels %s", " ".join(changed))

    def run(self) -> None:
        try:
            self.drop.recover()
        except Exception:  # noqa: BLE001 - keep watching even if recovery hits a bad file
            log.exception("file drop recovery failed")
        while not self.stopping.is_set():
            try:
                self._take_pending()
                self.drop.scan()
            except Exception:  # noqa: BLE001 - a database/broker outage must not kill the watcher
                log.exception("file drop scan failed; retrying")
            self.stopping.wait(self.interval)

    def stop(self) -> None:
        self.stopping.set()
