"""The SFTP pollers of a running process follow the route generations (connectors.inbound.
channels_follow): a channel added gets a poller that takes its files, a changed one is restarted
with its new settings, a removed one stopped — no restart of the process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from connectors.inbound.channels_follow import ChannelRunner
from hub.app import Hub
from hub.reload.follow import in_force
from hub.routes.loader import RouteSet
from hub.store import Message
from tests.backbone.conftest import wait_for
from tests.connectors.conftest import sftp_settings
from tests.connectors.sftpserver import SftpTestServer


def _use(hub: Hub, folder: Path, channels: dict) -> None:
    """Put a route set holding these channels in force in ``hub``, as a reload does."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "channels.yaml").write_text(json.dumps({"channels": channels}) if channels else "{}\n")
    routes = RouteSet.load(folder)
    assert not routes.problems, routes.problems
    hub.use_routes(routes, hub.topology_for(routes), hub.compile(routes), None)


def _stored(hub: Hub) -> int:
    with hub.db.read() as session:
        return session.scalar(select(func.count()).select_from(Message))


def test_sftp_pollers_follow_the_channels_in_force(hub: Hub, tmp_path: Path, sftp_server: SftpTestServer,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path / "data"))
    channel = {"sftp": {**sftp_settings(sftp_server, "/inbound"), "stable_seconds": 0, "poll_interval": 0.2,
                        "format": "csv", "doctype": "counts"}}
    _use(hub, tmp_path / "g1", {})
    runner = ChannelRunner(hub, filedrop=False).start()
    try:
        assert runner.pollers == {}
        (sftp_server.options.root / "inbound" / "a.csv").write_bytes(b"a,b\n")

        _use(hub, tmp_path / "g2", {"acme-in": channel})  # added
        runner.on_generation(in_force(hub), in_force(hub))
        first = runner.pollers["acme-in"]
        wait_for(lambda: _stored(hub) == 1, 30, 0.2, "the added channel's poller taking a.csv")

        changed = {"sftp": {**channel["sftp"], "pattern": "*.txt"}}
        _use(hub, tmp_path / "g3", {"acme-in": changed})  # changed: stopped after its pass, started anew
        runner.on_generation(in_force(hub), in_force(hub))
        second = runner.pollers["acme-in"]
        assert second is not first and not first.is_alive() and second.poller.config.pattern == "*.txt"
        (sftp_server.options.root / "inbound" / "b.txt").write_bytes(b"c,d\n")
        wait_for(lambda: _stored(hub) == 2, 30, 0.2, "the changed channel's poller taking b.txt")

        _use(hub, tmp_path / "g4", {})  # removed
        runner.on_generation(in_force(hub), in_force(hub))
        assert runner.pollers == {} and not second.is_alive()
    finally:
        runner.stop()
