"""An SFTP channel bound to a partner (``partner:``) holds the partner's server to the same rule
as the API and the file drop: a file whose interchanges are not all the partner's, or that is
not a document the partner may send, goes to ``error/`` on the server with its reason and is
recorded as a security event; the partner's own files are stored. Against a real SFTP server
on 127.0.0.1."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import select

from connectors.inbound.sftp import SftpPoller
from hub.app import Hub
from hub.routes.model import SftpChannelConfig
from hub.store import Message
from tests.connectors.conftest import sftp_settings
from tests.connectors.sftpserver import SftpTestServer
from tests.security.conftest import events, unique
from tests.security.edi import x12

pytestmark = pytest.mark.postgres


def poll(hub: Hub, server: SftpTestServer, name: str, **options: str) -> None:
    config = SftpChannelConfig.model_validate(sftp_settings(server, "/inbound", stable_seconds=0, **options))
    poller = SftpPoller(hub, name, config)
    try:
        poller.poll_once()
    finally:
        poller.close()


def test_a_bound_sftp_channel_refuses_what_is_not_the_partners(sec_hub: Hub, sftp_server: SftpTestServer) -> None:
    inbound: Path = sftp_server.options.root / "inbound"
    own = x12("ACMEMED", unique())
    smuggled = (own + x12("RIVALMED", unique(), sep="§")).encode()
    (inbound / "smuggled.x12").write_bytes(smuggled)
    (inbound / "own.x12").write_bytes((own + x12("ACMEMED", unique(), isa01="  ")).encode())
    (inbound / "counts.csv").write_bytes(b"Facility,Item,Counted Qty\nHOSP1,ST-1,4\n")
    name = f"acme-{unique()[-6:]}"
    poll(sec_hub, sftp_server, name, partner="P-0042")

    with sec_hub.db.session() as s:
        msgs = list(s.scalars(select(Message).where(Message.channel == f"sftp:{name}")))
    assert [(m.filename, m.headers["partner_id"]) for m in msgs] == [("own.x12", "P-0042")]
    notes = {p.name.split("__", 1)[1]: p.read_text() for p in (inbound / "error").glob("*.reason")}
    assert sorted(notes) == ["counts.csv.reason", "smuggled.x12.reason"]
    assert "reason: sender_not_owned: segment 8 (ISA): interchange sender ZZ:RIVALMED belongs to partner P-0777" in (
        notes["smuggled.x12.reason"])
    assert "reason: format_mismatch" not in notes["counts.csv.reason"]
    assert "reason: doctype_not_allowed: partner P-0042 may not send document type 'unknown' as csv" in (
        notes["counts.csv.reason"])
    (event,) = events(sec_hub, "sender_not_owned", channel=f"sftp:{name}")
    assert event.sha256 == hashlib.sha256(smuggled).hexdigest() and event.partner_id == "P-0042"
