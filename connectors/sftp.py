"""SFTP sessions (paramiko) for the inbound poller and the outbound sender.

- The server's key is always checked: against ``host_key_sha256`` (the fingerprint
  ``ssh-keygen -lf`` prints) or an OpenSSH ``known_hosts`` file. An unknown or changed key
  refuses the connection.
- Credentials come only from environment variables named in the config (``auth.*_env``): a
  password, and/or the path of a private key file with an optional passphrase.
- ``SftpFolder`` is the pickup ``Folder`` protocol over an SFTP client, rooted at a remote
  folder; every path it builds is ``<root>/<relative path made of plain names>``.
"""

from __future__ import annotations

import errno
import os
import posixpath
import socket
import stat
from dataclasses import dataclass

import paramiko

from connectors.inbound.pickup import Entry, EntryKind, plain_name
from hub.routes.model import SftpServer


class SftpError(Exception):
    """The connection could not be made (refused, bad host key, bad credentials): say which."""


@dataclass
class SftpSession:
    transport: paramiko.Transport
    client: paramiko.SFTPClient

    def close(self) -> None:
        try:
            self.client.close()
        finally:
            self.transport.close()

    @property
    def alive(self) -> bool:
        return self.transport.is_active()


def _env(name: str, what: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise SftpError(f"environment variable {name} ({what}) is not set")
    return value


def fingerprint(key: paramiko.PKey) -> str:
    return key.fingerprint  # "SHA256:<base64 without padding>", as OpenSSH prints it


def _check_host_key(config: SftpServer, key: paramiko.PKey) -> None:
    where = f"{config.host}:{config.port}"
    if config.host_key_sha256 is not None:
        if fingerprint(key) != config.host_key_sha256.rstrip("="):
            raise SftpError(f"{where}: host key {fingerprint(key)} does not match host_key_sha256 "
                            f"{config.host_key_sha256}: refusing to connect")
        return
    known = paramiko.HostKeys()
    try:
        known.load(os.path.expanduser(config.known_hosts or ""))
    except OSError as exc:
        raise SftpError(f"cannot read known_hosts {config.known_hosts}: {exc.strerror or exc}") from None
    name = config.host if config.port == 22 else f"[{config.host}]:{config.port}"
    if not known.check(name, key):
        raise SftpError(f"{where}: host key {fingerprint(key)} is not in {config.known_hosts} for {name}: "
                        f"refusing to connect")


def _authenticate(config: SftpServer, transport: paramiko.Transport) -> None:
    auth = config.auth
    user = _env(auth.username_env, "SFTP user name")
    try:
        if auth.private_key_env:
            passphrase = _env(auth.passphrase_env, "key passphrase").encode() if auth.passphrase_env else None
            key = paramiko.PKey.from_path(_env(auth.private_key_env, "private key path"), passphrase)
            transport.auth_publickey(user, key)
        if not transport.is_authenticated() and auth.password_env:
            transport.auth_password(user, _env(auth.password_env, "SFTP password"))
    except (OSError, paramiko.SSHException) as exc:
        raise SftpError(f"{config.host}:{config.port}: authentication as {user!r} failed: {exc}") from None
    if not transport.is_authenticated():
        raise SftpError(f"{config.host}:{config.port}: authentication as {user!r} failed")


def connect(config: SftpServer) -> SftpSession:
    """An authenticated SFTP session, or SftpError naming what went wrong."""
    try:
        sock = socket.create_connection((config.host, config.port), timeout=config.connect_timeout)
    except OSError as exc:
        raise SftpError(f"cannot connect to {config.host}:{config.port}: {exc.strerror or exc}") from None
    transport = paramiko.Transport(sock)
    try:
        transport.start_client(timeout=config.connect_timeout)
        _check_host_key(config, transport.get_remote_server_key())
        _authenticate(config, transport)
        client = paramiko.SFTPClient.from_transport(transport)
        if client is None:
            raise SftpError(f"{config.host}:{config.port}: the server refused the sftp subsystem")
        client.get_channel().settimeout(max(config.connect_timeout, 30.0))
    except paramiko.SSHException as exc:
        transport.close()
        raise SftpError(f"{config.host}:{config.port}: SSH handshake failed: {exc}") from None
    except BaseException:
        transport.close()
        raise
    return SftpSession(transport, client)


def makedirs(client: paramiko.SFTPClient, path: str) -> None:
    """``mkdir -p`` on the server."""
    parts = [p for p in path.split("/") if p]
    current = "/" if path.startswith("/") else ""
    for part in parts:
        current = posixpath.join(current, part) if current else part
        try:
            client.stat(current)
        except FileNotFoundError:
            try:
                client.mkdir(current)
            except OSError:
                client.stat(current)  # created by someone else meanwhile, else raise


class SftpFolder:
    """The pickup ``Folder`` protocol over SFTP, rooted at ``root`` on the server."""

    def __init__(self, client: paramiko.SFTPClient, root: str, label: str) -> None:
        self.client = client
        self.root = root.rstrip("/") or "/"
        self.label = label

    def _path(self, rel: str) -> str:
        parts = [p for p in rel.split("/") if p]
        if not all(plain_name(p) for p in parts):
            raise ValueError(f"not a relative path of plain names: {rel!r}")
        return posixpath.join(self.root, *parts) if parts else self.root

    def describe(self, rel: str = "") -> str:
        return f"{self.label}:{self._path(rel)}"

    def list(self, rel: str = "") -> list[Entry]:
        return [Entry(a.filename, _kind(a.st_mode), a.st_size or 0, float(a.st_mtime or 0))
                for a in self.client.listdir_attr(self._path(rel))]

    def exists(self, rel: str) -> bool:
        try:
            self.client.stat(self._path(rel))
        except FileNotFoundError:
            return False
        return True

    def read(self, rel: str, limit: int) -> bytes:
        with self.client.open(self._path(rel), "rb") as fh:
            fh.prefetch()
            return fh.read(limit)

    def write(self, rel: str, data: bytes) -> None:
        with self.client.open(self._path(rel), "wb") as fh:
            fh.write(data)

    def rename(self, src: str, dst: str) -> None:
        # Plain SFTP rename: fails when the source is gone, which is what makes a claim atomic.
        try:
            self.client.rename(self._path(src), self._path(dst))
        except OSError as exc:
            if exc.errno == errno.ENOENT or not self.exists(src):
                raise FileNotFoundError(errno.ENOENT, f"{self.describe(src)} is gone") from None
            raise

    def unlink(self, rel: str) -> None:
        self.client.remove(self._path(rel))

    def makedirs(self, rel: str) -> None:
        makedirs(self.client, self._path(rel))


def _kind(mode: int | None) -> EntryKind:
    if mode is None:
        return "other"
    if stat.S_ISLNK(mode):
        return "link"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "dir"
    return "other"
