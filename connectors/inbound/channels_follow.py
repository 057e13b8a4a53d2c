"""The file drop and the SFTP pollers follow the channels of the route generation in force.

- the file drop takes its new channel list between two scans (``FileDropThread.retarget``):
  a file being stored finishes under the channel that claimed it; an unchanged channel keeps
  what it has seen of files still growing; a new channel first finishes its ``processing/``;
- an SFTP channel added gets a poller; one removed has its poller stopped after the pass it is
  in (a file being downloaded is finished, archived, then the session closed); one changed
  (another server, folder, pattern …) is stopped that way and started again with the new
  configuration. Two pollers on one folder never take the same file (claims are renames on the
  server), so the moment both run does no harm.
"""

from __future__ import annotations

import logging

from hub.reload.follow import RouteState

log = logging.getLogger(__name__)

STOP_WAIT = 60.0  # seconds to wait for a stopped poller to finish its pass


RUNNING: list[ChannelRunner] = []  # the runners started in this process


def on_generation(old: RouteState, new: RouteState) -> None:
    """The follower listener of a process whose channels start after its follower (``hub run``)."""
    for runner in list(RUNNING):
        runner.on_generation(old, new)


class ChannelRunner:
    """The inbound channels of one process: the file drop, the SFTP pollers, or both."""

    def __init__(self, hub, *, filedrop: bool = True, sftp: bool = True, only: list[str] | None = None) -> None:
        self.hub = hub
        self.filedrop = filedrop
        self.sftp = sftp
        self.only = only  # sftp channels named on the command line (hub sftp poll --channel)
        self.drop_thread = None
        self.pollers: dict[str, object] = {}  # sftp channel → SftpPollerThread

    def start(self) -> ChannelRunner:
        if self.filedrop:
            from connectors.inbound.filedrop import FileDropThread

            self.drop_thread = FileDropThread(self.hub)
            self.drop_thread.start()
        if self.sftp:
            self._sftp_to(self._sftp_channels())
        RUNNING.append(self)
        return self

    def stop(self) -> None:
        if self in RUNNING:
            RUNNING.remove(self)
        if self.drop_thread is not None:
            self.drop_thread.stop()
        for thread in self.pollers.values():
            thread.stop()

    def threads(self) -> list:
        return [t for t in [self.drop_thread, *self.pollers.values()] if t is not None]

    def on_generation(self, old: RouteState, new: RouteState) -> None:
        """A follower listener (hub.reload.follow): the hub has the new set already."""
        if self.drop_thread is not None:
            from connectors.inbound.filedrop import channels_from

            self.drop_thread.retarget(channels_from(self.hub))
        if self.sftp:
            self._sftp_to(self._sftp_channels())

    # -- sftp ------------------------------------------------------------------------------

    def _sftp_channels(self) -> dict:
        found = {name: ch.sftp for name, ch in self.hub.routes.channels.items() if ch.sftp is not None}
        return {name: cfg for name, cfg in found.items() if self.only is None or name in self.only}

    def _sftp_to(self, channels: dict) -> None:
        from connectors.inbound.sftp import SftpPoller, SftpPollerThread

        for name in sorted(self.pollers):
            thread = self.pollers[name]
            if channels.get(name) == thread.poller.config:
                continue
            thread.stop()
            thread.join(STOP_WAIT)
            del self.pollers[name]
            log.info("sftp channel %s: poller stopped (%s)", name, "changed" if name in channels else "removed")
        for name, config in sorted(channels.items()):
            if name in self.pollers:
                continue
            thread = SftpPollerThread(SftpPoller(self.hub, name, config))
            thread.start()
            self.pollers[name] = thread
