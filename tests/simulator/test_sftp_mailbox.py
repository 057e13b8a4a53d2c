"""The simulated partner's SFTP mailbox against the tests' SFTP server on 127.0.0.1 (paramiko's,
rooted in a folder): it takes only complete files, oldest first, into ``taken/``; it uploads
whole files under a temporary name (and the done marker a channel waits for); a server whose key
is not the pinned one is refused, naming the server."""

from __future__ import annotations

import os
import time

import pytest

from hub.routes.model import SftpChannelConfig, SftpEndpointConfig
from hub.simulator.sftp_mailbox import SftpMailbox, SftpMailboxError
from tests.connectors.conftest import client_key, host_key, sftp_server, sftp_settings  # noqa: F401 - fixtures
from tests.connectors.sftpserver import SftpTestServer


def test_takes_complete_files_oldest_first_and_puts_whole_files(sftp_server: SftpTestServer) -> None:  # noqa: F811
    inbound = sftp_server.options.root / "inbound"
    (inbound / "850-2.x12").write_bytes(b"second")
    os.utime(inbound / "850-2.x12", (time.time() - 60, time.time() - 60))
    (inbound / "850-3.x12").write_bytes(b"third")
    (inbound / ".850-4.x12.d-1.tmp").write_bytes(b"being uploaded by the hub")
    (inbound / "850-5.x12.part").write_bytes(b"partial")
    orders = SftpMailbox(SftpEndpointConfig(**sftp_settings(sftp_server, "/inbound")))
    try:
        assert orders.take() == [("850-2.x12", b"second"), ("850-3.x12", b"third")]
        assert orders.take() == []
        assert sorted(p.name for p in (inbound / "taken").iterdir()) == ["850-2.x12", "850-3.x12"]
        assert (inbound / ".850-4.x12.d-1.tmp").exists() and (inbound / "850-5.x12.part").exists()
    finally:
        orders.close()

    answers = SftpMailbox(SftpChannelConfig(**sftp_settings(sftp_server, "/outbound/acme"), done_suffix=".done"),
                          ".done")
    try:
        where = answers.put("ACMEMED-997-1.x12", b"ISA*997~")
        assert where == f"sftp://127.0.0.1:{sftp_server.port}/outbound/acme/ACMEMED-997-1.x12"
        folder = sftp_server.options.root / "outbound" / "acme"
        assert sorted(p.name for p in folder.iterdir()) == ["ACMEMED-997-1.x12", "ACMEMED-997-1.x12.done"]
        assert (folder / "ACMEMED-997-1.x12").read_bytes() == b"ISA*997~"
        with pytest.raises(SftpMailboxError, match="ACMEMED-997-1.x12 exists already"):
            answers.put("ACMEMED-997-1.x12", b"ISA*other~")
        assert (folder / "ACMEMED-997-1.x12").read_bytes() == b"ISA*997~"  # never overwritten
    finally:
        answers.close()


def test_a_server_that_is_not_the_pinned_one_is_refused(sftp_server: SftpTestServer) -> None:  # noqa: F811
    settings = sftp_settings(sftp_server, "/inbound") | {"host_key_sha256": "SHA256:" + "A" * 43}
    mailbox = SftpMailbox(SftpEndpointConfig(**settings))
    with pytest.raises(SftpMailboxError, match=rf"taking files from sftp://127.0.0.1:{sftp_server.port}/inbound: "
                                               r".*does not match host_key_sha256"):
        mailbox.take()
