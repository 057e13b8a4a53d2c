"""End-to-end fixtures: a hub on the real RabbitMQ and PostgreSQL (or the embedded default),
a real worker process, an ERP stub on 127.0.0.1 and a warehouse folder."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pika
import pytest

from hub.app import Hub
from hub.config import Settings
from hub.ingest import Inbound, Ingest
from hub.stubs import ErpStub
from hub.store import DeadLetter, Delivery, DeliveryAttempt, Message, Stage
from tests.conftest import AMQP_URL, ROOT, free_port, fresh_schema

TEST_ROUTES = """
routes:
  - name: crashy
    description: a route whose transform kills the worker process on POISON
    from: {format: text, doctype: crash}
    steps:
      - transform: test.crash_on_poison
      - parse: text
    to: [crash-folder]

  - name: counts-resolved
    description: cycle counts resolved against master data before delivery
    from: {format: csv, doctype: cycle_count_xref}
    steps:
      - parse:
          csv:
            columns:
              facility:    {column: Facility}
              location:    {column: Location}
              item:        {column: Item}
              counted_qty: {column: Counted Qty, type: decimal}
              uom:         {column: UOM}
      - transform: inventory.cycle_count_to_adjustments
      - split: body
      - crosswalk: hold
      - uom_convert: hold
      - validate: InventoryAdjustment
    to: [erp-inventory]

  - name: broken
    description: a route whose transform fails unexpectedly every time
    from: {format: text, doctype: broken}
    steps:
      - test_broken: {}
    to: [crash-folder]
    on_error:
      retries: 2
      backoff: {initial: 0.2s, max: 0.5s, multiplier: 2, jitter: 0.1}

  - name: po-updates
    description: PO changes for an ERP that must apply them in order per PO number
    from: {format: json, doctype: po_update}
    steps:
      - parse: json
    to: [erp-ordered]
    on_error:
      retries: 2
      backoff: {initial: 0.2s, max: 0.5s, multiplier: 2, jitter: 0.1}
      dead_letter: {notify: [notices]}

  - name: batched
    description: documents for endpoints that take them in batches
    from: {format: json, doctype: batch_note}
    steps:
      - parse: json
      - split: body
    to: [erp-batch, batch-folder]
    on_error:
      retries: 2
      backoff: {initial: 0.2s, max: 0.5s, multiplier: 2, jitter: 0.1}

endpoints:
  erp-batch:
    http:
      url: ${ERP_INVENTORY_URL}/batch
    batch: {max_documents: 4}

  batch-folder:
    file:
      path: ${WAREHOUSE_DIR}/batches
    batch: {max_documents: 10, items: keyed, filename: "notes-{count}-{batch_id}.{ext}"}

  crash-folder:
    file:
      path: ${WAREHOUSE_DIR}/crash
      format: raw

  erp-ordered:
    http:
      url: ${ERP_INVENTORY_URL}/orders
      format: json
    ordered_by: document_key

  notices:
    file:
      path: ${WAREHOUSE_DIR}/notices
