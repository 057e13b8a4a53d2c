"""A real OpenSSH ``sshd`` (Debian's openssh-server) on a 127.0.0.1 port, for the SFTP tests: its
own configuration and host keys (ed25519, ECDSA and RSA, as a stock server has), public-key
login for the user running the tests, ``internal-sftp``; started by the fixture, stopped after.
Never a system service."""

from __future__ import annotations

import os
import pwd
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import free_port

SSHD = Path("/usr/sbin/sshd")


def keygen(path: Path, kind: str, passphrase: str = "", comment: str = "hub-test") -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", passphrase, "-C", comment, "-f", str(path)],
                   check=True, capture_output=True, timeout=60)
    return path


def fingerprint(public_key: Path) -> str:
    out = subprocess.run(["ssh-keygen", "-lf", str(public_key)], check=True, capture_output=True, text=True).stdout
    return out.split()[1]  # "SHA256:..."


@dataclass
class OpenSsh:
    folder: Path
    port: int
    user: str
    client_key: Path  # private key (ed25519) whose .pub is authorised
    host_keys: dict[str, Path] = field(default_factory=dict)  # "ed25519" | "ecdsa" | "rsa" → private key
    proc: subprocess.Popen | None = None

    def known_hosts_line(self, kind: str) -> str:
        public = self.host_keys[kind].with_suffix(".pub").read_text().split()
        return f"[127.0.0.1]:{self.port} {public[0]} {public[1]}\n"

    def host_fingerprint(self, kind: str) -> str:
        return fingerprint(self.host_keys[kind].with_suffix(".pub"))

    def sessions(self) -> list[int]:
        """PIDs of the sshd processes serving connections (children of the listener)."""
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]

    def freeze(self) -> list[int]:
        """SIGSTOP every session process: a server that stops answering without closing."""
        pids = self.sessions()
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        return pids

    def stop(self) -> None:
        for pid in self.sessions():
            try:
                os.kill(pid, signal.SIGCONT)
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_sshd(folder: Path) -> OpenSsh:
    folder.mkdir(parents=True, exist_ok=True)
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation directory
    user = pwd.getpwuid(os.getuid()).pw_name
    host_keys = {kind: keygen(folder / f"ssh_host_{kind}_key", kind) for kind in ("ed25519", "ecdsa", "rsa")}
    client_key = keygen(folder / "client_ed25519", "ed25519")
    (folder / "authorized_keys").write_text(client_key.with_suffix(".pub").read_text())
    port = free_port()
    config = folder / "sshd_config"
    config.write_text("\n".join([
        f"Port {port}", "ListenAddress 127.0.0.1", *(f"HostKey {k}" for k in host_keys.values()),
        f"PidFile {folder / 'sshd.pid'}", f"AuthorizedKeysFile {folder / 'authorized_keys'}",
        "StrictModes no", "UsePAM no", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
        "PermitRootLogin prohibit-password", f"AllowUsers {user}", "Subsystem sftp internal-sftp",
        "MaxStartups 100", "LogLevel ERROR", "",
    ]))
    proc = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL,
                            stderr=(folder / "sshd.log").open("w"))
    server = OpenSsh(folder, port, user, client_key, host_keys, proc)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sshd exited: {(folder / 'sshd.log').read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server
        except OSError:
            time.sleep(0.05)
    server.stop()
    raise RuntimeError("sshd did not listen within 20 s")
