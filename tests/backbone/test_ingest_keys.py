"""Client idempotency keys at the ingest door (``Inbound.client_key``, hub.store.ingest_keys), on
the embedded default (SQLite, embedded broker) and on PostgreSQL with RabbitMQ: a retried
inbound gets its first message back, another body under the key is refused, keys are per
sender, concurrent twins make one message, an expired key is free again and expired rows are
purged a bounded batch at a time."""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text, update

from hub.app import Hub
from hub.config import Settings
from hub.ids import new_id
from hub.ingest import Accepted, Inbound, Ingest
from hub.store import Message, OutboxEntry, Stage, utcnow
from hub.store.ingest_keys import PURGE_BATCH, ClientKey, IngestKey, KeyConflict, take
from tests.backbone.conftest import wait_for
from tests.conftest import AMQP_URL


@contextmanager
def running_hub(settings: Settings) -> Iterator[Hub]:
    h = Hub(settings)
    h.setup()
    yield h
    if settings.is_amqp:
        with h.connection() as conn:
            h.topology.delete(conn.default_channel)
    h.db.dispose()


@pytest.fixture
def pg_hub(tmp_path: Path, namespace: str, pg_schema_url: str) -> Iterator[Hub]:
    """PostgreSQL and RabbitMQ."""
    with running_hub(Settings(data_dir=tmp_path / "data", namespace=namespace, broker_url=AMQP_URL,
                              database_url=pg_schema_url)) as h:
        yield h


@pytest.fixture(params=["sqlite", "postgresql"])
def hub(request: pytest.FixtureRequest, tmp_path: Path, namespace: str) -> Iterator[Hub]:
    """The embedded default (SQLite, embedded broker), then PostgreSQL and RabbitMQ."""
    if request.param == "postgresql":
        yield request.getfixturevalue("pg_hub")
        return
    with running_hub(Settings(data_dir=tmp_path / "data", namespace=namespace)) as h:
        yield h


@pytest.fixture
def sender() -> str:
    """A sender (the key's scope) of this test only: the PostgreSQL schema is shared by the session."""
    return f"S-{secrets.token_hex(4)}"


def inbound(sender: str, raw: bytes, key: str, scope: str | None = None) -> Inbound:
    return Inbound(raw=raw, format="csv", doctype="cycle_count", sender=sender, channel="test",
                   client_key=ClientKey.for_body(scope or sender, key, raw))


def messages_of(hub: Hub, sender: str) -> list[str]:
    with hub.db.session() as s:
        return list(s.scalars(select(Message.id).where(Message.sender == sender)))


def ingress_rows(hub: Hub, message_id: str) -> int:
    with hub.db.session() as s:
        return s.scalar(select(func.count()).select_from(OutboxEntry).where(OutboxEntry.message_id == message_id))


def test_the_same_key_and_body_give_back_the_first_message(hub: Hub, sender: str) -> None:
    ingest = Ingest(hub)
    first = ingest.accept(inbound(sender, b"Item,Qty\nST-1,4\n", "order-1"))
    again = ingest.accept(inbound(sender, b"Item,Qty\nST-1,4\n", "order-1"))
    assert first.replayed is False and first.published is True
    assert again == Accepted(first.message_id, first.routing_key, published=True, routed=first.routed, replayed=True)
    assert messages_of(hub, sender) == [first.message_id]
    assert ingress_rows(hub, first.message_id) == 1  # nothing published a second time
    assert ingest.replay(ClientKey.for_body(sender, "order-1", b"Item,Qty\nST-1,4\n")) == again
    assert ingest.replay(ClientKey.for_body(sender, "order-2", b"Item,Qty\nST-1,4\n")) is None


def test_another_body_under_the_key_is_a_conflict_naming_the_first_message(hub: Hub, sender: str) -> None:
    ingest = Ingest(hub)
    first = ingest.accept(inbound(sender, b"Item,Qty\nST-1,4\n", "order-1"))
    with pytest.raises(KeyConflict) as caught:
        ingest.accept(inbound(sender, b"Item,Qty\nST-1,5\n", "order-1"))
    assert (caught.value.scope, caught.value.key, caught.value.message_id) == (sender, "order-1", first.message_id)
    with pytest.raises(KeyConflict):
        ingest.replay(ClientKey.for_body(sender, "order-1", b"Item,Qty\nST-1,5\n"))
    assert messages_of(hub, sender) == [first.message_id]


