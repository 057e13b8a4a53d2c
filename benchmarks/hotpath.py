"""Per-stage cost of the hub's hot path, in one process, on the real RabbitMQ, PostgreSQL and
the ERP stub (in its own process): what one document costs in each stage of a route batch.

    .venv/bin/python benchmarks/hotpath.py [-n 2000] [--batch 50]

The documents and route are the e2e benchmark's (benchmarks/e2e.py: JSON → parse + validate →
HTTP endpoint). Each stage's functions are wrapped here to add up their CPU time
(time.process_time: on a shared machine wall time of the same code varies by tens of percent,
CPU time by a few) and wall time; a route batch is run with hub.processing.run_routes exactly as
the worker's pool process runs it, without the broker hop (which benchmarks/e2e.py measures).

Stages: ingest (store + outbox + publish + mark published, per document), load (the batch's
messages read), steps (the route's steps and rendering), commit (the batch's rows in one
transaction), send (the HTTP calls), settle (the outcomes written, statuses derived).
"""

from __future__ import annotations

import argparse
import functools
import gc
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from benchmarks.e2e import AMQP, PG, ROUTE, adjustment, erp_stub_process  # noqa: E402
from hub.db import normalise_url  # noqa: E402

COST: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])  # stage → [cpu s, wall s]


def timed(stage: str, fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        c0, w0 = time.process_time(), time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            COST[stage][0] += time.process_time() - c0
            COST[stage][1] += time.perf_counter() - w0
    return wrapper


def count_gc() -> None:
    """Time spent in the cyclic garbage collector, as a stage of its own (it runs inside
    whichever stage allocates when a generation fills up)."""
    started: list[tuple[float, float]] = []

    def callback(phase: str, info: dict) -> None:
        if phase == "start":
            started.append((time.process_time(), time.perf_counter()))
        elif started:
            c0, w0 = started.pop()
            COST["gc (inside the above)"][0] += time.process_time() - c0
            COST["gc (inside the above)"][1] += time.perf_counter() - w0

    gc.callbacks.append(callback)


def instrument() -> None:
    """Wrap each stage's functions where run_routes looks them up (module globals)."""
    import hub.delivery.deliver as deliver
    import hub.processing as processing

    processing._load = timed("load", processing._load)
    processing._run_one = timed("steps", processing._run_one)
    processing._commit = timed("commit", processing._commit)
    # The calls may run in threads (HUB_SEND_CONCURRENCY): "send" is the whole of send_claimed
    # (its thread's CPU and the others', process_time counts them all) less the settle inside it.
    processing.send_claimed = timed("send+settle", processing.send_claimed)
    deliver.write = timed("settle", deliver.write)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=2000, help="documents")
    ap.add_argument("--batch", type=int, default=100, help="messages per route batch (HUB_BATCH_SIZE, default 100)")
    ap.add_argument("--freeze", action="store_true", help="gc.freeze() after start-up, as the worker does")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hub-hotpath-"))
    ns, schema = f"hot{secrets.token_hex(3)}", f"hot_{secrets.token_hex(4)}"
    admin = create_engine(normalise_url(PG), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    stub = erp_stub_process(work / "port")
    (work / "routes").mkdir()
    (work / "routes" / "bench.yaml").write_text(ROUTE)
    os.environ.update({k: v for k, v in {
        "HUB_BROKER_URL": AMQP, "HUB_DATABASE_URL": f"{PG}?options={quote(f'-csearch_path={schema}')}",
        "HUB_NAMESPACE": ns, "HUB_ROUTES_DIR": str(work / "routes"), "HUB_DATA_DIR": str(work / "data"),
        "BENCH_ERP_URL": f"http://127.0.0.1:{(work / 'port').read_text()}/erp"}.items()})
    from hub.config import get_settings

    get_settings.cache_clear()
    from hub.app import Hub
    from hub.ingest import Inbound, Ingest
    from hub.processing import RouteWork, run_routes

    hub = Hub()
    hub.setup()
    try:
        if args.freeze:
            gc.freeze()  # what `hub worker` does before its pool forks (hub.worker)
        count_gc()
        instrument()
        ingest = Ingest(hub)
        ingest.accept_many = timed("ingest", ingest.accept_many)
        ids: list[str] = []
        for start in range(0, args.n, args.batch):
            items = [Inbound(raw=adjustment(i), format="json", doctype="adjustment", sender="bench", channel="bench")
                     for i in range(start, min(start + args.batch, args.n))]
            ids += [a.message_id for a in ingest.accept_many(items)]
        run = timed("total (route batch)", run_routes)
        for start in range(0, len(ids), args.batch):
            run(hub, "bench", [RouteWork(m) for m in ids[start:start + args.batch]])
        from sqlalchemy import func, select

        from hub.store import Delivery
        with hub.db.read() as s:
            delivered = s.scalar(select(func.count()).select_from(Delivery).where(Delivery.status == "delivered"))
        assert delivered == args.n, f"{delivered} of {args.n} delivered"
        COST["send"] = [a - b for a, b in zip(COST["send+settle"], COST["settle"], strict=True)]
        print(f"n={args.n} batch={args.batch}: per document, CPU ms (wall ms) of this process")
        for stage in ("ingest", "load", "steps", "commit", "send", "settle", "total (route batch)",
                      "gc (inside the above)"):
            cpu, wall = COST[stage]
            print(f"  {stage:<20} {cpu * 1000 / args.n:7.3f} ({wall * 1000 / args.n:7.3f})")
    finally:
        hub.db.dispose()
        with hub.connection() as conn:
            hub.topology.delete(conn.default_channel)
        with admin.connect() as c:
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        stub.terminate()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
