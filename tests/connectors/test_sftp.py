"""SFTP against a real SFTP server on 127.0.0.1: safe pickup (stable size, atomic claim on the
server, archive, error), two pollers on one folder, restart and dropped connections, hostile
names and links, host key and credential checks, and outbound delivery by temp name + rename."""

from __future__ import annotations

import os
import secrets
import threading
import time
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
from tests.connectors.conftest import sftp_settings
from tests.connectors.sftpserver import SftpTestServer

pytestmark = pytest.mark.postgres


def channel(server: SftpTestServer, **extra) -> SftpChannelConfig:
    options = {"stable_seconds": 0, "format": "csv", "doctype": "cycle_count", "sender": "acme", **extra}
    return SftpChannelConfig.model_validate(sftp_settings(server, "/inbound", **options))


@pytest.fixture
def name() -> str:
    """A channel name of its own per test: the schema is shared by the module's tests."""
    return f"acme-{secrets.token_hex(3)}"


def stored(hub: Hub, name: str) -> list[Message]:
    with hub.db.session() as s:
        return list(s.scalars(select(Message).where(Message.channel == f"sftp:{name}").order_by(Message.filename)))


def inbound(server: SftpTestServer) -> Path:
    return server.options.root / "inbound"


def test_complete_file_is_stored_then_archived_on_the_server(hub: Hub, sftp_server: SftpTestServer, name: str) -> None:
    (inbound(sftp_server) / "counts.csv").write_bytes(b"Facility,Item\nHOSP1,ST-1\n")
    poller = SftpPoller(hub, name, channel(sftp_server))
    try:
        assert poller.poll_once() == 1
    finally:
        poller.close()
    (msg,) = stored(hub, name)
    assert (msg.filename, msg.format, msg.doctype, msg.sender) == ("counts.csv", "csv", "cycle_count", "acme")
    assert hub.store.raw(msg) == b"Facility,Item\nHOSP1,ST-1\n"
    archived = [p for p in (inbound(sftp_server) / "archive").rglob("*") if p.is_file()]
    assert [p.name for p in archived] == [f"{msg.id}__counts.csv"]
    assert not (inbound(sftp_server) / "counts.csv").exists()
    assert list((inbound(sftp_server) / "processing").iterdir()) == []


def test_a_growing_file_waits_until_its_size_holds(hub: Hub, sftp_server: SftpTestServer, name: str) -> None:
    f = inbound(sftp_server) / "big.csv"
    f.write_bytes(b"a,b\n")
    poller = SftpPoller(hub, name, channel(sftp_server, stable_seconds=0.5))
    try:
        assert poller.poll_once() == 0  # first sight
        with open(f, "ab") as fh:
            fh.write(b"1,2\n")  # the partner is still uploading
        assert poller.poll_once() == 0
        time.sleep(0.6)
        assert poller.poll_once() == 1
    finally:
        poller.close()
    assert hub.store.raw(stored(hub, name)[0]) == b"a,b\n1,2\n"


def test_done_file_mode(hub: Hub, sftp_server: SftpTestServer, name: str) -> None:
    (inbound(sftp_server) / "a.csv").write_bytes(b"x,y\n")
    poller = SftpPoller(hub, name, channel(sftp_server, done_suffix=".done", stable_seconds=3600))
    try:
        assert poller.poll_once() == 0
        (inbound(sftp_server) / "a.csv.done").touch()
        assert poller.poll_once() == 1
    finally:
        poller.close()
    assert not (inbound(sftp_server) / "a.csv.done").exists()