def test_keys_are_scoped_per_sender(hub: Hub, sender: str) -> None:
    ingest = Ingest(hub)
    mine = ingest.accept(inbound(sender, b"Item,Qty\nST-1,4\n", "order-1", scope=f"{sender}-A"))
    theirs = ingest.accept(inbound(sender, b"Item,Qty\nST-1,4\n", "order-1", scope=f"{sender}-B"))
    assert mine.message_id != theirs.message_id and not theirs.replayed
    assert sorted(messages_of(hub, sender)) == sorted([mine.message_id, theirs.message_id])


def test_twins_in_one_batch_make_one_message(hub: Hub, sender: str) -> None:
    first, twin = Ingest(hub).accept_many([inbound(sender, b"a\n", "k"), inbound(sender, b"a\n", "k")])
    assert (twin.message_id, first.replayed, twin.replayed) == (first.message_id, False, True)
    assert messages_of(hub, sender) == [first.message_id]


def test_concurrent_identical_inbounds_make_one_message(hub: Hub, sender: str) -> None:
    ingest, start = Ingest(hub), threading.Barrier(6)

    def send(_: int) -> Accepted:
        start.wait()
        return ingest.accept(inbound(sender, b"Item,Qty\nST-9,1\n", "burst"))

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(send, range(6)))
    assert len({a.message_id for a in answers}) == 1
    assert sorted(a.replayed for a in answers) == [False] + [True] * 5
    assert messages_of(hub, sender) == [answers[0].message_id]


def test_the_loser_of_a_race_at_commit_reads_the_winner(pg_hub: Hub, sender: str) -> None:
    """The winner's transaction is still open when the loser checks the key: the loser finds
    nothing, writes its message and waits at the primary key; when the winner commits, the
    loser's insert fails and it answers with the winner's message. (SQLite cannot interleave
    so: its writers queue at BEGIN IMMEDIATE, and the concurrent test covers it.)"""
    raw, winner_id = b"Item,Qty\nST-3,2\n", new_id()
    result: list[Accepted] = []
    with pg_hub.db.session() as session:
        pg_hub.store.add_message(session, raw, format="csv", doctype="cycle_count", sender=sender, channel="test",
                                 message_id=winner_id)
        take(session, ClientKey.for_body(sender, "race", raw), winner_id, utcnow())
        session.flush()
        me = session.scalar(text("SELECT pg_backend_pid()"))
        loser = threading.Thread(target=lambda: result.append(Ingest(pg_hub).accept(inbound(sender, raw, "race"))))
        loser.start()
        wait_for(lambda: _blocked_by(pg_hub, me) or not loser.is_alive(), 30, 0.05, "the loser waiting for the winner")
        assert loser.is_alive(), result  # it must not have finished before the winner committed
    loser.join(30)
    assert result and result[0].message_id == winner_id and result[0].replayed
    assert messages_of(pg_hub, sender) == [winner_id]


def _blocked_by(hub: Hub, pid: int) -> bool:
    with hub.db.engine.connect() as conn:
        return bool(conn.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))"),
                                {"pid": pid}))


def test_an_expired_key_is_free_again_and_its_row_replaced(hub: Hub, sender: str) -> None:
    ingest = Ingest(hub)
    first = ingest.accept(inbound(sender, b"Item,Qty\nST-1,4\n", "order-1"))
    _age(hub, sender)
    again = ingest.accept(inbound(sender, b"Item,Qty\nST-1,5\n", "order-1"))  # another body: no conflict now
    assert again.message_id != first.message_id and not again.replayed
    with hub.db.session() as s:
        (row,) = s.scalars(select(IngestKey).where(IngestKey.scope == sender))
    assert row.message_id == again.message_id and row.expires_at > utcnow() + timedelta(days=6)