"""

FAST_RETRY = "    on_error:\n      retries: 5\n      backoff: {initial: 0.2s, max: 0.5s, multiplier: 2, jitter: 0.1}\n"


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@dataclass
class HubEnv:
    root: Path
    env: dict[str, str]
    hub: Hub
    stub: ErpStub
    warehouse: Path
    procs: list[subprocess.Popen] = field(default_factory=list)

    # -- processes -------------------------------------------------------------------------

    def spawn(self, *args: str, log: str = "worker") -> subprocess.Popen:
        out = open(self.root / f"{log}-{len(self.procs)}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen([sys.executable, "-m", "hub", *args], cwd=ROOT, env=self.env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        return proc

    def start_worker(self, *extra: str) -> subprocess.Popen:
        proc = self.spawn("worker", "--concurrency", "2", "--loglevel", "INFO", *extra)
        if self.hub.settings.is_amqp:
            queues = [q.name for q in self.hub.topology.work_queues()]
            wait_for(lambda: all(consumers(q) > 0 for q in queues), 60, 0.2, "worker consuming every queue")
        return proc

    def kill(self, proc: subprocess.Popen) -> None:
        """SIGKILL the whole process group: a prefork worker and its children, mid-work."""
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(30)

    def stop(self, proc: subprocess.Popen) -> None:
        """Warm shutdown: SIGTERM to the main process only (signalling the pool children too can
        leave the parent waiting on a lock a dying child held); SIGKILL if it takes too long."""
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            self.kill(proc)

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-4000:] for p in sorted(self.root.glob("*.log")))

    def hub_cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        res = subprocess.run([sys.executable, "-m", "hub", *args], cwd=ROOT, env=self.env, capture_output=True,
                             text=True, timeout=120)
        if check and res.returncode != 0:
            raise AssertionError(f"hub {' '.join(args)} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
        return res

    def hub_cli_bytes(self, *args: str) -> bytes:
        """A hub command's standard output as bytes (``hub messages show --raw``)."""
        res = subprocess.run([sys.executable, "-m", "hub", *args], cwd=ROOT, env=self.env, capture_output=True,
                             timeout=120)
        if res.returncode != 0:
            raise AssertionError(f"hub {' '.join(args)} failed ({res.returncode}):\n{res.stderr.decode()}")
        return res.stdout

    # -- messages --------------------------------------------------------------------------

    def push(self, raw: bytes, fmt: str = "csv", doctype: str = "cycle_count", sender: str = "legacy-stock",
             filename: str = "test.csv") -> str:
        return Ingest(self.hub).accept(Inbound(raw=raw, format=fmt, doctype=doctype, sender=sender, channel="test",
                                               filename=filename)).message_id

    def message(self, message_id: str) -> Message:
        with self.hub.db.session() as s:
            return s.get(Message, message_id)

    def stages(self, message_id: str) -> list[Stage]:
        with self.hub.db.session() as s:
            return list(s.query(Stage).filter(Stage.message_id == message_id).order_by(Stage.at, Stage.id))

    def deliveries(self, message_id: str) -> list[Delivery]:
        with self.hub.db.session() as s:
            return list(s.query(Delivery).filter(Delivery.message_id == message_id).order_by(Delivery.endpoint, Delivery.seq))

    def attempts(self, delivery_id: str) -> list[DeliveryAttempt]:
        with self.hub.db.session() as s:
            return list(s.query(DeliveryAttempt).filter(DeliveryAttempt.delivery_id == delivery_id)
                        .order_by(DeliveryAttempt.attempt))

    def dead_letters(self, message_id: str) -> list[DeadLetter]:
        with self.hub.db.session() as s:
            return list(s.query(DeadLetter).filter(DeadLetter.message_id == message_id))

    def wait_delivered(self, message_id: str, count: int, timeout: float = 30) -> list[Delivery]:
        try:
            return wait_for(lambda: (ds := self.deliveries(message_id)) and len(ds) == count
                            and all(d.status == "delivered" for d in ds) and ds, timeout, what=f"{count} deliveries")
        except AssertionError as exc:
            states = [(d.endpoint, d.status, d.attempts) for d in self.deliveries(message_id)]
            stages = [(s.stage, s.route, s.endpoint, s.error) for s in self.stages(message_id)]
            raise AssertionError(f"{exc}\ndeliveries: {states}\nstages: {stages}\nlogs:\n{self.logs()}") from None

    def wait_status(self, message_id: str, status: str, timeout: float = 30) -> Message:
        return wait_for(lambda: (m := self.message(message_id)) is not None and m.status == status and m,
                        timeout, what=f"message status {status}")


def consumers(queue: str) -> int:
    conn = pika.BlockingConnection(pika_params())
    try:
        ch = conn.channel()
        return ch.queue_declare(queue, passive=True).method.consumer_count
    except pika.exceptions.ChannelClosedByBroker:
        return 0
    finally:
        if conn.is_open:
            conn.close()


def pika_params() -> pika.URLParameters:
    url = AMQP_URL[:-1] + "%2F" if AMQP_URL.endswith("//") else AMQP_URL
    return pika.URLParameters(url)


