"""SFTP endpoint (every failure counts as the server being unavailable: its circuit opens and
documents wait, see hub.delivery.circuit): upload to a temporary name in the remote folder, then rename it into place,
so the partner's poller never sees a partial file. The same delivery sent again (a retry after
a crash, a replay) lands on the same name: the rename replaces it (OpenSSH's posix-rename
extension; on servers without it the old file is removed first). File names come from the
endpoint's template with sanitised values (``connectors.outbound.file.target_name``).

One session per endpoint per worker process, reconnected when it drops; sessions never cross
a fork.
"""

from __future__ import annotations

import logging
import os
import posixpath
import threading

from hub.delivery.sending import DeliveryResult, Payload
from connectors.outbound.file import target_name
from connectors.sftp import SftpError, SftpSession, connect, makedirs
from hub.routes.model import SftpEndpointConfig

log = logging.getLogger(__name__)


class SftpSender:
    def __init__(self, name: str, config: SftpEndpointConfig) -> None:
        self.name = name
        self.config = config
        self._session: SftpSession | None = None
        self._pid = -1
        self._lock = threading.Lock()

    def _client(self):
        if self._session is None or self._pid != os.getpid() or not self._session.alive:
            self._drop()
            self._session = connect(self.config)
            self._pid = os.getpid()
            makedirs(self._session.client, self.config.path)
        return self._session.client

    def _drop(self) -> None:
        if self._session is not None and self._pid == os.getpid():
            try:
                self._session.close()
            except Exception:  # noqa: BLE001 - a broken session; a new one is made next
                log.debug("sftp endpoint %s: error closing session", self.name, exc_info=True)
        self._session = None

    def send(self, payload: Payload) -> DeliveryResult:
        target = posixpath.join(self.config.path, target_name(self.config.filename, payload))
        tmp = posixpath.join(self.config.path, f".{posixpath.basename(target)}.{payload.delivery_id}.tmp")
        where = f"sftp://{self.config.host}:{self.config.port}{target}"
        with self._lock:  # one SFTP channel is not safe for concurrent requests
            try:
                client = self._client()
                with client.open(tmp, "wb") as fh:
                    fh.write(payload.body)
                self._move(client, tmp, target)
            except SftpError as exc:
                self._drop()
                return DeliveryResult("unavailable", error=str(exc))
            except (OSError, EOFError) as exc:
                self._drop()
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
                return DeliveryResult("unavailable", error=f"cannot write {where}: {reason}")
            except Exception as exc:  # noqa: BLE001 - paramiko's SSHException family: the session is broken
                self._drop()
                return DeliveryResult("unavailable", error=f"{where}: {type(exc).__name__}: {exc}")
        return DeliveryResult("delivered", response=f"written {where}")

    @staticmethod
    def _move(client, tmp: str, target: str) -> None:
        try:
            client.posix_rename(tmp, target)
            return
        except OSError as exc:
            if exc.errno is not None:  # ENOENT/EACCES: a real failure, not a missing extension
                raise
        # A server without the extension: plain rename refuses to replace, so clear the way.
        try:
            client.remove(target)
        except FileNotFoundError:
            pass
        client.rename(tmp, target)
