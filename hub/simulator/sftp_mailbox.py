"""The simulated partner's SFTP mailbox: the folders on an SFTP server where the hub drops the
partner's orders (an ``sftp:`` endpoint) and picks up its answers (an ``sftp:`` channel bound to
the partner).

Why as a client of the same server, with the hub's own session code: that is how a supplier's
translator works its mailbox — it logs in to the server, takes what the hub uploaded and uploads
its answers, and the hub sees only files appearing in a remote folder. Using
``connectors.sftp.connect`` (host key always checked, credentials from the environment variables
the route file names) means the simulator reaches exactly the server, folder and account an
operator configured, and fails with the same clear reasons when they are wrong.

Taking: every complete file in the folder (not a dot-name, not ``.tmp``/``.part``: the hub's
sender uploads under a hidden temporary name and renames), oldest first, read and then moved into
``taken/`` beside it on the server. Putting: written under a hidden temporary name, renamed into
place — the hub's poller never sees a partial file — and, when the channel waits for a done
marker (``done_suffix``), the marker written after.
"""

from __future__ import annotations

import posixpath
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from hub.routes.model import SftpServer
from hub.simulator.channels import ChannelError


class SftpMailboxError(ChannelError):
    """The mailbox could not be read or written; names the server, the folder and why."""


SKIP = (".tmp", ".part", ".partial", ".reason")


@dataclass
class SftpMailbox:
    config: SftpServer
    done_suffix: str | None = None
    max_bytes: int = 50 * 1024 * 1024
    _session: Any = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def where(self) -> str:
        return f"sftp://{self.config.host}:{self.config.port}{self.config.path}"

    def _folder(self):
        from connectors.sftp import SftpFolder, connect

        if self._session is None or not self._session.alive:
            self.close()
            self._session = connect(self.config)
        return SftpFolder(self._session.client, self.config.path, self.where, self.config.io_timeout)

    def take(self) -> list[tuple[str, bytes]]:
        """Every complete file, oldest first, moved into ``taken/`` once read."""
        from connectors.inbound.pickup import plain_name

        with self._lock, self._failures("taking files from"):
            folder = self._folder()
            if not folder.exists(""):
                return []
            entries = sorted((e for e in folder.list() if e.kind == "file" and plain_name(e.name)
                              and not e.name.startswith(".") and not e.name.endswith(SKIP)),
                             key=lambda e: (e.mtime, e.name))
            out = []
            for entry in entries:
                data = folder.read(entry.name, self.max_bytes + 1)
                if len(data) > self.max_bytes:
                    raise SftpMailboxError(f"{self.where}/{entry.name}: larger than {self.max_bytes} bytes")
                folder.makedirs("taken")
                target = f"taken/{entry.name}"
                if folder.exists(target):  # an earlier file of that name stays in the archive
                    target = f"taken/{entry.name}.{int(time.time() * 1000)}"
                try:
                    folder.rename(entry.name, target)
                except FileNotFoundError:
                    continue  # another reader of the mailbox took it first
                out.append((entry.name, data))
            return out

    def put(self, name: str, data: bytes) -> str:
        """Upload ``name`` whole: a temporary name, then renamed into place (never over a file)."""
        with self._lock, self._failures(f"putting {name} into"):
            folder = self._folder()
            folder.makedirs("")
            staging = f".{name}.simulator.tmp"
            folder.write(staging, data)
            if folder.exists(name):
                folder.unlink(staging)
                raise SftpMailboxError(f"{self.where}/{name} exists already: the partner's file names repeat")
            folder.rename(staging, name)
            if self.done_suffix:
                folder.write(name + self.done_suffix, b"")
            return posixpath.join(self.where, name)

    def close(self) -> None:
        if self._session is not None:
            try:
                self._session.close()
            except Exception:  # noqa: BLE001 - a broken session; the next call makes a new one
                pass
        self._session = None

    @contextmanager
    def _failures(self, what: str) -> Iterator[None]:
        """The SFTP layer's errors as ``SftpMailboxError`` naming the mailbox; the session is
        dropped so the next call reconnects."""
        import paramiko

        from connectors.sftp import SftpError

        try:
            yield
        except (SftpError, OSError, EOFError, paramiko.SSHException) as exc:
            self.close()
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise SftpMailboxError(f"{what} {self.where}: {reason}") from None
