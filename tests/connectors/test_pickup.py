"""The safe-pickup rules on the local file drop (links, hostile names) and file delivery with a
hostile document key; ``hub sftp poll`` from the command line.

Store outages, with real faults: the hub reaches PostgreSQL through a TCP proxy the test cuts
(and a lock another connection holds on ``messages`` stops an ingest mid-way, so the cut lands
after the claim). The running file drop must finish every file once the database answers —
no restart — store each exactly once, report what waits in ``processing/``, and send nothing
to ``error/``. RabbitMQ being away must change nothing."""

from __future__ import annotations

import json
import logging
import os
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from connectors.cli import sftp_app
from connectors.inbound.filedrop import (
    DropChannel,
    FileDrop,
    FileDropThread,
    files_waiting,
)
from connectors.inbound.pickup import Recovery
from connectors.inbound.sftp import SftpPoller
from connectors.outbound import Payload
from connectors.outbound.file import FileSender
from hub.app import Hub
from hub.db import normalise_url
from hub.ids import new_id
from hub.routes.model import FileConfig, SftpChannelConfig
from hub.store import Message, OutboxEntry
from tests.backbone.conftest import wait_for
from tests.conftest import AMQP_URL, PG_URL
from tests.connectors.conftest import make_hub, sftp_settings
from tests.connectors.sftpserver import SftpTestServer
from tests.connectors.tcpproxy import TcpProxy

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


def test_a_backlog_is_taken_in_the_order_it_was_written_not_by_name(hub: Hub, tmp_path: Path) -> None:
    """Files written z, y, x (oldest first) are received z, y, x: the order a sender wrote its
    versions in is the order the hub receives them, and an ordered endpoint delivers them in."""
    ch = DropChannel("backlog", tmp_path / "backlog", stable_seconds=0)
    ch.folder.mkdir()
    for age, name in ((30, "z.csv"), (20, "y.csv"), (10, "x.csv")):
        path = ch.folder / name
        path.write_text(f"a,b\n{name},1\n")
        stamp = time.time() - age
        os.utime(path, (stamp, stamp))
    assert FileDrop(hub, [ch]).scan() == 3
    with hub.db.session() as s:
        received = s.scalars(select(Message.filename).where(Message.channel == "filedrop:backlog")
                             .order_by(Message.received_at, Message.id)).all()
    assert received == ["z.csv", "y.csv", "x.csv"]


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


# -- store outages -----------------------------------------------------------------------------

@pytest.fixture
def pg_proxy() -> Iterator[TcpProxy]:
    """PostgreSQL behind a proxy this test can cut (the machine's server is never touched)."""
    url = make_url(PG_URL)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    yield proxy
    proxy.stop()


def through(proxy: TcpProxy, url: str) -> str:
    """``url`` (same database, same schema) with its connections going through ``proxy``."""
    return make_url(url).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)


@pytest.fixture
def cut_off(tmp_path: Path, schema_url: str, pg_proxy: TcpProxy) -> Iterator[Hub]:
    """A hub whose database is reached through ``pg_proxy`` (the embedded broker: not involved)."""
    h = make_hub(tmp_path / "cut-off", through(pg_proxy, schema_url))
    yield h
    pg_proxy.restore()
    h.db.dispose()


def inbox_channel(hub: Hub) -> DropChannel:
    """A channel in the hub's inbox, so ``files_waiting(hub)`` finds it as operations would."""
    name = f"drop-{new_id()[-8:]}"
    ch = DropChannel(name, hub.settings.inbox_dir / name, pattern="*.csv", format="csv", doctype="cycle_count",
                     sender="legacy-stock", stable_seconds=0)
    ch.folder.mkdir(parents=True)
    return ch


def stored_per_file(hub: Hub, channel: str) -> Counter[str]:
    with hub.db.session() as s:
        return Counter(s.scalars(select(Message.filename).where(Message.channel == channel)))


def archived(ch: DropChannel) -> list[str]:
    return sorted(p.name.split("__", 1)[1] for p in ch.archive.rglob("*.csv"))


def claimed(ch: DropChannel, name: str) -> list[Path]:
    return list(ch.processing.glob(f"*__{name}")) if ch.processing.is_dir() else []


@contextmanager
def messages_locked(schema_url: str) -> Iterator[None]:
    """Hold an exclusive lock on ``messages`` from a connection of the test's own: an ingest's
    INSERT waits, mid-way, until the block ends."""
    engine = create_engine(normalise_url(schema_url))
    try:
        with engine.connect() as conn:
            conn.execute(text("LOCK TABLE messages IN ACCESS EXCLUSIVE MODE"))
            yield
            conn.rollback()
    finally:
        engine.dispose()


def waiting_on_lock(schema_url: str) -> bool:
    engine = create_engine(normalise_url(schema_url))
    try:
        with engine.connect() as conn:
            return bool(conn.scalar(text("SELECT count(*) FROM pg_locks WHERE relation = 'messages'::regclass "
                                         "AND NOT granted")))
    finally:
        engine.dispose()


