"""``hubdb://`` — the embedded kombu transport: queues in one SQLite file, no server.

Why our own: kombu's filesystem and SQLAlchemy transports remove (or hide for good) a message
when it is fetched, so a crash loses whatever was in flight, and their bindings live in one
process's memory. Here a fetched message is only *reserved* by its consumer process; ack deletes
it, reject-with-requeue or channel close releases it, and reservations of processes that died
are released when any process connects. Exchanges and bindings are stored too, so a publisher
process routes exactly like the worker that declared the topology.

Limits (documented in the README): one machine only (SQLite file locking), polling (latency
≈ ``polling_interval``), no broker-side dead-lettering or delivery limits (the hub dead-letters
explicitly), no priorities, no TTL.

URL: ``hubdb:///absolute/path/broker.sqlite3``.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
import time
from pathlib import Path
from queue import Empty
from typing import Any

from kombu.transport import TRANSPORT_ALIASES, virtual

SCHEMA = """
CREATE TABLE IF NOT EXISTS queues (name TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS exchanges (name TEXT PRIMARY KEY, type TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS bindings (
    exchange TEXT NOT NULL, routing_key TEXT NOT NULL, queue TEXT NOT NULL,
    PRIMARY KEY (exchange, routing_key, queue));
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    payload TEXT NOT NULL,
    reserved_by TEXT,
    reserved_at REAL);
CREATE INDEX IF NOT EXISTS ix_messages_ready ON messages (queue, id) WHERE reserved_by IS NULL;
"""

RECOVER_EVERY = 30.0  # seconds between sweeps for reservations of dead processes


def _process_start(pid: int) -> str | None:
    """Start time of a process (Linux /proc), to tell a live owner from a reused pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def owner_token(pid: int | None = None) -> str:
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}|{pid}|{_process_start(pid) or ''}"


def owner_alive(token: str) -> bool:
    host, pid_s, start = token.split("|")
    if host != socket.gethostname():
        return True  # another machine: we cannot tell, never steal its work
    pid = int(pid_s)
    if start:
        return _process_start(pid) == start
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Store:
    """The SQLite file, one connection per thread (sqlite3 objects must not cross threads)."""

    def __init__(self, path: str) -> None:
        self.path = path
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self.conn.executescript(SCHEMA)  # executescript manages its own transaction

    @property
    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "pid", None) != os.getpid():
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
            self._local.pid = os.getpid()
        return conn

    def tx(self) -> _Tx:
        return _Tx(self.conn)

    def release_dead_reservations(self) -> int:
        with self.tx() as db:
            owners = [r[0] for r in db.execute("SELECT DISTINCT reserved_by FROM messages WHERE reserved_by IS NOT NULL")]
            dead = [o for o in owners if not owner_alive(o)]
            for owner in dead:
                db.execute("UPDATE messages SET reserved_by = NULL, reserved_at = NULL WHERE reserved_by = ?", (owner,))
            return len(dead)


