"""Publishing with confirms, through kombu on every transport.

On RabbitMQ the channel is put in confirm mode and publishes are pipelined with a window of
unconfirmed messages (kombu's own ``confirm_publish`` waits for each confirm in turn: ~10×
slower here). Messages are published ``mandatory``: one that no queue takes (no route
matches) comes back as *returned* instead of vanishing. On the embedded transport a publish
is a committed SQLite insert, so it is confirmed when the call returns.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from kombu import Connection, Producer

log = logging.getLogger(__name__)


class Outcome(str, Enum):
    CONFIRMED = "confirmed"
    RETURNED = "returned"  # routed to no queue
    NACKED = "nacked"
    FAILED = "failed"  # connection lost before the confirm


@dataclass
class OutMessage:
    exchange: str
    routing_key: str
    body: bytes
    headers: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)
    content_type: str = "application/json"
    content_encoding: str = "utf-8"


class Publisher:
    """One broker connection for one thread of one process (kombu connections are not
    thread-safe, and must not cross a fork)."""

    def __init__(self, url: str, *, window: int = 256, timeout: float = 10.0) -> None:
        self.url = url
        self.window = max(1, window)
        self.timeout = timeout
        self._conn: Connection | None = None
        self._channel = None
        self._producer: Producer | None = None
        self._confirm = url.split("://", 1)[0] in {"amqp", "pyamqp", "amqps"}
        self._seq = 0
        self._acked: dict[int, Outcome] = {}
        self._pending: set[int] = set()
        self._returned: set[str] = set()

    # -- connection ------------------------------------------------------------------------

    def _connect(self) -> None:
        self.close()
        conn = Connection(self.url, connect_timeout=self.timeout)
        conn.ensure_connection(max_retries=1)
        channel = conn.channel()
        if self._confirm:
            channel.confirm_select()
            channel.events["basic_ack"].add(self._on_ack)
            channel.events["basic_nack"].add(self._on_nack)
            channel.events["basic_return"].add(self._on_return)
        self._conn, self._channel = conn, channel
        self._producer = Producer(channel)
        self._seq = 0
        self._acked.clear()
        self._pending.clear()

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.release()
            except Exception:  # noqa: BLE001 - closing a broken connection may fail; we drop it
                log.debug("error closing publisher connection", exc_info=True)
        self._conn = self._channel = self._producer = None

    # -- confirm bookkeeping -----------------------------------------------------------------

    def _settle(self, tag: int, multiple: bool, outcome: Outcome) -> None:
        # `multiple` settles every outstanding tag up to this one; outstanding tags are at
        # most one window, so this stays cheap however long the connection lives.
        done = [t for t in self._pending if t <= tag] if multiple else [tag]
        for t in done:
            self._pending.discard(t)
            self._acked[t] = outcome

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        self._settle(delivery_tag, multiple, Outcome.CONFIRMED)

    def _on_nack(self, delivery_tag: int, multiple: bool, requeue: bool = False) -> None:
        self._settle(delivery_tag, multiple, Outcome.NACKED)

    def _on_return(self, exc, exchange, routing_key, message) -> None:
        headers = message.properties.get("application_headers") or {}
        self._returned.add(headers.get("hub_publish_id", ""))

    # -- publishing ------------------------------------------------------------------------

    def publish_many(self, messages: Sequence[OutMessage]) -> list[Outcome]:
        """Publish and wait for every confirm. Never raises for broker trouble: each message
        gets an outcome, and anything not CONFIRMED stays in the outbox for the relay."""
        if not messages:
            return []
        try:
            if self._conn is None or not self._conn.connected:
                self._connect()
            return self._publish_all(messages)
        except Exception as exc:  # noqa: BLE001 - any transport error: report, reconnect next time
            log.warning("publish failed, the outbox relay will retry: %s", exc)
            self.close()
            return [Outcome.FAILED] * len(messages)

    def _publish_all(self, messages: Sequence[OutMessage]) -> list[Outcome]:
        assert self._producer is not None
        tags: list[int] = []
        ids: list[str] = []
        self._returned.clear()
        for i, msg in enumerate(messages):
            publish_id = f"{os.getpid()}-{threading.get_ident()}-{self._seq + 1}"
            headers = dict(msg.headers, hub_publish_id=publish_id)
            if not self._confirm and not self._routable(msg):
                tags.append(-1)
                ids.append(publish_id)
                self._returned.add(publish_id)
                continue
            self._producer.publish(
                msg.body,
                exchange=msg.exchange,
                routing_key=msg.routing_key,
                headers=headers,
                content_type=msg.content_type,
                content_encoding=msg.content_encoding,
                delivery_mode=2,
                mandatory=self._confirm,
                retry=False,
                **msg.properties,
            )
            self._seq += 1
            if self._confirm:
                self._pending.add(self._seq)
            tags.append(self._seq)
            ids.append(publish_id)
            if self._confirm and i + 1 >= self.window:
                self._drain_to(self._seq - self.window + 1)
        if self._confirm:
            self._drain_to(self._seq)
        out = []
        for tag, pid in zip(tags, ids, strict=True):
            if pid in self._returned:
                out.append(Outcome.RETURNED)
            elif not self._confirm:
                out.append(Outcome.CONFIRMED)
            else:
                out.append(self._acked.pop(tag, Outcome.FAILED))
        return out

    def _drain_to(self, tag: int) -> None:
        while tag > 0 and tag not in self._acked:
            self._conn.drain_events(timeout=self.timeout)

    def _routable(self, msg: OutMessage) -> bool:
        """Embedded transport: the same routing lookup a publish would do."""
        if not msg.exchange:
            return True
        return bool(self._channel._lookup(msg.exchange, msg.routing_key))

    def publish(self, message: OutMessage) -> Outcome:
        return self.publish_many([message])[0]


_local = threading.local()


def publisher_for(url: str, window: int = 256) -> Publisher:
    """The publisher of this thread in this process."""
    key = (os.getpid(), url)
    pubs: dict = getattr(_local, "pubs", None) or {}
    _local.pubs = pubs
    pub = pubs.get(key)
    if pub is None:
        pub = pubs[key] = Publisher(url, window=window)
    return pub