def test_expired_rows_are_purged_a_bounded_batch_at_a_time(hub: Hub, sender: str) -> None:
    ingest = Ingest(hub)
    stale = ingest.accept_many([inbound(sender, f"row {n}\n".encode(), f"old-{n}") for n in range(PURGE_BATCH + 20)])
    _age(hub, sender)
    ingest.accept(inbound(sender, b"new\n", "new"))
    assert _keys(hub, sender) == 20 + 1  # one batch purged, the new key kept
    ingest.accept(inbound(sender, b"newer\n", "newer"))
    assert _keys(hub, sender) == 2
    assert len(messages_of(hub, sender)) == len(stale) + 2  # keys are forgotten, never messages


def _age(hub: Hub, scope: str) -> None:
    """Move every key of ``scope`` past its time, as if the ttl had run out."""
    with hub.db.session() as s:
        s.execute(update(IngestKey).where(IngestKey.scope == scope).values(expires_at=utcnow() - timedelta(seconds=1)))


def _keys(hub: Hub, scope: str) -> int:
    with hub.db.session() as s:
        return s.scalar(select(func.count()).select_from(IngestKey).where(IngestKey.scope == scope))


def test_a_batch_is_stored_as_one_message_through_the_session_would_be(hub: Hub, sender: str) -> None:
    """Ingest writes a batch's messages, stages and outbox rows as one statement per table
    (hub.store.insert_rows): the values are the inbounds', a large one goes to a blob, and a
    keyed item amid unkeyed ones is written before its key, so its twin later in the batch gets
    it back."""
    big = b"x" * (hub.settings.inline_max_bytes + 1)
    raws = [b"Item,Qty\nST-1,1\n", b"Item,Qty\nST-2,2\n", big, b"Item,Qty\nST-2,2\n"]
    items = [Inbound(raw=raw, format="csv", doctype="cycle_count", sender=sender, channel="test", filename=f"f{n}.csv",
                     headers={"n": n}, correlation_id="corr-2" if n == 2 else None) for n, raw in enumerate(raws)]
    for keyed in (1, 3):
        items[keyed].client_key = ClientKey.for_body(sender, "k-1", raws[keyed])
    answers = Ingest(hub).accept_many(items)
    assert [a.replayed for a in answers] == [False, False, False, True]
    assert answers[3].message_id == answers[1].message_id
    with hub.db.read() as s:
        for n in range(3):
            msg, raw = s.get(Message, answers[n].message_id), raws[n]
            sha = hashlib.sha256(raw).hexdigest()
            assert (msg.format, msg.doctype, msg.sender, msg.channel, msg.filename, msg.headers, msg.size,
                    msg.sha256) == ("csv", "cycle_count", sender, "test", f"f{n}.csv", {"n": n}, len(raw), sha)
            assert msg.correlation_id == ("corr-2" if n == 2 else msg.id)
            assert (msg.raw is None, bool(msg.blob)) == ((True, True) if n == 2 else (False, False))
            assert hub.store.raw(msg) == raw
            assert msg.status != "received"  # published: its status moved on (routing or unrouted)
            stages = s.execute(select(Stage.stage, Stage.detail).where(Stage.message_id == msg.id)
                               .order_by(Stage.id)).all()
            assert [name for name, _ in stages][:2] == ["received", "published"]
            assert stages[0].detail == {"channel": "test", "size": len(raw), "sha256": sha}
            assert stages[1].detail == {"routing_key": answers[n].routing_key}
            entry = s.scalars(select(OutboxEntry).where(OutboxEntry.message_id == msg.id)).one()
            assert (entry.purpose, entry.attempts, entry.published_at is not None) == ("ingress", 0, True)
            assert entry.routing_key == answers[n].routing_key
        key = s.scalars(select(IngestKey.message_id).where(IngestKey.scope == sender, IngestKey.key == "k-1")).one()
        assert key == answers[1].message_id
    assert sorted(messages_of(hub, sender)) == sorted(a.message_id for a in answers[:3])