def test_two_pollers_on_one_folder_take_each_file_once(hub: Hub, sftp_server: SftpTestServer, name: str) -> None:
    pollers = [SftpPoller(hub, name, channel(sftp_server)) for _ in range(2)]
    assert [p.poll_once() for p in pollers] == [0, 0]  # both connected before the files arrive
    names = [f"f{i:03}.csv" for i in range(60)]
    for i, file_name in enumerate(names):
        (inbound(sftp_server) / file_name).write_bytes(f"n,{i}\n".encode())
    taken = [0, 0]
    start = threading.Barrier(2)

    def run(i: int) -> None:
        start.wait()
        for _ in range(3):
            taken[i] += pollers[i].poll_once()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for p in pollers:
        p.close()
    assert sum(taken) == 60
    assert all(taken), f"both pollers should have won some claims: {taken}"  # they really raced
    msgs = stored(hub, name)
    assert sorted(m.filename for m in msgs) == names  # each file stored exactly once
    archived = sorted(p.name.split("__", 1)[1] for p in (inbound(sftp_server) / "archive").rglob("*.csv"))
    assert archived == names


def test_restart_finishes_claimed_files_without_storing_twice(hub: Hub, sftp_server: SftpTestServer, name: str) -> None:
    folder = inbound(sftp_server)
    (folder / "early.csv").write_bytes(b"c,d\n")
    first = SftpPoller(hub, name, channel(sftp_server))
    first.poll_once()
    first.close()
    (msg,) = stored(hub, name)
    archived = next((folder / "archive").rglob(f"{msg.id}__early.csv"))
    (folder / "processing").mkdir(exist_ok=True)
    os.rename(archived, folder / "processing" / archived.name)  # crash after the store, before the archive
    late = folder / "processing" / "01a00000-0000-7000-8000-0000000000aa__late.csv"
    late.write_bytes(b"a,b\n")  # crash after the claim, before the store
    again = SftpPoller(hub, name, channel(sftp_server))
    try:
        assert again.poll_once() == 0  # recovery ran on connect; nothing new in the folder
    finally:
        again.close()
    assert sorted(m.filename for m in stored(hub, name)) == ["early.csv", "late.csv"]
    assert list((folder / "processing").iterdir()) == []
    assert len([p for p in (folder / "archive").rglob("*.csv")]) == 2


def test_dropped_connection_is_reconnected_and_nothing_is_lost(hub: Hub, sftp_server: SftpTestServer,
                                                               name: str) -> None:
    folder = inbound(sftp_server)
    poller = SftpPoller(hub, name, channel(sftp_server))
    try:
        (folder / "one.csv").write_bytes(b"1\n")
        assert poller.poll_once() == 1
        sftp_server.cut()
        (folder / "two.csv").write_bytes(b"2\n")
        # A pass that meets the broken session fails and the next one reconnects; or, when the
        # client's transport has already seen the close (its reader thread races the test), the
        # pass reconnects at once. Either way one new session, and the file is taken once.
        outcomes: list[int | str] = []
        while not any(isinstance(o, int) for o in outcomes) and len(outcomes) < 2:
            try:
                outcomes.append(poller.poll_once())
            except (OSError, EOFError, paramiko.SSHException) as exc:
                outcomes.append(type(exc).__name__)
        assert outcomes[-1] == 1, outcomes
    finally:
        poller.close()
    assert [m.filename for m in stored(hub, name)] == ["one.csv", "two.csv"]
    assert sftp_server.connections == 2


def test_hostile_names_and_links_are_never_followed(hub: Hub, sftp_server: SftpTestServer, tmp_path: Path,
                                                   name: str) -> None:
    secret = tmp_path / "etc" / "x"
    secret.parent.mkdir()
    secret.write_bytes(b"root:secret")
    sftp_server.options.hostile_names = ["../../etc/x", "..", "a/../../b"]
    folder = inbound(sftp_server)
    os.symlink(secret, folder / "passwd.csv")
    (folder / "fine.csv").write_bytes(b"ok\n")
    poller = SftpPoller(hub, name, channel(sftp_server, pattern="*"))
    try:
        assert poller.poll_once() == 1
    finally:
        poller.close()
    assert [m.filename for m in stored(hub, name)] == ["fine.csv"]
    assert secret.read_bytes() == b"root:secret"  # untouched
    assert not any(".." in p for p in sftp_server.options.requested), sftp_server.options.requested
    # The link itself (not its target) was moved to error/ with a reason.
    (link,) = [p for p in (folder / "error").iterdir() if not p.name.endswith(".reason")]
    assert link.is_symlink() and link.name.endswith("__passwd.csv")
    assert "symbolic links are not picked up" in link.with_name(link.name + ".reason").read_text()