def test_a_database_outage_strands_no_file_and_needs_no_restart(hub: Hub, cut_off: Hub, pg_proxy: TcpProxy,
                                                               schema_url: str, caplog) -> None:
    caplog.set_level(logging.INFO, logger="connectors.inbound")
    ch = inbox_channel(cut_off)
    thread = FileDropThread(cut_off, interval=0.05, drop=FileDrop(cut_off, [ch]))
    thread.start()
    try:
        (ch.folder / "first.csv").write_bytes(b"n,1\n")
        wait_for(lambda: archived(ch) == ["first.csv"], 30, what="first.csv archived while the database answers")

        # The cut lands after a claim: the ingest waits on the lock, the connection dies under it.
        with messages_locked(schema_url):
            (ch.folder / "caught.csv").write_bytes(b"n,2\n")
            wait_for(lambda: claimed(ch, "caught.csv") and waiting_on_lock(schema_url), 30,
                     what="caught.csv claimed and its ingest waiting on the lock")
            pg_proxy.cut()
            note = wait_for(lambda: list(ch.processing.glob("*.reason")), 30, what="the held file's note")
        assert [p.name for p in note] == [claimed(ch, "caught.csv")[0].name + ".reason"]

        # While the database is away nothing more is claimed, and the held file is reported.
        for i in range(3, 8):
            (ch.folder / f"late-{i}.csv").write_bytes(f"n,{i}\n".encode())
        time.sleep(0.5)  # ten scans
        assert sorted(p.name for p in ch.folder.glob("late-*.csv")) == [f"late-{i}.csv" for i in range(3, 8)]
        (waiting,) = [w for w in files_waiting(cut_off) if w.channel == f"filedrop:{ch.name}"]
        assert waiting.name == "caught.csv" and not waiting.ingesting and 0 <= waiting.age < 60
        assert waiting.last_error.startswith("the store did not answer: OperationalError")
        assert any("caught.csv stays in" in r.getMessage() and "claimed " in r.getMessage() and "s ago" in
                   r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)

        pg_proxy.restore()
        expected = ["caught.csv", "first.csv", *(f"late-{i}.csv" for i in range(3, 8))]
        wait_for(lambda: archived(ch) == expected, 30, what="every file archived once the database answers")

        # Two immediate restarts' worth of cuts, files arriving throughout.
        for burst in range(3):
            for i in range(5):
                (ch.folder / f"burst-{burst}-{i}.csv").write_bytes(f"b,{burst},{i}\n".encode())
            pg_proxy.cut()
            time.sleep(0.2)
            pg_proxy.restore()
            time.sleep(0.1)
        expected += [f"burst-{b}-{i}.csv" for b in range(3) for i in range(5)]
        wait_for(lambda: archived(ch) == sorted(expected), 30, what="every burst file archived")
    finally:
        thread.stop()
        thread.join(10)
    assert thread.ident is not None and not thread.is_alive()  # the one thread did it all, no restart
    assert stored_per_file(hub, f"filedrop:{ch.name}") == Counter({name: 1 for name in expected})
    assert not ch.error.exists()
    assert list(ch.processing.iterdir()) == []  # notes included
    assert "file drop scan failed" not in caplog.text  # the outage is handled, not crashed through


def test_a_claimed_file_is_reported_while_the_store_is_away(cut_off: Hub, pg_proxy: TcpProxy, caplog) -> None:
    ch = inbox_channel(cut_off)
    ch.processing.mkdir()
    left = ch.processing / f"{new_id()}__left.csv"
    left.write_bytes(b"a,b\n")  # its picker stopped after the claim
    (ch.folder / "new.csv").write_bytes(b"c,d\n")
    pg_proxy.cut()
    drop = FileDrop(cut_off, [ch])
    with caplog.at_level(logging.WARNING, logger="connectors.inbound"):
        assert drop.recover() == 0
        assert drop.scan() == 0
    assert left.exists() and (ch.folder / "new.csv").exists()  # nothing claimed, nothing moved
    (warning,) = [r.getMessage() for r in caplog.records if "left.csv" in r.getMessage()]
    assert f"left.csv waits in {left}" in warning and "(claimed 0s ago)" in warning
    assert "the store does not answer: OperationalError" in warning
    (waiting,) = [w for w in files_waiting(cut_off) if w.channel == f"filedrop:{ch.name}"]
    assert (waiting.name, waiting.path, waiting.last_error, waiting.ingesting) == ("left.csv", str(left), None, False)
    assert waiting.message_id == left.name.split("__")[0] and 0 <= waiting.age < 60

    pg_proxy.restore()
    assert drop.scan() == 1  # the same pickup: the sweep finishes left.csv, then new.csv is taken
    assert archived(ch) == ["left.csv", "new.csv"] and files_waiting(cut_off) == []
    assert not ch.error.exists()


