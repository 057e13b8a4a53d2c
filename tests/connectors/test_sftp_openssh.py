"""SFTP against a real OpenSSH server (Debian's sshd, ed25519 + ECDSA + RSA host keys), beside
the paramiko test server of test_sftp.py: host keys from known_hosts and pins of any type, a
fresh ``--once`` pass, names that are not UTF-8, archive failures, a frozen server, key files
that cannot be used, a refused key falling back to the password, and a 20 MiB upload."""

from __future__ import annotations

import hashlib
import os
import secrets
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import paramiko
import pytest
from sqlalchemy import select

from connectors.inbound.sftp import SftpPoller
from connectors.outbound import Payload
from connectors.outbound.sftp import SftpSender
from connectors.sftp import SftpError, connect
from hub.app import Hub
from hub.routes.model import SftpChannelConfig, SftpEndpointConfig
from hub.store import Message
from tests.connectors.conftest import SFTP_PASSWORD, SFTP_USER, sftp_settings
from tests.connectors.opensshd import SSHD, OpenSsh, keygen, start_sshd
from tests.connectors.sftpserver import SftpTestServer

pytestmark = pytest.mark.postgres

if not SSHD.exists():  # .ci/run installs it; a machine without it fails here, it does not skip
    raise RuntimeError("these tests need Debian's openssh-server (/usr/sbin/sshd): apt-get install openssh-server")


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenSsh]:
    server = start_sshd(tmp_path_factory.mktemp("sshd"))
    yield server
    server.stop()


