"""The safe-pickup rules on the local file drop (links, hostile names) and file delivery with a
hostile document key; ``hub sftp poll`` from the command line."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from connectors.cli import sftp_app
from connectors.inbound.filedrop import DropChannel, FileDrop
from connectors.outbound import Payload
from connectors.outbound.file import FileSender
from hub.app import Hub
from hub.routes.model import FileConfig
from hub.store import Message
from tests.connectors.conftest import sftp_settings
from tests.connectors.sftpserver import SftpTestServer

pytestmark = pytest.mark.postgres


def test_a_symbolic_link_in_the_drop_folder_is_not_followed(hub: Hub, tmp_path: Path) -> None:
    secret = tmp_path / "outside" / "shadow"
    secret.parent.mkdir()
    secret.write_text("root:x")
    ch = DropChannel("links", tmp_path / "in", stable_seconds=0)
    ch.folder.mkdir()
    os.symlink(secret, ch.folder / "counts.csv")
    assert FileDrop(hub, [ch]).scan() == 0
    with hub.db.session() as s:
        assert s.scalars(select(Message).where(Message.channel == "filedrop:links")).all() == []
    (moved,) = [p for p in ch.error.iterdir() if not p.name.endswith(".reason")]
    assert moved.is_symlink() and secret.read_text() == "root:x"
    assert "symbolic links are not picked up" in moved.with_name(moved.name + ".reason").read_text()


def test_a_name_with_control_characters_cannot_forge_reason_lines(hub: Hub, tmp_path: Path) -> None:
    from connectors.inbound.filedrop import DropChannel as Channel

    small = Hub(hub.settings.model_copy(update={"max_message_bytes": 10}))
    ch = Channel("names", tmp_path / "in", stable_seconds=0)
    ch.folder.mkdir()
    (ch.folder / "big\nreason: all fine.csv").write_bytes(b"x" * 100)
    FileDrop(small, [ch]).scan()
    (reason,) = list(ch.error.glob("*.reason"))
    lines = reason.read_text().splitlines()
    assert lines[0] == "file: big\\nreason: all fine.csv" and sum(ln.startswith("reason:") for ln in lines) == 1
    small.db.dispose()


def test_file_delivery_keeps_a_hostile_document_key_inside_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    sender = FileSender("wh", FileConfig(path=str(folder), format="raw", filename="{document_type}-{document_key}.{ext}"))
    result = sender.send(Payload("d-1", "m-1", "r", "wh", 0, b"data", "application/json", "d-1",
                                 document_type="../..", document_key="../../etc/x"))
    assert result.outcome == "delivered"
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert [p.relative_to(tmp_path).as_posix() for p in files] == ["out/_-etc_x.json"]


def test_sftp_poll_command(hub: Hub, tmp_path: Path, sftp_server: SftpTestServer,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    routes = tmp_path / "routes"
    routes.mkdir()
    (routes / "sftp.yaml").write_text(json.dumps({"channels": {"acme-in": {"sftp": {
        **sftp_settings(sftp_server, "/inbound"), "stable_seconds": 0, "format": "csv", "doctype": "counts"}}}}))
    (sftp_server.options.root / "inbound" / "a.csv").write_bytes(b"a,b\n")
    for key, value in {"HUB_DATA_DIR": str(tmp_path / "data"), "HUB_ROUTES_DIR": str(routes),
                       "HUB_DATABASE_URL": hub.settings.resolved_database_url,
                       "HUB_NAMESPACE": hub.settings.namespace}.items():
        monkeypatch.setenv(key, value)
    from hub.config import get_settings

    get_settings.cache_clear()
    try:
        runner = CliRunner()
        ok = runner.invoke(sftp_app, ["poll", "--once"])
        assert ok.exit_code == 0, ok.output
        assert "acme-in: 1 file(s) taken" in ok.output
        unknown = runner.invoke(sftp_app, ["poll", "--once", "--channel", "nope"])
        assert unknown.exit_code == 1 and "no sftp channel named nope (sftp channels: acme-in)" in unknown.output
        sftp_server.stop()
        down = runner.invoke(sftp_app, ["poll", "--once"])
        assert down.exit_code == 1 and "acme-in: error: cannot connect to 127.0.0.1" in down.output
        assert "Traceback" not in down.output
    finally:
        get_settings.cache_clear()