def test_a_file_the_store_fails_is_retried_and_nothing_more_is_claimed_meanwhile(hub: Hub, tmp_path: Path,
                                                                                schema_url: str) -> None:
    # The store answers its check but cannot take the file: a lock held elsewhere outlasts the
    # hub's lock_timeout (PostgreSQL's LockNotAvailable).
    url = make_url(schema_url)
    impatient = make_hub(tmp_path / "impatient", url.update_query_dict(
        {"options": f"{url.query['options']} -clock_timeout=300"}).render_as_string(hide_password=False))
    try:
        ch = inbox_channel(impatient)
        drop = FileDrop(impatient, [ch], recovery=Recovery(retry_after=1.0))
        (ch.folder / "a.csv").write_bytes(b"n,1\n")
        (ch.folder / "b.csv").write_bytes(b"n,2\n")
        with messages_locked(schema_url):
            assert drop.scan() == 0 and drop.scan() == 0  # the second within the retry's back-off
            (held,) = files_waiting(impatient)
            assert held.name == "a.csv" and held.last_error.startswith("the store did not answer: LockNotAvailable")
            assert (ch.folder / "b.csv").exists()  # not claimed behind a file the store just failed
        time.sleep(1.0)
        assert drop.scan() == 1  # the retry stores a.csv (the sweep), then b.csv is taken
    finally:
        impatient.db.dispose()
    assert archived(ch) == ["a.csv", "b.csv"] and not ch.error.exists() and list(ch.processing.iterdir()) == []
    assert stored_per_file(hub, f"filedrop:{ch.name}") == Counter({"a.csv": 1, "b.csv": 1})


@pytest.mark.rabbitmq
def test_the_broker_away_changes_nothing_for_the_file_drop(tmp_path: Path, schema_url: str, hub: Hub) -> None:
    url = make_url(AMQP_URL.replace("amqp://", "postgresql://", 1))  # only to read host and port
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5672))
    queued = make_hub(tmp_path / "queued", schema_url,
                      broker_url=AMQP_URL.replace(f"{url.host}:{url.port}", f"127.0.0.1:{proxy.port}", 1))
    try:
        ch = inbox_channel(queued)
        proxy.cut()
        for i in range(2):
            (ch.folder / f"f{i}.csv").write_bytes(f"n,{i}\n".encode())
        assert FileDrop(queued, [ch]).scan() == 2
        assert archived(ch) == ["f0.csv", "f1.csv"] and not ch.error.exists()
        with hub.db.session() as s:
            ids = s.scalars(select(Message.id).where(Message.channel == f"filedrop:{ch.name}")).all()
            pending = s.scalars(select(OutboxEntry).where(OutboxEntry.message_id.in_(ids))).all()
        assert len(pending) == 2 and all(e.published_at is None for e in pending)  # for the relay
        assert proxy.refused > 0
    finally:
        proxy.restore()
        with queued.connection() as conn:
            queued.topology.delete(conn.default_channel)
        queued.db.dispose()
        proxy.stop()


def test_the_sftp_poller_finishes_what_waits_in_the_same_session(hub: Hub, cut_off: Hub, pg_proxy: TcpProxy,
                                                                 sftp_server: SftpTestServer, caplog) -> None:
    name = f"acme-{new_id()[-8:]}"
    config = SftpChannelConfig.model_validate(sftp_settings(sftp_server, "/inbound", stable_seconds=0, format="csv",
                                                            doctype="cycle_count", sender="acme"))
    folder = sftp_server.options.root / "inbound"
    (folder / "processing").mkdir()
    left = folder / "processing" / f"{new_id()}__left.csv"
    left.write_bytes(b"a,b\n")  # its picker stopped after the claim
    (folder / "new.csv").write_bytes(b"c,d\n")
    pg_proxy.cut()
    poller = SftpPoller(cut_off, name, config)
    try:
        with caplog.at_level(logging.WARNING, logger="connectors.inbound"):
            assert poller.poll_once() == 0 and poller.poll_once() == 0
        assert left.exists() and (folder / "new.csv").exists()  # nothing claimed while the store is away
        (waiting,) = poller.waiting()
        assert (waiting.channel, waiting.name, waiting.last_error) == (f"sftp:{name}", "left.csv", None)
        assert "left.csv waits in" in caplog.text and "the store does not answer" in caplog.text
        pg_proxy.restore()
        assert poller.poll_once() == 1  # the sweep finishes left.csv, then new.csv is taken
        assert poller.waiting() == []
    finally:
        poller.close()
    assert sftp_server.connections == 1  # one session throughout: no reconnect, no restart
    assert stored_per_file(hub, f"sftp:{name}") == Counter({"left.csv": 1, "new.csv": 1})
    assert not (folder / "error").exists() and list((folder / "processing").iterdir()) == []
