"""File drop: complete files only, claimed once, stored then archived, bad files to error/
with a reason, and nothing lost or stored twice across a restart."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from connectors.inbound.filedrop import DropChannel, FileDrop
from connectors.inbound.pickup import Recovery
from hub.app import Hub
from hub.config import Settings
from hub.ids import new_id
from hub.store import Message
from tests.conftest import ROOT


@pytest.fixture
def hub(tmp_path: Path) -> Hub:
    h = Hub(Settings(data_dir=tmp_path / "data", routes_dir=ROOT / "routes", max_message_bytes=1000))
    h.setup()
    return h


def channel(tmp_path: Path, **kw) -> DropChannel:
    options = {"pattern": "*.csv", "format": "csv", "doctype": "cycle_count", "sender": "legacy-stock",
               "stable_seconds": 0.2, **kw}
    return DropChannel("cycle-counts", tmp_path / "in", **options)


def stored(hub: Hub) -> list[Message]:
    with hub.db.session() as s:
        return list(s.scalars(select(Message).order_by(Message.received_at)))


def test_waits_until_the_size_holds_then_archives(hub: Hub, tmp_path: Path) -> None:
    ch = channel(tmp_path)
    drop = FileDrop(hub, [ch])
    ch.folder.mkdir(parents=True)
    f = ch.folder / "counts.csv"
    f.write_bytes(b"Facility,Location\n")
    assert drop.scan() == 0  # first sight: not yet stable
    with open(f, "ab") as fh:
        fh.write(b"HOSP1,A\n")  # still being written
    assert drop.scan() == 0
    time.sleep(0.3)
    assert drop.scan() == 1
    (msg,) = stored(hub)
    assert msg.filename == "counts.csv" and hub.store.raw(msg) == b"Facility,Location\nHOSP1,A\n"
    archived = list((ch.archive).rglob("*"))
    assert [p.name for p in archived if p.is_file()] == [f"{msg.id}__counts.csv"]
    assert not f.exists() and list(ch.processing.iterdir()) == []


def test_done_file_mode_takes_a_file_only_with_its_marker(hub: Hub, tmp_path: Path) -> None:
    ch = channel(tmp_path, done_suffix=".done", stable_seconds=3600)
    drop = FileDrop(hub, [ch])
    ch.folder.mkdir(parents=True)
    (ch.folder / "a.csv").write_bytes(b"x,y\n")
    assert drop.scan() == 0
    (ch.folder / "a.csv.done").touch()
    assert drop.scan() == 1 and not (ch.folder / "a.csv.done").exists()


def test_two_watchers_store_each_file_once(hub: Hub, tmp_path: Path) -> None:
    ch = channel(tmp_path, stable_seconds=0)
    a, b = FileDrop(hub, [ch]), FileDrop(hub, [ch])
    ch.folder.mkdir(parents=True)
    for i in range(20):
        (ch.folder / f"f{i:02}.csv").write_bytes(f"n,{i}\n".encode())
    taken = 0
    for _ in range(3):
        taken += b.scan() + a.scan()
    assert taken == 20
    assert sorted(m.filename for m in stored(hub)) == [f"f{i:02}.csv" for i in range(20)]


def test_restart_finishes_claimed_files_without_storing_twice(hub: Hub, tmp_path: Path) -> None:
    ch = channel(tmp_path)
    ch.processing.mkdir(parents=True)
    # A crash after the claim, before the store: the file must be stored on restart.
    (ch.processing / f"{new_id()}__late.csv").write_bytes(b"a,b\n")  # just claimed: scans leave it alone
    # A crash after the store, before the archive: it must be archived, not stored again.
    drop = FileDrop(hub, [ch])
    ch.folder.mkdir(exist_ok=True)
    (ch.folder / "early.csv").write_bytes(b"c,d\n")
    os.utime(ch.folder / "early.csv", (0, 0))
    FileDrop(hub, [channel(tmp_path, stable_seconds=0)]).scan()
    (msg,) = stored(hub)
    archived = next(ch.archive.rglob(f"{msg.id}__early.csv"))
    os.rename(archived, ch.processing / archived.name)  # as if the archive move never happened
    assert drop.recover() == 2
    names = sorted(m.filename for m in stored(hub))
    assert names == ["early.csv", "late.csv"]
    assert list(ch.processing.iterdir()) == []


def test_a_running_drop_adopts_a_claim_another_picker_abandoned(hub: Hub, tmp_path: Path) -> None:
    ch = channel(tmp_path)
    ch.processing.mkdir(parents=True)
    drop = FileDrop(hub, [ch], recovery=Recovery(sweep_every=0.1, adopt_after=0.5))
    assert drop.recover() == 0
    orphan = ch.processing / f"{new_id()}__orphan.csv"
    orphan.write_bytes(b"a,b\n")  # claimed by a picker in another process, which then died
    time.sleep(0.2)
    drop.scan()
    assert orphan.exists() and stored(hub) == []  # young: that picker may still be storing it
    time.sleep(0.4)
    drop.scan()
    (msg,) = stored(hub)
    assert (msg.id, msg.filename) == (orphan.name.split("__")[0], "orphan.csv")
    assert list(ch.processing.iterdir()) == [] and next(ch.archive.rglob(orphan.name))


def test_oversized_file_goes_to_error_with_a_reason(hub: Hub, tmp_path: Path) -> None:
    ch = channel(tmp_path, stable_seconds=0)
    ch.folder.mkdir(parents=True)
    big = b"x" * 2000
    (ch.folder / "big.csv").write_bytes(big)
    FileDrop(hub, [ch]).scan()
    assert stored(hub) == []
    (kept,) = [p for p in ch.error.iterdir() if not p.name.endswith(".reason")]
    assert kept.read_bytes() == big  # nothing lost
    reason = kept.with_name(kept.name + ".reason").read_text()
    assert "file: big.csv" in reason and "exceeds the limit of 1000 bytes" in reason


def test_hostile_file_names_stay_inside_the_folder(hub: Hub, tmp_path: Path) -> None:
    ch = channel(tmp_path, pattern="*", stable_seconds=0)
    ch.folder.mkdir(parents=True)
    (ch.folder / "evil..;rm -rf ~.csv").write_bytes(b"a,b\n")
    (ch.folder / ".hidden-upload.csv").write_bytes(b"a,b\n")  # dot files are uploads in progress
    FileDrop(hub, [ch]).scan()
    files = [p for p in tmp_path.rglob("*") if p.is_file() and "evil" in p.name]
    assert len(files) == 1 and ch.archive in files[0].parents
    assert ";" not in files[0].name and " " not in files[0].name and ".." not in files[0].name.split("__")[1]
    assert (ch.folder / ".hidden-upload.csv").exists()