@pytest.fixture
def remote(sshd: OpenSsh, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder of this test on the OpenSSH server (the server's file system is this machine's)."""
    folder = tmp_path / "remote"
    folder.mkdir()
    monkeypatch.setenv("OPENSSH_USER", sshd.user)
    monkeypatch.setenv("OPENSSH_KEY", str(sshd.client_key))
    return folder


def settings(sshd: OpenSsh, path: Path, **extra) -> dict:
    return {"host": "127.0.0.1", "port": sshd.port, "path": str(path), "connect_timeout": 5,
            "auth": {"username_env": "OPENSSH_USER", "private_key_env": "OPENSSH_KEY"},
            "host_key_sha256": sshd.host_fingerprint("ed25519"), **extra}


def stored(hub: Hub, channel: str) -> list[Message]:
    with hub.db.session() as s:
        return list(s.scalars(select(Message).where(Message.channel == f"sftp:{channel}").order_by(Message.filename)))


# -- host keys -----------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["rsa", "ecdsa", "ed25519"])
def test_a_known_hosts_file_or_pin_holding_one_key_type_is_accepted(sshd: OpenSsh, remote: Path, tmp_path: Path,
                                                                    kind: str) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(sshd.known_hosts_line(kind))
    base = settings(sshd, remote)
    del base["host_key_sha256"]
    session = connect(SftpChannelConfig.model_validate({**base, "known_hosts": str(known)}))
    assert session.transport.get_remote_server_key().get_name().startswith(("ssh-rsa", "ecdsa", "ssh-ed25519"))
    session.close()
    pinned = connect(SftpChannelConfig.model_validate(settings(sshd, remote, host_key_sha256=sshd.host_fingerprint(kind))))
    pinned.close()


def test_a_changed_host_key_is_still_refused(sshd: OpenSsh, remote: Path, tmp_path: Path) -> None:
    other = keygen(tmp_path / "other_rsa", "rsa")
    line = other.with_suffix(".pub").read_text().split()
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{sshd.port} {line[0]} {line[1]}\n")
    base = settings(sshd, remote)
    del base["host_key_sha256"]
    with pytest.raises(SftpError, match="is not in .*known_hosts.*refusing to connect"):
        connect(SftpChannelConfig.model_validate({**base, "known_hosts": str(known)}))
    with pytest.raises(SftpError, match="no host key of the server matches host_key_sha256"):
        connect(SftpChannelConfig.model_validate(settings(sshd, remote, host_key_sha256=paramiko.RSAKey.generate(
            1024).fingerprint)))


# -- the poller ----------------------------------------------------------------------------------

def test_a_fresh_once_pass_takes_a_file_without_a_done_suffix(hub: Hub, sshd: OpenSsh, remote: Path) -> None:
    (remote / "counts.csv").write_bytes(b"a,b\n1,2\n")
    name = f"os{secrets.token_hex(3)}"
    poller = SftpPoller(hub, name, SftpChannelConfig.model_validate(settings(sshd, remote, stable_seconds=0.5)))
    try:
        assert poller.poll_settled() == 1  # what `hub sftp poll --once` runs, from cron
    finally:
        poller.close()
    assert [m.filename for m in stored(hub, name)] == ["counts.csv"]


def test_a_name_that_is_not_utf8_is_set_aside_and_the_others_go_on(hub: Hub, sshd: OpenSsh, remote: Path) -> None:
    bad = os.path.join(os.fsencode(remote), b"invoice-\xff\xfe.csv")
    with open(bad, "wb") as fh:
        fh.write(b"x\n")
    (remote / "good.csv").write_bytes(b"ok\n")
    name = f"os{secrets.token_hex(3)}"
    poller = SftpPoller(hub, name, SftpChannelConfig.model_validate(settings(sshd, remote, stable_seconds=0)))
    try:
        assert poller.poll_once() == 1
    finally:
        poller.close()
    assert [m.filename for m in stored(hub, name)] == ["good.csv"]
    (kept,) = [p for p in (remote / "error").iterdir() if not p.name.endswith(".reason")]
    assert kept.read_bytes() == b"x\n"
    reason = kept.with_name(kept.name + ".reason").read_text()
    assert "not UTF-8" in reason and "invoice-\\udcff\\udcfe.csv" in reason


def test_a_file_that_cannot_be_archived_names_the_path_and_blocks_nothing(hub: Hub, sshd: OpenSsh, remote: Path,
                                                                          caplog: pytest.LogCaptureFixture) -> None:
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    (remote / "archive").mkdir()
    (remote / "archive" / day).write_text("a file where the day's folder should be")
    for n in ("one.csv", "two.csv"):
        (remote / n).write_bytes(n.encode() + b"\n")
    name = f"os{secrets.token_hex(3)}"
    poller = SftpPoller(hub, name, SftpChannelConfig.model_validate(settings(sshd, remote, stable_seconds=0)))
    try:
        assert poller.poll_once() == 2  # both stored: the first one's archive failure did not stop the second
    finally:
        poller.close()
    assert [m.filename for m in stored(hub, name)] == ["one.csv", "two.csv"]
    errors = [r.getMessage() for r in caplog.records if "cannot be archived" in r.getMessage()]
    assert len(errors) == 2 and f"/archive/{day}/" in errors[0] and "/processing/" in errors[0]


def test_a_frozen_server_is_noticed_within_io_timeout_with_the_reason(hub: Hub, sshd: OpenSsh, remote: Path) -> None:
    name = f"os{secrets.token_hex(3)}"
    poller = SftpPoller(hub, name, SftpChannelConfig.model_validate(settings(sshd, remote, io_timeout=2,
                                                                             stable_seconds=0)))
    try:
        assert poller.poll_once() == 0  # connected
        frozen = sshd.freeze()
        started = time.monotonic()
        with pytest.raises(SftpError, match=r"no answer from the server within 2s \(listing\)"):
            poller.poll_once()
        assert time.monotonic() - started < 10
    finally:
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
        poller.close()


# -- credentials ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("case", "message"), [
    ("needs-passphrase", "is protected by a passphrase: name the variable holding it in auth.passphrase_env"),
    ("wrong-passphrase", "wrong passphrase (OPENSSH_PASSPHRASE)"),
    ("public", "is a public key (.pub): name the private key file"),
])
def test_a_key_file_that_cannot_be_used_is_named(sshd: OpenSsh, remote: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch, case: str, message: str) -> None:
    key = keygen(tmp_path / "locked", "ed25519", passphrase="right one")
    auth = {"username_env": "OPENSSH_USER", "private_key_env": "OPENSSH_KEY"}
    monkeypatch.setenv("OPENSSH_KEY", str(key.with_suffix(".pub") if case == "public" else key))
    if case == "wrong-passphrase":
        monkeypatch.setenv("OPENSSH_PASSPHRASE", "wrong one")
        auth["passphrase_env"] = "OPENSSH_PASSPHRASE"
    with pytest.raises(SftpError) as refused:
        connect(SftpChannelConfig.model_validate(settings(sshd, remote, auth=auth)))
    assert message in str(refused.value) and "locked" in str(refused.value)


def test_a_refused_key_falls_back_to_the_password(sftp_server: SftpTestServer, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The paramiko server knows user acme by password only: the key is refused, the password works."""
    key = keygen(tmp_path / "unknown", "ed25519")
    monkeypatch.setenv("TEST_SFTP_KEY", str(key))
    auth = {"username_env": "TEST_SFTP_USER", "password_env": "TEST_SFTP_PASSWORD", "private_key_env": "TEST_SFTP_KEY"}
    connect(SftpChannelConfig.model_validate({**sftp_settings(sftp_server, "/inbound"), "auth": auth})).close()
    monkeypatch.setenv("TEST_SFTP_PASSWORD", "not-" + SFTP_PASSWORD)
    with pytest.raises(SftpError, match=f"authentication as '{SFTP_USER}' failed: key .*unknown refused.*; "
                                        "password \\(TEST_SFTP_PASSWORD\\) refused"):
        connect(SftpChannelConfig.model_validate({**sftp_settings(sftp_server, "/inbound"), "auth": auth}))


# -- uploads -------------------------------------------------------------------------------------

def test_a_20_mib_upload_arrives_whole(sshd: OpenSsh, remote: Path) -> None:
    """Pipelined writes (the speed is measured by benchmarks/sftp_upload.py, not asserted here)."""
    body = os.urandom(20 * 1024 * 1024)
    config = SftpEndpointConfig.model_validate({**settings(sshd, remote / "out"), "filename": "{document_key}.bin"})
    sender = SftpSender("big", config)
    result = sender.send(Payload(delivery_id="d-1", message_id="m-1", route="r", endpoint="big", seq=0, body=body,
                                 content_type="application/octet-stream", idempotency_key="k-1",
                                 document_type="blob", document_key="BIG-1"))
    assert result.outcome == "delivered", result.summary()
    assert hashlib.sha256((remote / "out" / "BIG-1.bin").read_bytes()).digest() == hashlib.sha256(body).digest()