def make_env(tmp_path: Path, *, database_url: str, broker_url: str | None, namespace: str,
             stub: ErpStub, delivery_limit: int = 3) -> HubEnv:
    routes = tmp_path / "routes"
    shutil.copytree(ROOT / "routes", routes)
    text = (routes / "cycle-counts.yaml").read_text()
    text = text.replace("    on_error:\n      retries: 5\n      backoff: {initial: 2s, max: 5m, multiplier: 2, jitter: 0.2}\n",
                        FAST_RETRY)
    assert FAST_RETRY in text, "the example route's error policy changed; update the test fixture"
    (routes / "cycle-counts.yaml").write_text(text)
    (routes / "test-routes.yaml").write_text(TEST_ROUTES)
    warehouse = tmp_path / "warehouse"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update({
        "HUB_DATA_DIR": str(tmp_path / "data"), "HUB_DATABASE_URL": database_url, "HUB_NAMESPACE": namespace,
        "HUB_ROUTES_DIR": str(routes), "HUB_DELIVERY_LIMIT": str(delivery_limit), "HUB_RELAY_INTERVAL": "0.5",
        "HUB_RELAY_GRACE": "1", "HUB_STUCK_AFTER": "10", "HUB_PLUGINS": "tests.plugins.crashy", "HUB_INBOX_POLL_INTERVAL": "0.2",
        "HUB_INBOX_STABLE_SECONDS": "0.3", "PYTHONPATH": str(ROOT),
        "ERP_INVENTORY_URL": f"{stub.url}/inventory/adjustments", "WAREHOUSE_DIR": str(warehouse),
        "HUB_OPERATOR": "test-operator",
        # Each `hub run` serves its console on a port of its own: tests run side by side (xdist).
        "HUB_API_PORT": str(free_port()),
    })
    if broker_url:
        env["HUB_BROKER_URL"] = broker_url
    # The in-process hub reads the same variables the subprocesses get.
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        from hub.config import get_settings

        get_settings.cache_clear()
        import tests.plugins.crashy  # noqa: F401 - registers its transform in this process
        hub = Hub(Settings())
        hub.setup()
    finally:
        os.environ.clear()
        os.environ.update(saved)
        get_settings.cache_clear()
    return HubEnv(tmp_path, env, hub, stub, warehouse)


@pytest.fixture
def erp_stub() -> Iterator[ErpStub]:
    stub = ErpStub().start()
    yield stub
    stub.stop()


@pytest.fixture
def amqp_hub(tmp_path: Path, namespace: str, erp_stub: ErpStub) -> Iterator[HubEnv]:
    # A schema of its own: the sweeper and the scheduler act on whatever the store holds, so an
    # earlier test's unfinished work would be sent to this test's endpoints.
    with fresh_schema() as database_url:
        env = make_env(tmp_path, database_url=database_url, broker_url=AMQP_URL, namespace=namespace,
                       stub=erp_stub)
        yield env
        _teardown(env)
        _delete_namespace(env)


@pytest.fixture
def embedded_hub(tmp_path: Path, namespace: str, erp_stub: ErpStub) -> Iterator[HubEnv]:
    env = make_env(tmp_path, database_url=f"sqlite:///{tmp_path / 'data' / 'hub.sqlite3'}", broker_url=None,
                   namespace=namespace, stub=erp_stub)
    yield env
    _teardown(env)


def _teardown(env: HubEnv) -> None:
    for proc in env.procs:
        if proc.poll() is None:
            env.stop(proc)
    env.hub.db.dispose()


def _delete_namespace(env: HubEnv) -> None:
    with env.hub.connection() as conn:
        env.hub.topology.delete(conn.default_channel)
    _delete_reloaded_queues(env)


def _delete_reloaded_queues(env: HubEnv) -> None:
    """Queues of routes and endpoints a reload added or removed during the test: the topology
    deleted above is the folder's, and a queue left behind stays on the shared broker."""
    from hub.reload.generations import recent

    try:
        generations = recent(env.hub.db, limit=1000)
    except Exception:  # noqa: BLE001 - no generations table (a test that never started a process)
        return
    topology = env.hub.topology
    names = {(kind, name) for g in generations for plural, kind in (("routes", "route"), ("endpoints", "endpoint"))
             for how in ("added", "removed") for name in (g.changes.get(plural) or {}).get(how, ())}
    queues = [topology.queue_name(k, n) for k, n in names] + [topology.dlq_name(k, n) for k, n in names]
    conn = pika.BlockingConnection(pika_params())
    try:
        for queue in queues:
            channel = conn.channel()
            try:
                channel.queue_delete(queue)
            except pika.exceptions.ChannelClosedByBroker:
                pass
    finally:
        if conn.is_open:
            conn.close()