class _Tx:
    """``BEGIN IMMEDIATE`` … ``COMMIT``: takes the write lock up front so claims never race."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> None:
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")


class QoS(virtual.QoS):
    """Acks delete the reserved row; rejects delete it or release it for redelivery."""

    def ack(self, delivery_tag: str) -> None:
        self.channel._finish(delivery_tag, requeue=False)
        super().ack(delivery_tag)

    def reject(self, delivery_tag: str, requeue: bool = False) -> None:
        self.channel._finish(delivery_tag, requeue=requeue)
        self._quick_ack(delivery_tag)


class Channel(virtual.Channel):
    QoS = QoS
    body_encoding = "base64"

    def __init__(self, connection, **kwargs) -> None:
        super().__init__(connection, **kwargs)
        self._rows: dict[str, int] = {}
        self._rows_lock = threading.Lock()

    @property
    def store(self) -> Store:
        return self.connection.store

    # -- topology, persisted so every process routes the same way --------------------------

    def exchange_declare(self, exchange=None, type="direct", durable=False, auto_delete=False,
                         arguments=None, nowait=False, passive=False):
        if passive and exchange not in self.state.exchanges:
            row = self.store.conn.execute("SELECT type FROM exchanges WHERE name = ?", (exchange,)).fetchone()
            if row:
                self._remember_exchange(exchange, row[0])
        super().exchange_declare(exchange, type, durable, auto_delete, arguments, nowait, passive)
        if not passive:
            with self.store.tx() as db:
                db.execute("INSERT OR IGNORE INTO exchanges (name, type) VALUES (?, ?)", (exchange, type or "direct"))

    def _remember_exchange(self, name: str, type_: str) -> None:
        self.state.exchanges.setdefault(
            name, {"type": type_, "durable": True, "auto_delete": False, "arguments": {}, "table": []}
        )

    def queue_bind(self, queue, exchange=None, routing_key="", arguments=None, **kwargs):
        with self.store.tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO bindings (exchange, routing_key, queue) VALUES (?, ?, ?)",
                (exchange or "amq.direct", routing_key, queue),
            )

    def queue_unbind(self, queue, exchange=None, routing_key="", arguments=None, **kwargs):
        with self.store.tx() as db:
            db.execute(
                "DELETE FROM bindings WHERE exchange = ? AND routing_key = ? AND queue = ?",
                (exchange, routing_key, queue),
            )

    def typeof(self, exchange, default="direct"):
        if exchange and exchange not in self.state.exchanges:
            row = self.store.conn.execute("SELECT type FROM exchanges WHERE name = ?", (exchange,)).fetchone()
            if row:
                self._remember_exchange(exchange, row[0])
        return super().typeof(exchange, default)

    def get_table(self, exchange):
        rows = self.store.conn.execute(
            "SELECT routing_key, queue FROM bindings WHERE exchange = ?", (exchange,)
        ).fetchall()
        kind = self.typeof(exchange)
        return [kind.prepare_bind(queue, exchange, rkey, None) for rkey, queue in rows]

    def list_bindings(self):
        return self.store.conn.execute("SELECT queue, exchange, routing_key FROM bindings").fetchall()

    # -- queues ----------------------------------------------------------------------------

    def _new_queue(self, queue, **kwargs) -> None:
        with self.store.tx() as db:
            db.execute("INSERT OR IGNORE INTO queues (name) VALUES (?)", (queue,))

    def _has_queue(self, queue, **kwargs) -> bool:
        return self.store.conn.execute("SELECT 1 FROM queues WHERE name = ?", (queue,)).fetchone() is not None

    def _put(self, queue, message, **kwargs) -> None:
        with self.store.tx() as db:
            db.execute("INSERT INTO messages (queue, payload) VALUES (?, ?)", (queue, json.dumps(message)))

    def _get(self, queue, timeout=None) -> dict[str, Any]:
        with self.store.tx() as db:
            row = db.execute(
                "UPDATE messages SET reserved_by = ?, reserved_at = ? WHERE id = ("
                " SELECT id FROM messages WHERE queue = ? AND reserved_by IS NULL ORDER BY id LIMIT 1)"
                " RETURNING id, payload",
                (self.connection.owner, time.time(), queue),
            ).fetchone()
        if row is None:
            raise Empty()
        row_id, payload = row
        message = json.loads(payload)
        info = message["properties"].setdefault("delivery_info", {})
        info["queue"] = queue  # lets the hub's dispatcher know which route queue this came from
        with self._rows_lock:
            self._rows[message["properties"]["delivery_tag"]] = row_id
        return message

    def _size(self, queue) -> int:
        row = self.store.conn.execute(
            "SELECT count(*) FROM messages WHERE queue = ? AND reserved_by IS NULL", (queue,)
        ).fetchone()
        return int(row[0])

    def _purge(self, queue) -> int:
        with self.store.tx() as db:
            return db.execute("DELETE FROM messages WHERE queue = ? AND reserved_by IS NULL", (queue,)).rowcount

    def _delete(self, queue, *args, **kwargs) -> None:
        with self.store.tx() as db:
            db.execute("DELETE FROM messages WHERE queue = ?", (queue,))
            db.execute("DELETE FROM bindings WHERE queue = ?", (queue,))
            db.execute("DELETE FROM queues WHERE name = ?", (queue,))

    def queue_delete(self, queue, if_unused=False, if_empty=False, **kwargs):
        if if_empty and self._size(queue):
            return
        self._delete(queue)

    # -- acknowledgement -------------------------------------------------------------------

    def _finish(self, delivery_tag: str, requeue: bool) -> None:
        with self._rows_lock:
            row_id = self._rows.pop(delivery_tag, None)
        if row_id is None:
            return
        with self.store.tx() as db:
            if requeue:
                db.execute("UPDATE messages SET reserved_by = NULL, reserved_at = NULL WHERE id = ?", (row_id,))
            else:
                db.execute("DELETE FROM messages WHERE id = ?", (row_id,))

    def _restore(self, message) -> None:
        # Unacked at channel close: release the row in its own queue. (kombu's default would
        # re-route the message through the exchange, duplicating it into every bound queue.)
        self._finish(message.delivery_tag, requeue=True)

    def basic_recover(self, requeue=False):
        return self.qos.restore_unacked()


class Transport(virtual.Transport):
    Channel = Channel
    polling_interval = 0.05
    driver_type = "sqlite"
    driver_name = "sqlite3"
    implements = virtual.Transport.implements.extend(exchange_type=frozenset(["direct", "topic", "fanout"]))

    def __init__(self, client, **kwargs) -> None:
        super().__init__(client, **kwargs)
        vhost = client.virtual_host or ""
        path = client.transport_options.get("path") or ("/" + vhost.lstrip("/"))
        if not vhost and "path" not in client.transport_options:
            raise ValueError("hubdb:// needs an absolute path: hubdb:///var/lib/hub/broker.sqlite3")
        self.path = path
        self._store: Store | None = None
        self._store_pid = -1
        self._last_recover = 0.0

    @property
    def store(self) -> Store:
        if self._store is None or self._store_pid != os.getpid():
            self._store = Store(self.path)
            self._store_pid = os.getpid()
        return self._store

    @property
    def owner(self) -> str:
        return owner_token()

    def establish_connection(self):
        self.store.release_dead_reservations()
        self._last_recover = time.monotonic()
        return super().establish_connection()

    def drain_events(self, connection, timeout=None):
        if time.monotonic() - self._last_recover > RECOVER_EVERY:
            self._last_recover = time.monotonic()
            self.store.release_dead_reservations()
        return super().drain_events(connection, timeout=timeout)

    @property
    def default_connection_params(self):
        return {"hostname": "localhost", "port": None}


def register() -> None:
    TRANSPORT_ALIASES.setdefault("hubdb", "hub.broker.embedded:Transport")
