"""End-to-end benchmark: documents through the real broker, against references measured in the
same run.

    .venv/bin/python benchmarks/e2e.py [-n 5000] [--concurrency 2] [--pools prefork,solo,threads]

Measured, in this order:
1. raw RabbitMQ: N persistent messages published to a quorum queue with a confirm window,
   then consumed with manual acks (the floor any AMQP system stands on);
2. an empty Celery task: N prefilled tasks drained by a worker with the hub's settings (late
   acks, reject on worker lost, same prefetch and concurrency), and again with one message in
   flight (concurrency 1, prefetch 1) — per pool in --pools. The second figure is where a
   late-ack stall shows (each delivery waits for the previous ack);
3. the hub, drained: N prefilled documents (JSON → route with parse + validate → HTTP endpoint)
   processed by `hub worker`: route batches that commit their documents together and send their
   deliveries inline (hub.batches, hub.processing.run_routes);
4. the hub, live: N documents ingested while the worker runs, for ingest→delivered lag.

Rates are documents (or messages/tasks) per second; the hub is reported as a ratio to the
empty-task rate. Needs RabbitMQ and PostgreSQL (HUB_TEST_BROKER_URL / HUB_TEST_DATABASE_URL).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pika  # noqa: E402
from kombu import Connection, Consumer, Exchange, Queue  # noqa: E402
from sqlalchemy import create_engine, func, select, text  # noqa: E402

import hub.broker  # noqa: E402,F401
from hub.broker.publisher import OutMessage, Publisher  # noqa: E402
from hub.config import Settings  # noqa: E402
from hub.db import normalise_url  # noqa: E402

DEFAULTS = Settings.model_construct()  # the hub's defaults, not this environment's HUB_* settings

AMQP = os.environ.get("HUB_TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
PG = os.environ.get("HUB_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")

ROUTE = """
routes:
  - name: bench
    description: JSON purchase-order-like document → validate → ERP
    from: {format: json, doctype: adjustment}
    steps:
      - parse: json
      - validate: InventoryAdjustment
    to: [erp]
    on_error: {retries: 3, backoff: {initial: 0.5s}}
endpoints:
  erp:
    http: {url: "${BENCH_ERP_URL}", timeout: 10s}
"""

EMPTY_TASK_APP = """
from celery import Celery
from kombu import Exchange, Queue
app = Celery("bench", broker={broker!r})
app.conf.update(task_acks_late=True, task_reject_on_worker_lost=True, worker_prefetch_multiplier={prefetch},
                task_ignore_result=True, worker_hijack_root_logger=False, broker_connection_retry_on_startup=True,
                task_queues=[Queue({queue!r}, Exchange({queue!r}, "direct", durable=True), routing_key={queue!r},
                                   durable=True, queue_arguments={{"x-queue-type": "quorum"}})])

@app.task(name="bench.empty")
def empty():
    pass
"""


def pika_params() -> pika.URLParameters:
    return pika.URLParameters(AMQP[:-1] + "%2F" if AMQP.endswith("//") else AMQP)


def ready(queue: str) -> int:
    conn = pika.BlockingConnection(pika_params())
    try:
        return conn.channel().queue_declare(queue, passive=True).method.message_count
    finally:
        conn.close()


def consumers(queue: str) -> int:
    conn = pika.BlockingConnection(pika_params())
    try:
        return conn.channel().queue_declare(queue, passive=True).method.consumer_count
    finally:
        conn.close()


def stop(proc: subprocess.Popen) -> None:
    """Warm shutdown, then kill: a worker holding prefetched messages may take long to stop."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


TICK = os.sysconf("SC_CLK_TCK")


