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
import logging
import os
import posixpath
import socket
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import paramiko

from connectors.inbound.pickup import Entry, EntryKind, plain_name
from hub.routes.model import SftpServer


log = logging.getLogger(__name__)


class SftpError(Exception):
    """The connection could not be made (refused, bad host key, bad credentials): say which."""


@dataclass
class SftpSession:
    transport: paramiko.Transport
    client: paramiko.SFTPClient
    where: str = ""
    io_timeout: float = 30.0

    def close(self) -> None:
        # The transport alone: closing the SFTP channel first waits on a server that may be frozen.
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


# Host key algorithms per key type. paramiko offers ed25519 first; a server that has several
# host keys then shows that one, and a known_hosts line or pin holding only its RSA or ECDSA key
# would refuse a server OpenSSH's own sftp accepts. So the algorithms offered are limited to the
# types the known_hosts file holds for the host, and a pin (whose type is unknown) is tried
# type by type.
_ALGORITHMS = {
    "ssh-ed25519": ("ssh-ed25519",),
    "ecdsa-sha2-nistp256": ("ecdsa-sha2-nistp256",),
    "ecdsa-sha2-nistp384": ("ecdsa-sha2-nistp384",),
    "ecdsa-sha2-nistp521": ("ecdsa-sha2-nistp521",),
    "ssh-rsa": ("rsa-sha2-512", "rsa-sha2-256"),
}
_PIN_ORDER = (("ssh-ed25519",), ("ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521"),
              ("rsa-sha2-512", "rsa-sha2-256"))
# (host, port) → the algorithms of the pinned key, once it took a second handshake to find it
_pinned_types: dict[tuple[str, int], tuple[str, ...]] = {}


def _known_name(config: SftpServer) -> str:
    return config.host if config.port == 22 else f"[{config.host}]:{config.port}"


def _known_keys(config: SftpServer) -> dict[str, paramiko.PKey]:
    """The host's keys in the known_hosts file, by key type."""
    known = paramiko.HostKeys()
    try:
        known.load(os.path.expanduser(config.known_hosts or ""))
    except OSError as exc:
        raise SftpError(f"cannot read known_hosts {config.known_hosts}: {exc.strerror or exc}") from None
    keys = known.lookup(_known_name(config))
    if not keys:
        raise SftpError(f"{config.host}:{config.port}: the server's key is not in {config.known_hosts} (no line "
                        f"for {_known_name(config)}): refusing to connect")
    return dict(keys.items())


def _check_host_key(config: SftpServer, key: paramiko.PKey, known: dict[str, paramiko.PKey] | None) -> None:
    where = f"{config.host}:{config.port}"
    if config.host_key_sha256 is not None:
        if fingerprint(key) != config.host_key_sha256.rstrip("="):
            raise HostKeyMismatch(f"{where}: host key {fingerprint(key)} ({key.get_name()}) does not match "
                                  f"host_key_sha256 {config.host_key_sha256}: refusing to connect")
        return
    expected = (known or {}).get(key.get_name())
    if expected is None or expected.asbytes() != key.asbytes():
        raise SftpError(f"{where}: host key {fingerprint(key)} ({key.get_name()}) is not in {config.known_hosts} "
                        f"for {_known_name(config)}: refusing to connect")


class HostKeyMismatch(SftpError):
    """The server showed a key of one type that is not the pin: another type may still be it."""


def _load_key(config: SftpServer) -> paramiko.PKey:
    """The private key named by ``private_key_env``; every failure names the file and the fix."""
    auth = config.auth
    path = _env(auth.private_key_env, "private key path")
    passphrase = _env(auth.passphrase_env, "key passphrase").encode() if auth.passphrase_env else None
    try:
        return paramiko.PKey.from_path(path, passphrase)
    except paramiko.PasswordRequiredException:
        raise SftpError(f"private key {path} is protected by a passphrase: name the variable holding it in "
                        f"auth.passphrase_env") from None
    except OSError as exc:
        raise SftpError(f"private key {path}: {exc.strerror or exc}") from None
    except (paramiko.SSHException, ValueError, TypeError, UnicodeDecodeError) as exc:
        if passphrase is None and "password" in str(exc).lower():  # the OpenSSH format says so in a TypeError
            raise SftpError(f"private key {path} is protected by a passphrase: name the variable holding it in "
                            f"auth.passphrase_env") from None
        if _looks_public(path):
            raise SftpError(f"private key {path} is a public key (.pub): name the private key file") from None
        if passphrase is not None:
            raise SftpError(f"private key {path}: wrong passphrase ({auth.passphrase_env}), or not a private "
                            f"key: {type(exc).__name__}: {exc}") from None
        raise SftpError(f"private key {path} cannot be read: {type(exc).__name__}: {exc}") from None