def test_oversized_file_goes_to_error_without_being_downloaded(tmp_path: Path, schema_url: str,
                                                               sftp_server: SftpTestServer, name: str) -> None:
    from tests.connectors.conftest import make_hub

    small = make_hub(tmp_path / "small", schema_url, max_message_bytes=100)
    big = b"x" * 5000
    (inbound(sftp_server) / "big.csv").write_bytes(big)
    poller = SftpPoller(small, name, channel(sftp_server))
    try:
        poller.poll_once()
    finally:
        poller.close()
    assert stored(small, name) == []
    error = inbound(sftp_server) / "error"
    (kept,) = [p for p in error.iterdir() if not p.name.endswith(".reason")]
    assert kept.read_bytes() == big  # nothing lost
    assert "exceeds the limit of 100 bytes" in kept.with_name(kept.name + ".reason").read_text()
    assert not [p for p in sftp_server.options.opened if p.endswith("big.csv")]  # never downloaded


def test_wrong_host_key_is_refused(sftp_server: SftpTestServer) -> None:
    other = paramiko.RSAKey.generate(1024).fingerprint
    config = SftpChannelConfig.model_validate({**sftp_settings(sftp_server, "/inbound"), "host_key_sha256": other})
    with pytest.raises(SftpError, match="does not match host_key_sha256.*refusing to connect"):
        connect(config)


