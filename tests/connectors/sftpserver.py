"""A real SFTP server on 127.0.0.1 for tests: paramiko's ServerInterface + SFTPServer over a
real socket, every path confined to a root folder.

It behaves like OpenSSH's sftp-server where it matters here: RENAME of a regular file is
``link(old, new)`` then ``unlink(old)`` (and the spare link is removed when the unlink fails),
so two clients renaming the same file race exactly as on a production server; the
``posix-rename@openssh.com`` extension replaces the target. ``hostile_names`` are extra names
the directory listing reports (a malicious or broken server), ``posix_rename=False`` turns the
extension off, and ``cut()`` drops every open session.
"""

from __future__ import annotations

import errno
import os
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path

import paramiko
from paramiko import SFTPAttributes, SFTPHandle, SFTPServer, SFTPServerInterface
from paramiko.sftp import SFTP_FAILURE, SFTP_OK, SFTP_OP_UNSUPPORTED, SFTP_PERMISSION_DENIED


@dataclass
class ServerOptions:
    root: Path
    users: dict[str, str] = field(default_factory=dict)  # user → password
    keys: dict[str, paramiko.PKey] = field(default_factory=dict)  # user → authorised public key
    hostile_names: list[str] = field(default_factory=list)
    posix_rename: bool = True
    requested: list[str] = field(default_factory=list)  # every path a client asked for, as sent
    opened: list[str] = field(default_factory=list)  # paths opened (read or write)


class _Handle(SFTPHandle):
    def stat(self):
        try:
            return SFTPAttributes.from_stat(os.fstat(self.readfile.fileno()))
        except OSError as exc:
            return SFTPServer.convert_errno(exc.errno)

    def chattr(self, attr):
        return SFTP_OK


class ChrootSftp(SFTPServerInterface):
    def __init__(self, server, *args, options: ServerOptions, **kwargs) -> None:
        super().__init__(server, *args, **kwargs)
        self.options = options
        self.root = os.path.realpath(options.root)

    def _real(self, path: str) -> str | None:
        self.options.requested.append(path)
        real = os.path.normpath(os.path.join(self.root, path.lstrip("/")))
        if real != self.root and not real.startswith(self.root + os.sep):
            return None
        return real

    def list_folder(self, path):
        real = self._real(path)
        if real is None:
            return SFTP_PERMISSION_DENIED
        try:
            out = []
            for name in os.listdir(real):
                attr = SFTPAttributes.from_stat(os.lstat(os.path.join(real, name)))
                attr.filename = name
                out.append(attr)
        except OSError as exc:
            return SFTPServer.convert_errno(exc.errno)
        for name in self.options.hostile_names:
            attr = SFTPAttributes.from_stat(os.lstat(real))
            attr.st_mode = 0o100644
            attr.st_size = 10
            attr.filename = name
            out.append(attr)
        return out

    def stat(self, path):
        return self._stat(path, os.stat)

    def lstat(self, path):
        return self._stat(path, os.lstat)

    def _stat(self, path, fn):
        real = self._real(path)
        if real is None:
            return SFTP_PERMISSION_DENIED
        try:
            return SFTPAttributes.from_stat(fn(real))
        except OSError as exc:
            return SFTPServer.convert_errno(exc.errno)

    def open(self, path, flags, attr):
        real = self._real(path)
        if real is None:
            return SFTP_PERMISSION_DENIED
        self.options.opened.append(path)
        try:
            fd = os.open(real, flags | getattr(os, "O_NOFOLLOW", 0), 0o644)
        except OSError as exc:
            return SFTPServer.convert_errno(exc.errno)
        if flags & os.O_WRONLY:
            mode = "ab" if flags & os.O_APPEND else "wb"
        elif flags & os.O_RDWR:
            mode = "a+b" if flags & os.O_APPEND else "r+b"
        else:
            mode = "rb"
        handle = _Handle(flags)
        handle.filename = real
        handle.readfile = handle.writefile = os.fdopen(fd, mode)
        return handle

    def remove(self, path):
        return self._call(path, os.remove)

    def mkdir(self, path, attr):
        return self._call(path, os.mkdir)

    def rmdir(self, path):
        return self._call(path, os.rmdir)

    def _call(self, path, fn):
        real = self._real(path)
        if real is None:
            return SFTP_PERMISSION_DENIED
        try:
            fn(real)
        except OSError as exc:
            return SFTPServer.convert_errno(exc.errno)
        return SFTP_OK

    def rename(self, oldpath, newpath):
        old, new = self._real(oldpath), self._real(newpath)
        if old is None or new is None:
            return SFTP_PERMISSION_DENIED
        try:
            os.link(old, new, follow_symlinks=False)
        except FileExistsError:
            return SFTP_FAILURE
        except OSError as exc:
            return SFTPServer.convert_errno(exc.errno)
        try:
            os.unlink(old)
        except OSError as exc:
            os.unlink(new)  # as OpenSSH does: clean the spare link, report the failure
            return SFTPServer.convert_errno(exc.errno)
        return SFTP_OK

    def posix_rename(self, oldpath, newpath):
        if not self.options.posix_rename:
            return SFTP_OP_UNSUPPORTED
        old, new = self._real(oldpath), self._real(newpath)
        if old is None or new is None:
            return SFTP_PERMISSION_DENIED
        try:
            os.replace(old, new)
        except OSError as exc:
            return SFTPServer.convert_errno(exc.errno)
        return SFTP_OK

    def chattr(self, path, attr):
        return SFTP_OK


class _Auth(paramiko.ServerInterface):
    def __init__(self, options: ServerOptions) -> None:
        self.options = options

    def check_auth_password(self, username, password):
        ok = self.options.users.get(username) == password
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

    def check_auth_publickey(self, username, key):
        ok = username in self.options.keys and self.options.keys[username] == key
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

    def get_allowed_auths(self, username):
        return "password,publickey"

    def check_channel_request(self, kind, chanid):
        return paramiko.OPEN_SUCCEEDED if kind == "session" else paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED


class SftpTestServer:
    def __init__(self, options: ServerOptions, host_key: paramiko.PKey) -> None:
        self.options = options
        self.host_key = host_key
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(32)
        self.port = self.sock.getsockname()[1]
        self.transports: list[paramiko.Transport] = []
        self.connections = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="sftp-test-server", daemon=True)

    def start(self) -> SftpTestServer:
        self._thread.start()
        return self

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            transport = paramiko.Transport(conn)
            transport.add_server_key(self.host_key)
            transport.set_subsystem_handler("sftp", SFTPServer, ChrootSftp, options=self.options)
            self.transports.append(transport)
            try:
                transport.start_server(server=_Auth(self.options))
            except (paramiko.SSHException, EOFError, OSError):
                transport.close()

    def cut(self) -> None:
        """Drop every open session (the clients see a broken connection)."""
        for t in self.transports:
            t.close()

    def stop(self) -> None:
        self._stopping.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close alone would not
        except OSError as exc:
            if exc.errno not in (errno.ENOTCONN, errno.EBADF):
                raise
        self.sock.close()
        self._thread.join(5)
        self.cut()