def _looks_public(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(64)
    except OSError:
        return False
    return path.endswith(".pub") or head.startswith((b"ssh-", b"ecdsa-sha2-", b"sk-"))


def _authenticate(config: SftpServer, transport: paramiko.Transport) -> None:
    """The key first, then the password when both are configured (a refused key, or one that
    cannot be read, falls back to it); the error names each refusal."""
    auth = config.auth
    user = _env(auth.username_env, "SFTP user name")
    where = f"{config.host}:{config.port}"
    refusals = []
    if auth.private_key_env:
        try:
            key = _load_key(config)
            transport.auth_publickey(user, key)
        except SftpError as exc:
            if not auth.password_env:
                raise
            refusals.append(str(exc))
            log.warning("%s: %s; trying the password", where, exc)
        except paramiko.AuthenticationException as exc:
            refusals.append(f"key {_env(auth.private_key_env, 'private key path')} refused ({exc})")
        except (OSError, paramiko.SSHException) as exc:
            raise SftpError(f"{where}: authentication as {user!r} failed: {exc}") from None
    if not transport.is_authenticated() and auth.password_env:
        try:
            transport.auth_password(user, _env(auth.password_env, "SFTP password"))
        except paramiko.AuthenticationException as exc:
            refusals.append(f"password ({auth.password_env}) refused ({exc})")
        except (OSError, paramiko.SSHException) as exc:
            raise SftpError(f"{where}: authentication as {user!r} failed: {exc}") from None
    if not transport.is_authenticated():
        raise SftpError(f"{where}: authentication as {user!r} failed: {'; '.join(refusals) or 'refused'}")


_QUIET = "connectors.sftp.probe"  # paramiko logs a probe for another key type at ERROR: not an error here
logging.getLogger(_QUIET).setLevel(logging.CRITICAL)


def _handshake(config: SftpServer, algorithms: tuple[str, ...] | None, quiet: bool = False) -> paramiko.Transport:
    """A transport whose host key is one of ``algorithms`` (all of paramiko's when None)."""
    try:
        sock = socket.create_connection((config.host, config.port), timeout=config.connect_timeout)
    except OSError as exc:
        raise SftpError(f"cannot connect to {config.host}:{config.port}: {exc.strerror or exc}") from None
    transport = paramiko.Transport(sock)
    if quiet:
        transport.set_log_channel(_QUIET)
    try:
        if algorithms:
            transport.get_security_options().key_types = algorithms
        transport.start_client(timeout=config.connect_timeout)
    except (paramiko.SSHException, OSError, EOFError) as exc:
        transport.close()
        raise SftpError(f"{config.host}:{config.port}: SSH handshake failed: {type(exc).__name__}: "
                        f"{exc or 'the server closed the connection'}") from None
    return transport


def _verified_transport(config: SftpServer) -> paramiko.Transport:
    if config.known_hosts is not None:
        known = _known_keys(config)
        algorithms = tuple(a for kind in known for a in _ALGORITHMS.get(kind, ()))
        transport = _handshake(config, algorithms or None)
        try:
            _check_host_key(config, transport.get_remote_server_key(), known)
        except BaseException:
            transport.close()
            raise
        return transport
    # A pin names a key, not its type: offer every type first (one handshake when the server
    # shows the pinned key), then, after a key that is not the pin, only the types not seen yet.
    where, mismatches = (config.host, config.port), []
    offered, remaining = _pinned_types.get(where), [a for group in _PIN_ORDER for a in group]
    while True:
        try:
            transport = _handshake(config, offered, quiet=bool(mismatches))
        except SftpError as exc:
            if mismatches and "no acceptable host key" in str(exc):
                break  # the server has no key of the types left
            raise
        key = transport.get_remote_server_key()
        try:
            _check_host_key(config, key, None)
        except HostKeyMismatch as exc:
            transport.close()
            mismatches.append(str(exc))
            remaining = [a for a in remaining if a not in _ALGORITHMS.get(key.get_name(), (key.get_name(),))]
            if not remaining:
                break
            offered = tuple(remaining)
            continue
        if offered is not None:
            _pinned_types[where] = _ALGORITHMS.get(key.get_name(), (key.get_name(),))
        return transport
    raise SftpError(mismatches[0] if len(mismatches) == 1 else
                    f"{config.host}:{config.port}: no host key of the server matches host_key_sha256 "
                    f"{config.host_key_sha256} (it showed {', '.join(m.split(': host key ')[-1].split(' does')[0] for m in mismatches)}): "
                    "refusing to connect")


def connect(config: SftpServer) -> SftpSession:
    """An authenticated SFTP session, or SftpError naming what went wrong."""
    transport = _verified_transport(config)
    try:
        _authenticate(config, transport)
        client = paramiko.SFTPClient.from_transport(transport)
        if client is None:
            raise SftpError(f"{config.host}:{config.port}: the server refused the sftp subsystem")
        # Every request waits at most io_timeout for its answer: a frozen server is noticed then.
        client.get_channel().settimeout(config.io_timeout)
    except paramiko.SSHException as exc:
        transport.close()
        raise SftpError(f"{config.host}:{config.port}: SSH session failed: {exc}") from None
    except BaseException:
        transport.close()
        raise
    return SftpSession(transport, client, f"{config.host}:{config.port}", config.io_timeout)


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
    """The pickup ``Folder`` protocol over SFTP, rooted at ``root`` on the server.

    Names are bytes on the wire. Each listed name is decoded on its own (UTF-8; a name that is
    not is kept with its bytes as surrogate escapes, so it can still be renamed aside, and one
    such name never stalls the listing), and every path goes back to the server as the bytes it
    came as. An operation the server does not answer within the session's ``io_timeout`` raises
    ``SftpError`` saying so."""

    def __init__(self, client: paramiko.SFTPClient, root: str, label: str, io_timeout: float = 30.0) -> None:
        self.client = client
        self.root = root.rstrip("/") or "/"
        self.label = label
        self.io_timeout = io_timeout

    def _path(self, rel: str) -> bytes:
        parts = [p for p in rel.split("/") if p]
        if not all(plain_name(p) for p in parts):
            raise ValueError(f"not a relative path of plain names: {rel!r}")
        path = posixpath.join(self.root, *parts) if parts else self.root
        return path.encode("utf-8", "surrogateescape")

    def describe(self, rel: str = "") -> str:
        return f"{self.label}:{self._path(rel).decode('utf-8', 'replace')}"

    @contextmanager
    def _answered(self, what: str, rel: str = "") -> Iterator[None]:
        try:
            yield
        except (TimeoutError, socket.timeout):
            raise SftpError(f"{self.describe(rel)}: no answer from the server within {self.io_timeout:g}s "
                            f"({what}): the session is dropped") from None

    def list(self, rel: str = "") -> list[Entry]:
        with self._answered("listing", rel):
            return [Entry(name, _kind(a.st_mode), a.st_size or 0, float(a.st_mtime or 0))
                    for name, a in listdir_bytes(self.client, self._path(rel))]

    def exists(self, rel: str) -> bool:
        with self._answered("stat", rel):
            try:
                self.client.stat(self._path(rel))
            except FileNotFoundError:
                return False
            return True

    def read(self, rel: str, limit: int) -> bytes:
        with self._answered("read", rel), self.client.open(self._path(rel), "rb") as fh:
            fh.prefetch()
            return fh.read(limit)

    def write(self, rel: str, data: bytes) -> None:
        with self._answered("write", rel), self.client.open(self._path(rel), "wb") as fh:
            fh.set_pipelined(True)
            fh.write(data)

    def rename(self, src: str, dst: str) -> None:
        # Plain SFTP rename: fails when the source is gone, which is what makes a claim atomic.
        with self._answered("rename", src):
            try:
                self.client.rename(self._path(src), self._path(dst))
            except OSError as exc:
                # "No such file" also answers a target folder that is missing (or a file): only a
                # source that is gone means another picker took it.
                if not self.exists(src):
                    raise FileNotFoundError(errno.ENOENT, f"{self.describe(src)} is gone") from None
                # errno None: OSError(ENOENT, ...) would itself become a FileNotFoundError.
                raise OSError(None, f"cannot rename {self.describe(src)} to {self.describe(dst)}: "
                                    f"{exc.strerror or exc}") from None

    def unlink(self, rel: str) -> None:
        with self._answered("remove", rel):
            self.client.remove(self._path(rel))

    def makedirs(self, rel: str) -> None:
        with self._answered("mkdir", rel):
            makedirs(self.client, self._path(rel).decode("utf-8", "surrogateescape"))


def listdir_bytes(client: paramiko.SFTPClient, path: bytes) -> list[tuple[str, paramiko.SFTPAttributes]]:
    """``listdir_attr`` with names read as bytes and decoded one by one (paramiko decodes the
    whole answer strictly: one name that is not UTF-8 fails every listing of the folder)."""
    from paramiko.sftp import CMD_CLOSE, CMD_HANDLE, CMD_NAME, CMD_OPENDIR, CMD_READDIR, SFTPError

    kind, msg = client._request(CMD_OPENDIR, path)  # noqa: SLF001 - paramiko has no bytes listing
    if kind != CMD_HANDLE:
        raise SFTPError("Expected handle")
    handle = msg.get_binary()
    entries = []
    try:
        while True:
            try:
                kind, msg = client._request(CMD_READDIR, handle)  # noqa: SLF001
            except EOFError:
                break
            if kind != CMD_NAME:
                raise SFTPError("Expected name response")
            for _ in range(msg.get_int()):
                raw, longname = msg.get_string(), msg.get_string()
                name = raw.decode("utf-8", "surrogateescape")
                attr = paramiko.SFTPAttributes._from_msg(msg, name, longname.decode("utf-8", "replace"))  # noqa: SLF001
                if name not in (".", ".."):
                    entries.append((name, attr))
    finally:
        client._request(CMD_CLOSE, handle)  # noqa: SLF001
    return entries


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