def test_known_hosts_file(sftp_server: SftpTestServer, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    key = sftp_server.host_key
    known.write_text(f"[127.0.0.1]:{sftp_server.port} {key.get_name()} {key.get_base64()}\n")
    settings = sftp_settings(sftp_server, "/inbound")
    del settings["host_key_sha256"]
    connect(SftpChannelConfig.model_validate({**settings, "known_hosts": str(known)})).close()
    known.write_text(f"[127.0.0.1]:{sftp_server.port + 1} {key.get_name()} {key.get_base64()}\n")
    with pytest.raises(SftpError, match="is not in .*known_hosts"):
        connect(SftpChannelConfig.model_validate({**settings, "known_hosts": str(known)}))


def test_credentials_come_from_the_environment(sftp_server: SftpTestServer, client_key: paramiko.PKey,
                                               tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = sftp_settings(sftp_server, "/inbound")
    monkeypatch.delenv("TEST_SFTP_PASSWORD")
    with pytest.raises(SftpError, match="TEST_SFTP_PASSWORD .*is not set"):
        connect(SftpChannelConfig.model_validate(settings))
    monkeypatch.setenv("TEST_SFTP_PASSWORD", "wrong")
    with pytest.raises(SftpError, match="authentication as 'acme' failed"):
        connect(SftpChannelConfig.model_validate(settings))
    key_file = tmp_path / "id_rsa"
    client_key.write_private_key_file(str(key_file), password="pass phrase")
    monkeypatch.setenv("KEY_USER", "keyuser")
    monkeypatch.setenv("KEY_PATH", str(key_file))
    monkeypatch.setenv("KEY_PASSPHRASE", "pass phrase")
    settings["auth"] = {"username_env": "KEY_USER", "private_key_env": "KEY_PATH", "passphrase_env": "KEY_PASSPHRASE"}
    connect(SftpChannelConfig.model_validate(settings)).close()


def test_sftp_settings_refuse_unchecked_host_keys_and_inline_secrets() -> None:
    base = {"host": "h", "path": "/in", "auth": {"username_env": "U", "password_env": "P"}}
    with pytest.raises(ValueError, match="exactly one of host_key_sha256 or known_hosts"):
        SftpChannelConfig.model_validate(base)
    with pytest.raises(ValueError, match="String should match pattern"):
        SftpChannelConfig.model_validate({**base, "host_key_sha256": "SHA256:" + "A" * 43,
                                          "auth": {"username_env": "U", "password_env": "hunter2"}})


# -- outbound -----------------------------------------------------------------------------------

def payload(key: str = "PO-1", body: bytes = b"ISA*...~", delivery_id: str = "d-1") -> Payload:
    return Payload(delivery_id=delivery_id, message_id="m-1", route="r", endpoint="acme-sftp", seq=0, body=body,
                   content_type="application/edi-x12", idempotency_key=delivery_id, document_type="850",
                   document_key=key)


def endpoint(server: SftpTestServer, **extra) -> SftpEndpointConfig:
    return SftpEndpointConfig.model_validate(sftp_settings(server, "/outbound/orders",
                                                           filename="{document_type}-{document_key}.{ext}", **extra))


def test_delivery_writes_a_temp_name_then_renames(sftp_server: SftpTestServer) -> None:
    sender = SftpSender("acme-sftp", endpoint(sftp_server))
    result = sender.send(payload())
    assert result.outcome == "delivered", result
    folder = sftp_server.options.root / "outbound" / "orders"  # created on first use
    assert [p.name for p in folder.iterdir()] == ["850-PO-1.x12"]
    assert (folder / "850-PO-1.x12").read_bytes() == b"ISA*...~"
    writes = [p for p in sftp_server.options.requested if p.endswith(".tmp")]
    assert writes and all(os.path.basename(p).startswith(".850-PO-1.x12.d-1") for p in writes)
    # The same delivery again (a retry or replay) finds its file there: delivered, nothing rewritten.
    again = sender.send(payload())
    assert again.outcome == "delivered" and again.response.startswith("already there with the same bytes: 850-PO-1.x12 in ")
    assert [p.name for p in folder.iterdir()] == ["850-PO-1.x12"]


def test_delivery_needs_no_posix_rename_and_never_replaces(sftp_server: SftpTestServer) -> None:
    sftp_server.options.posix_rename = False  # never used: it would replace the target
    sender = SftpSender("acme-sftp", endpoint(sftp_server))
    assert sender.send(payload()).outcome == "delivered"
    second = sender.send(payload(body=b"second", delivery_id="d-2"))
    assert second.outcome == "delivered"
    folder = sftp_server.options.root / "outbound" / "orders"
    (clash,) = [p for p in folder.iterdir() if p.name != "850-PO-1.x12"]
    assert second.response.startswith(f"written {clash.name} in ") and clash.read_bytes() == b"second"
    assert (folder / "850-PO-1.x12").read_bytes() == b"ISA*...~"


def test_path_traversal_in_a_document_key_stays_in_the_folder(sftp_server: SftpTestServer) -> None:
    sender = SftpSender("acme-sftp", endpoint(sftp_server))
    assert sender.send(payload(key="../../etc/x")).outcome == "delivered"
    root = sftp_server.options.root
    files = [p for p in root.rglob("*") if p.is_file()]
    assert [p.relative_to(root).as_posix() for p in files] == ["outbound/orders/850-etc_x.x12"]
    assert not any(".." in p for p in sftp_server.options.requested)


def test_unreachable_server_is_a_retry(sftp_server: SftpTestServer) -> None:
    config = endpoint(sftp_server)
    sftp_server.stop()
    result = SftpSender("acme-sftp", config).send(payload())
    assert result.outcome == "unavailable" and "cannot connect to 127.0.0.1" in result.error


def test_a_dropped_session_is_reopened_for_the_next_delivery(sftp_server: SftpTestServer) -> None:
    sender = SftpSender("acme-sftp", endpoint(sftp_server))
    assert sender.send(payload(key="A")).outcome == "delivered"
    sftp_server.cut()
    first = sender.send(payload(key="B"))
    if first.outcome == "unavailable":  # the broken session is noticed on use ...
        first = sender.send(payload(key="B"))
    assert first.outcome == "delivered"  # ... and a new one carries the retry
    names = sorted(p.name for p in (sftp_server.options.root / "outbound" / "orders").iterdir())
    assert names == ["850-A.x12", "850-B.x12"]