def _proc_cpu() -> dict[int, tuple[int, str, float]]:
    """pid → (parent pid, command, CPU seconds so far) for every process /proc shows."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        out[int(entry)] = (int(fields[1]), name, (int(fields[11]) + int(fields[12])) / TICK)
    return out


def cpu_by_role(worker_pids: list[int], stub_pid: int) -> dict[str, float]:
    """CPU seconds used so far by the hub's worker main processes, their pool processes, the ERP
    stub, and every PostgreSQL and RabbitMQ process on the machine (those two are shared with
    whatever else runs here)."""
    procs = _proc_cpu()
    roles = {"worker main": 0.0, "worker pool": 0.0, "ERP stub": 0.0, "PostgreSQL*": 0.0, "RabbitMQ*": 0.0}
    for pid, (ppid, name, cpu) in procs.items():
        if pid in worker_pids:
            roles["worker main"] += cpu
        elif ppid in worker_pids:
            roles["worker pool"] += cpu
        elif pid == stub_pid:
            roles["ERP stub"] += cpu
        elif name.startswith("postgres"):
            roles["PostgreSQL*"] += cpu
        elif name.startswith("beam") or name in ("erl_child_setup", "epmd"):
            roles["RabbitMQ*"] += cpu
    return roles


def wait(predicate, timeout: float, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    raise TimeoutError("benchmark step timed out")


# -- 1. raw RabbitMQ -----------------------------------------------------------------------------

def bench_raw(n: int, ns: str) -> dict:
    q = Queue(f"{ns}.raw", Exchange(f"{ns}.raw", "direct", durable=True), routing_key="k", durable=True,
              queue_arguments={"x-queue-type": "quorum"})
    with Connection(AMQP) as conn:
        q.bind(conn.default_channel).declare()
    pub = Publisher(AMQP, window=256)
    body = json.dumps({"n": 0, "pad": "x" * 400}).encode()
    t0 = time.perf_counter()
    outcomes = pub.publish_many([OutMessage(f"{ns}.raw", "k", body) for _ in range(n)])
    t1 = time.perf_counter()
    assert all(o.value == "confirmed" for o in outcomes)
    pub.close()
    got = 0
    with Connection(AMQP) as conn:
        ch = conn.channel()
        ch.basic_qos(0, 256, False)

        def on(body, message):
            nonlocal got
            got += 1
            message.ack()

        with Consumer(ch, [q], callbacks=[on], accept=["json", "application/json"]):
            t2 = time.perf_counter()
            while got < n:
                conn.drain_events(timeout=10)
            t3 = time.perf_counter()
        q.bind(ch).delete()
    return {"publish_per_s": n / (t1 - t0), "consume_per_s": n / (t3 - t2), "both_per_s": n / (t1 - t0 + t3 - t2)}


# -- 2. empty Celery task ------------------------------------------------------------------------

def bench_empty_task(n: int, ns: str, pool: str, concurrency: int, prefetch: int, work: Path) -> dict:
    queue = f"{ns}.empty.{pool}"
    module = work / f"bench_empty_{pool}.py"
    module.write_text(EMPTY_TASK_APP.format(broker=AMQP, prefetch=prefetch, queue=queue))
    sys.path.insert(0, str(work))
    from celery import Celery

    app = Celery("bench-pub", broker=AMQP, set_as_current=False)
    q = Queue(queue, Exchange(queue, "direct", durable=True), routing_key=queue, durable=True,
              queue_arguments={"x-queue-type": "quorum"})
    with Connection(AMQP) as conn:
        q.bind(conn.default_channel).declare()
    from hub.celery_app import task_message

    pub = Publisher(AMQP, window=256)
    msgs = [task_message(app, "bench.empty", [], task_id=secrets.token_hex(8), exchange=queue, routing_key=queue)
            for _ in range(n)]
    assert all(o.value == "confirmed" for o in pub.publish_many(msgs))
    pub.close()
    proc = subprocess.Popen([sys.executable, "-m", "celery", "-A", module.stem, "worker", "-Q", queue, "-P", pool,
                             "-c", str(concurrency), "--loglevel", "WARNING", "--without-mingle", "--without-gossip"],
                            cwd=work, env={**os.environ, "PYTHONPATH": str(work)},
                            stdout=open(work / f"empty-{pool}.log", "wb"), stderr=subprocess.STDOUT)  # noqa: SIM115
    try:
        wait(lambda: consumers(queue) > 0, 60, 0.05)
        t0 = time.perf_counter()
        try:
            wait(lambda: ready(queue) == 0, max(60.0, n / 20))
            elapsed = time.perf_counter() - t0
            rate = n / elapsed
        except TimeoutError:
            left = ready(queue)
            elapsed = time.perf_counter() - t0
            rate = (n - left) / elapsed
    finally:
        stop(proc)
        with Connection(AMQP) as conn:
            q.bind(conn.default_channel).delete()
    return {"pool": pool, "tasks_per_s": rate, "seconds": elapsed}


# -- 3/4. the hub --------------------------------------------------------------------------------

def adjustment(i: int) -> bytes:
    return json.dumps({
        "document_type": "inventory_adjustment", "adjustment_id": f"bench-{i}", "type": "CYCLE_COUNT",
        "item_ids": [{"scheme": "GTIN", "value": "00614141000012"}], "qty": str(i % 50), "uom": "EA",
        "location_id": "CENTRAL-A03", "reason_code": "CYCLE_COUNT", "occurred_at": "2026-11-20T10:00:00+00:00",
    }).encode()


class HubBench:
    def __init__(self, n: int, ns: str, concurrency: int, prefetch: int, work: Path, erp_url: str, events: bool,
                 embedded: bool = False, batch_size: int = 50, workers: int = 1):
        self.n, self.ns, self.work, self.embedded, self.workers = n, ns, work, embedded, workers
        self.schema = f"bench_{secrets.token_hex(4)}"
        routes = work / "routes"
        routes.mkdir()
        (routes / "bench.yaml").write_text(ROUTE)
        self.admin = create_engine(normalise_url(PG), isolation_level="AUTOCOMMIT")
        servers = {}
        if not embedded:
            with self.admin.connect() as c:
                c.execute(text(f'CREATE SCHEMA "{self.schema}"'))
            servers = {"HUB_BROKER_URL": AMQP,
                       "HUB_DATABASE_URL": f"{PG}?options={quote(f'-csearch_path={self.schema}')}"}
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith("HUB_")}, **servers,
                    "HUB_NAMESPACE": ns, "HUB_ROUTES_DIR": str(routes), "HUB_DATA_DIR": str(work / "data"),
                    "HUB_WORKER_CONCURRENCY": str(concurrency), "HUB_PREFETCH_MULTIPLIER": str(prefetch),
                    "HUB_BATCH_SIZE": str(batch_size), "HUB_TASK_EVENTS": "1" if events else "0", "BENCH_ERP_URL": erp_url, "PYTHONPATH": str(ROOT)}
        os.environ.update(self.env)
        from hub.config import get_settings

        get_settings.cache_clear()
        from hub.app import Hub

        self.hub = Hub()
        self.hub.setup()
        self.procs: list[subprocess.Popen] = []

    def start_worker(self) -> None:
        """``workers`` separate `hub worker` processes (each its own node name and pool)."""
        level = os.environ.get("BENCH_WORKER_LOGLEVEL", "WARNING")
        for i in range(self.workers):
            log = open(self.work / f"worker-{i}.log", "wb")  # noqa: SIM115 - closed with the process
            node = f"{self.ns}-worker{i}@{socket.gethostname()}"  # each its own node name
            self.procs.append(subprocess.Popen([sys.executable, "-m", "hub", "worker", "--hostname", node, "--loglevel",
                                                level], cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT))
        if not self.embedded:  # the embedded transport has no consumer count to watch: see drained()
            queues = [q.name for q in self.hub.topology.work_queues()]
            wait(lambda: all(consumers(q) > 0 for q in queues), 60, 0.05)

    def stop_worker(self) -> None:
        while self.procs:
            stop(self.procs.pop())

    def ingest(self, start: int, count: int, batch: int = 200) -> None:
        from hub.ingest import Inbound, Ingest

        ingest = Ingest(self.hub)
        for i in range(start, start + count, batch):
            items = [Inbound(raw=adjustment(j), format="json", doctype="adjustment", sender="bench", channel="bench")
                     for j in range(i, min(i + batch, start + count))]
            assert all(a.routed for a in ingest.accept_many(items))

    def delivered(self) -> int:
        from hub.store import Delivery

        with self.hub.db.session() as s:
            return s.scalar(select(func.count()).select_from(Delivery).where(Delivery.status == "delivered")) or 0

    def lags(self, since) -> list[float]:
        from hub.store import Delivery, Message

        with self.hub.db.session() as s:
            rows = s.execute(select(Message.received_at, Delivery.delivered_at).join(Delivery, Delivery.message_id == Message.id)
                             .where(Message.received_at >= since, Delivery.status == "delivered")).all()
        return sorted((d - r).total_seconds() * 1000 for r, d in rows)

    def drained(self, stub_pid: int = -1) -> dict:
        """From the moment the workers consume (RabbitMQ: every work queue has its consumer, as
        for the empty task) until the last document is delivered. The embedded transport shows
        no consumers: there the clock starts at the first delivery, and the documents delivered
        by then are not counted."""
        from hub.store import utcnow

        self.ingest(0, self.n)  # prefilled while no worker runs
        self.start_worker()
        pids = [p.pid for p in self.procs]
        before = cpu_by_role(pids, stub_pid)
        since, t0, counted = utcnow(), time.perf_counter(), self.n
        if self.embedded:
            wait(lambda: self.delivered() > 0, 120.0, 0.01)
            before = cpu_by_role(pids, stub_pid)
            since, t0, counted = utcnow(), time.perf_counter(), self.n - self.delivered()
        wait(lambda: self.delivered() >= self.n, max(120.0, self.n / 10), 0.05)
        elapsed = time.perf_counter() - t0
        after = cpu_by_role(pids, stub_pid)
        cpu_ms = {role: (after[role] - before[role]) * 1000 / counted for role in after}
        return {"docs_per_s": counted / elapsed, "seconds": elapsed, "cpu_ms": cpu_ms,
                "first_ms": self.first_delivery_ms(since)}

    def first_delivery_ms(self, since) -> float:
        """How long after the clock started the first document was delivered (a worker's
        start-up: its pool processes build their routes and connections on their first batch)."""
        from hub.store import Delivery

        with self.hub.db.session() as s:
            first = s.scalar(select(func.min(Delivery.delivered_at)).where(Delivery.status == "delivered"))
        return max(0.0, (first - since).total_seconds() * 1000) if first is not None else float("nan")

    def live(self, rate: float) -> dict:
        """Ingest at a steady ``rate`` (documents/s) while the worker runs: the lag then shows
        the time a document spends in the hub, not the length of a backlog."""
        from hub.store import utcnow

        since = utcnow()
        before = self.delivered()
        t0 = time.perf_counter()
        batch = max(1, int(rate / 10))  # ten batches a second
        for i, start in enumerate(range(self.n, 2 * self.n, batch)):
            self.ingest(start, min(batch, 2 * self.n - start), batch=batch)
            pause = t0 + (i + 1) * batch / rate - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
        ingested = time.perf_counter() - t0
        wait(lambda: self.delivered() >= before + self.n, max(120.0, self.n / 10), 0.05)
        elapsed = time.perf_counter() - t0
        lags = self.lags(since)
        return {"docs_per_s": self.n / elapsed, "ingest_per_s": self.n / ingested, "p50_ms": statistics.median(lags),
                "p99_ms": lags[int(len(lags) * 0.99) - 1], "max_ms": lags[-1]}

    def close(self) -> None:
        self.stop_worker()
        self.hub.db.dispose()
        if self.embedded:
            return
        with self.hub.connection() as conn:
            self.hub.topology.delete(conn.default_channel)
        with self.admin.connect() as c:
            c.execute(text(f'DROP SCHEMA "{self.schema}" CASCADE'))


def erp_stub_process(port_file: Path) -> subprocess.Popen:
    """The ERP stub in its own process, so it does not compete with the benchmark for the GIL."""
    code = ("import sys,time; from hub.stubs import ErpStub; s=ErpStub().start(); "
            f"open({str(port_file)!r},'w').write(str(s.port)); time.sleep(1e9)")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    wait(lambda: port_file.exists() and port_file.read_text(), 30, 0.05)
    return proc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=5000, help="documents / messages / tasks per measurement")
    ap.add_argument("--concurrency", type=int, default=2, help="worker processes (this machine has 2 cores)")
    ap.add_argument("--batch-size", type=int, default=DEFAULTS.batch_size,
                    help=f"HUB_BATCH_SIZE for the hub (default {DEFAULTS.batch_size})")
    ap.add_argument("--prefetch", type=int, default=None,
                    help="prefetch multiplier, the hub's and the empty task's (default the hub's: 1.5 × batch size)")
    ap.add_argument("--workers", type=int, default=1, help="`hub worker` processes (each with --concurrency)")
    ap.add_argument("--pools", default="prefork", help="pools for the empty-task reference, e.g. prefork,solo,threads")
    ap.add_argument("--events", action="store_true", help="hub worker sends task events (as with Flower)")
    ap.add_argument("--rate", type=float, default=0.0, help="live ingest rate, docs/s (default 70%% of the drained rate)")
    ap.add_argument("--hub-only", action="store_true", help="skip the references (for profiling the hub)")
    ap.add_argument("--embedded", action="store_true", help="measure the hub on its embedded default (SQLite + "
                    "hubdb://) instead of RabbitMQ + PostgreSQL; implies --hub-only")
    args = ap.parse_args()
    args.prefetch = args.prefetch or DEFAULTS.model_copy(update={"batch_size": args.batch_size}).worker_prefetch
    ns = f"bench{secrets.token_hex(3)}"
    work = Path(tempfile.mkdtemp(prefix="hub-bench-"))
    where = "embedded (SQLite + hubdb://)" if args.embedded else f"broker={AMQP.split('@')[-1]}"
    print(f"n={args.n} workers={args.workers} concurrency={args.concurrency} prefetch={args.prefetch} "
          f"batch={args.batch_size} {where}")
    raw, reference = {"both_per_s": float("nan")}, float("nan")
    if not (args.hub_only or args.embedded):
        raw = bench_raw(args.n, ns)
        print(f"raw RabbitMQ (quorum, persistent, confirm window 256): publish {raw['publish_per_s']:,.0f}/s, "
              f"consume {raw['consume_per_s']:,.0f}/s, publish+consume {raw['both_per_s']:,.0f}/s")
        empties = []
        for pool in args.pools.split(","):
            e = bench_empty_task(args.n, ns, pool, args.concurrency, args.prefetch, work)
            empties.append(e)
            # One message in flight: each next delivery waits for the previous ack, so a late ack
            # that waits for the event loop to wake shows as a collapse of this rate.
            one = bench_empty_task(min(args.n, 1000), ns + "one", pool, 1, 1, work)
            print(f"empty Celery task, {pool:<8} pool, late acks: {e['tasks_per_s']:,.0f} tasks/s "
                  f"(one in flight: {one['tasks_per_s']:,.0f} tasks/s)")
        reference = next((e for e in empties if e["pool"] == "prefork"), empties[0])["tasks_per_s"]
    stub = erp_stub_process(work / "port")
    bench = HubBench(args.n, ns, args.concurrency, args.prefetch, work,
                     f"http://127.0.0.1:{(work / 'port').read_text()}/erp", args.events, args.embedded, args.batch_size,
                     args.workers)
    try:
        d = bench.drained(stub.pid)
        ratios = "" if reference != reference else (  # NaN: references skipped
            f" = {d['docs_per_s'] / reference:.2f}× the empty task, {d['docs_per_s'] / raw['both_per_s']:.3f}× raw AMQP")
        print(f"hub, drained (route batches, deliveries inline, store per batch): {d['docs_per_s']:,.0f} docs/s{ratios}")
        print(f"  first delivery {d['first_ms']:.0f} ms after the clock started; drained in {d['seconds']:.2f} s")
        print("  CPU per document while draining (ms; * = every such process on the machine, shared): " +
              ", ".join(f"{role} {ms:.2f}" for role, ms in d["cpu_ms"].items()))
        rate = args.rate or max(1.0, round(d["docs_per_s"] * 0.7))
        live = bench.live(rate)
        print(f"hub, live (ingest paced at {rate:,.0f} docs/s while processing): {live['docs_per_s']:,.0f} docs/s; "
              f"ingest→delivered lag p50 {live['p50_ms']:.0f} ms, p99 {live['p99_ms']:.0f} ms, max {live['max_ms']:.0f} ms")
        # The ingest runs in this one process, on the cores the worker uses: say how close to the
        # asked pace it kept (the rate above also counts the wait for the last deliveries).
        print(f"  ingest kept {live['ingest_per_s']:,.0f} docs/s of the {rate:,.0f} asked "
              f"({live['ingest_per_s'] / d['docs_per_s']:.0%} of the drained rate)")
    finally:
        bench.close()
        stub.terminate()
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(work, ignore_errors=True)
        else:
            print("kept", work)


if __name__ == "__main__":
    main()
