"""SFTP inbound: poll a partner's remote folder with the file drop's safe-pickup rules.

Each ``sftp:`` channel gets a poller that connects (host key checked, credentials from the
environment), finishes what an earlier run left in ``processing/`` on the server, then scans
every ``poll_interval``: a complete file is claimed by an atomic rename on the server into
``processing/<message id>__<name>`` (two pollers, on one host or two, never take the same
file), downloaded, stored and published through hub.ingest, then renamed into
``archive/<yyyy-mm-dd>/``. A dropped connection or a restart loses nothing: the next session
recovers ``processing/`` first (see ``connectors.inbound.pickup``). A store (database) outage
neither: nothing is claimed while the store does not answer, and a file whose store failed
after its claim waits in ``processing/`` on the server until a sweep of the same session
finishes it; ``SftpPoller.waiting`` lists such files.
"""

from __future__ import annotations

import logging
import threading
import time

import paramiko

from connectors.inbound.pickup import (
    FileChannel,
    Pickup,
    PickupRules,
    Waiting,
    store_check,
    store_into,
    stored_in,
)
from connectors.sftp import SftpError, SftpFolder, SftpSession, connect
from hub.routes.model import SftpChannelConfig

log = logging.getLogger(__name__)

TRANSIENT = (SftpError, OSError, EOFError, paramiko.SSHException)


class SftpPoller:
    """One channel's poller. ``poll_once`` is one pass (connect/recover if needed, then scan)."""

    def __init__(self, hub, name: str, config: SftpChannelConfig) -> None:
        self.hub = hub
        self.name = name
        self.config = config
        stable = config.stable_seconds if config.stable_seconds is not None else hub.settings.inbox_stable_seconds
        self.rules = PickupRules(config.pattern, config.done_suffix, stable, hub.settings.max_message_bytes)
        self.store = store_into(hub, FileChannel("sftp", name, config.format, config.doctype, config.sender,
                                                    config.partner))
        self.is_stored = stored_in(hub)
        self.check_store = store_check(hub)
        self.session: SftpSession | None = None
        self.pickup: Pickup | None = None
        self.seen: dict = {}  # stability observations survive reconnects

    @property
    def label(self) -> str:
        return f"sftp:{self.name}"

    def _connect(self) -> Pickup:
        self.close()
        self.session = connect(self.config)
        folder = SftpFolder(self.session.client, self.config.path, f"{self.label}@{self.config.host}",
                            self.config.io_timeout)
        pickup = Pickup(folder, self.rules, self.store, self.is_stored, self.label, self.seen,
                        check_store=self.check_store)
        recovered = pickup.recover()
        if recovered:
            log.info("%s: finished %d file(s) an earlier session had claimed", self.label, recovered)
        self.pickup = pickup
        return pickup

    def poll_once(self) -> int:
        pickup = self.pickup if self.session is not None and self.session.alive and self.pickup else self._connect()
        try:
            return pickup.scan(time.monotonic())
        except TRANSIENT:
            self.close()  # the next pass reconnects and recovers
            raise

    def poll_settled(self) -> int:
        """One pass for a process that has not watched the folder before (``hub sftp poll
        --once``, from cron): without a done suffix a file is complete when its size and mtime
        hold, and a fresh process has nothing to compare with — so it looks once, waits
        ``stable_seconds`` and looks again."""
        taken = self.poll_once()
        if not self.rules.done_suffix and self.rules.stable_seconds > 0:
            time.sleep(self.rules.stable_seconds)
            taken += self.poll_once()
        return taken

    def waiting(self) -> list[Waiting]:
        """Files claimed into ``processing/`` on the server and not finished (needs a session)."""
        return self.pickup.waiting() if self.pickup is not None else []

    def close(self) -> None:
        if self.session is not None:
            try:
                self.session.close()
            except Exception:  # noqa: BLE001 - closing a broken session; nothing left to save
                log.debug("%s: error closing the session", self.label, exc_info=True)
        self.session = None
        self.pickup = None


class SftpPollerThread(threading.Thread):
    """Runs one poller until stopped; connection problems are logged and retried next pass."""

    def __init__(self, poller: SftpPoller) -> None:
        super().__init__(name=f"sftp-{poller.name}", daemon=True)
        self.poller = poller
        self.stopping = threading.Event()
        self.failing = False

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.poller.poll_once()
                if self.failing:
                    log.info("%s: polling again", self.poller.label)
                self.failing = False
            except TRANSIENT as exc:
                self._report(f"{type(exc).__name__}: {exc}")
            except Exception as exc:  # noqa: BLE001 - a database/broker outage must not kill the poller
                self._report(f"{type(exc).__name__}: {exc}", trace=True)
            self.stopping.wait(self.poller.config.poll_interval)
        self.poller.close()

    def _report(self, reason: str, trace: bool = False) -> None:
        if not self.failing:  # once per outage, not once per pass
            log.error("%s: poll failed, retrying every %.0fs: %s", self.poller.label,
                      self.poller.config.poll_interval, reason, exc_info=trace)
        self.failing = True

    def stop(self) -> None:
        self.stopping.set()


def pollers_from(hub, only: list[str] | None = None) -> list[SftpPoller]:
    """A poller per ``sftp:`` channel of the route files (or per named channel)."""
    channels = {name: ch.sftp for name, ch in hub.routes.channels.items() if ch.sftp is not None}
    unknown = sorted(set(only or []) - set(channels))
    if unknown:
        known = ", ".join(sorted(channels)) or "none"
        raise KeyError(f"no sftp channel named {', '.join(unknown)} (sftp channels: {known})")
    return [SftpPoller(hub, name, cfg) for name, cfg in sorted(channels.items()) if not only or name in only]


def start_pollers(hub, only: list[str] | None = None) -> list[SftpPollerThread]:
    threads = [SftpPollerThread(p) for p in pollers_from(hub, only)]
    for t in threads:
        t.start()
    return threads
