"""How fast the console's message search answers over a large store, on PostgreSQL.

Fills a scratch schema (``bench_console_<random>``, dropped at the end unless ``--keep``) with
``--rows`` messages (default 1,000,000) through the hub's own migrations, then COPY: each message
with a route run, one delivery with a document key, one or two business references (PO numbers
shared by about three messages each, ASN numbers), statuses mostly delivered, 200 partners of
very different sizes, file names, 90 days of receipt times; parked dead letters for the dead-
lettered ones. Then it times the searches the console runs (``hub.console.search.search``: the
page of 50 rows with its summaries, and the capped count) for every filter the page offers, each
five times after a warm-up, and prints the median and the slowest in milliseconds.

    .venv/bin/python benchmarks/console_search.py                 # 1,000,000 messages
    .venv/bin/python benchmarks/console_search.py --rows 100000 --keep
    .venv/bin/python benchmarks/console_search.py --schema bench_console_ab12cd34   # reuse a kept one

Needs PostgreSQL (``HUB_TEST_DATABASE_URL``, default the test database on 127.0.0.1). Filling a
million messages takes a few minutes on 2 cores; the searches take seconds.
"""

from __future__ import annotations

import argparse
import bisect
import hashlib
import os
import secrets
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text  # noqa: E402

from hub.console.search import cursor, search  # noqa: E402
from hub.db import Database, normalise_url  # noqa: E402
from hub.operations.messages import MessageFilter  # noqa: E402

PG_URL = os.environ.get("HUB_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
ROUTES = ["cycle-counts", "supplier-x12", "supplier-edifact", "xml-orders", "partner-exchange", "recalls"]
ROUTE_WEIGHTS = [40, 30, 20, 6, 3.9, 0.1]  # "recalls" is rare: a search that must not scan everything
STATUSES = ["delivered"] * 90 + ["dead_lettered"] * 3 + ["held"] * 2 + ["refused"] * 2 + ["partially_delivered"] * 2 + [
    "delivering"]
START = datetime(2026, 9, 1, tzinfo=UTC)
SPAN = timedelta(days=90)


def schema_url(schema: str) -> str:
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options={quote(f'-csearch_path={schema}')}"


class Row:
    """Everything about message ``i``, derived from ``i`` alone, so each table's COPY (one at a
    time on a connection) can walk the messages again and agree with the others."""

    def __init__(self, i: int, rows: int) -> None:
        h = int.from_bytes(hashlib.blake2b(i.to_bytes(8, "little"), digest_size=8).digest(), "little")
        self.id = f"{i:08x}-0000-7000-8000-{h & 0xFFFFFFFFFFFF:012x}"
        self.at = START + SPAN * (i / rows)
        self.sender = _weighted(PARTNERS, PARTNER_CUM, (h >> 8) % 10_000 / 10_000)
        self.route = _weighted(ROUTES, ROUTE_CUM, (h >> 24) % 10_000 / 10_000)
        self.status = STATUSES[(h >> 40) % len(STATUSES)]


def _cumulative(weights: list[float]) -> list[float]:
    total, out = sum(weights), []
    for w in weights:
        out.append((out[-1] if out else 0.0) + w / total)
    return out


def _weighted(items: list[str], cum: list[float], x: float) -> str:
    return items[min(bisect.bisect_right(cum, x), len(items) - 1)]


PARTNERS = [f"P-{n:04d}" for n in range(200)]
PARTNER_CUM = _cumulative([1 / (n + 1) for n in range(200)])  # a few big partners, many small ones
ROUTE_CUM = _cumulative(ROUTE_WEIGHTS)


def _copy(db: Database, statement: str, rows) -> None:
    conn = db.engine.raw_connection()
    try:
        with conn.cursor() as cur, cur.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
        conn.commit()
    finally:
        conn.close()


def fill(db: Database, rows: int) -> None:
    raw = b"Facility,Location,Item,Counted Qty\nHOSP1,A03,ST-1,4\n"
    started = time.perf_counter()
    every = [Row(i, rows) for i in range(rows)]
    _copy(db, "COPY messages (id, received_at, format, doctype, sender, receiver, channel, filename, headers, "
              "correlation_id, sha256, size, raw, blob, status) FROM STDIN",
          ((r.id, r.at, "csv", "cycle_count", r.sender, None, "filedrop", f"counts-{r.at:%Y-%m-%d}-{i}.csv", "{}",
            r.id, hashlib.sha256(r.id.encode()).hexdigest(), len(raw), raw, None, r.status)
           for i, r in enumerate(every)))
    print(f"  messages: {time.perf_counter() - started:.0f}s", flush=True)
    _copy(db, "COPY route_runs (message_id, route, status, outputs, finished_at, documents, held, refused) FROM STDIN",
          ((r.id, r.route, "done", 1, r.at + timedelta(seconds=1), 1, 0, 0) for r in every))
    _copy(db, "COPY deliveries (id, message_id, route, endpoint, seq, document_type, document_key, payload, "
              "content_type, headers, idempotency_key, status, attempts, created_at, delivered_at, failures, "
              "outages, lost) FROM STDIN",
          ((f"d{r.id[1:]}", r.id, r.route, "erp-inventory", 0, "ship_notice", f"ASN-{i:08d}", b"{}",
            "application/json", "{}", r.id, "delivered", 1, r.at, r.at, 0, 0, 0) for i, r in enumerate(every)))
    _copy(db, "COPY document_refs (message_id, route, document_type, document_key, ref_field, ref_value, status, "
              "created_at) FROM STDIN", _refs(every))
    _copy(db, "COPY dead_letters (id, message_id, route, queue, reason, error, task_name, task_args, created_at, "
              "state) FROM STDIN",
          ((f"l{r.id[1:]}", r.id, "cycle-counts", "hub.dlq.route.cycle-counts", "bad_csv", "line 2",
            "hub.route.cycle-counts", f'["{r.id}"]', r.at, "parked") for r in every if r.status == "dead_lettered"))
    print(f"  route runs, deliveries, references, dead letters: {time.perf_counter() - started:.0f}s", flush=True)
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        for table in ("messages", "route_runs", "deliveries", "document_refs", "dead_letters"):
            c.execute(text(f"VACUUM ANALYZE {table}"))
    print(f"  vacuum analyze: {time.perf_counter() - started:.0f}s", flush=True)


def _refs(every: list[Row]):
    """Each message's ASN number; every other one also names a PO, each PO in about three messages."""
    for i, r in enumerate(every):
        asn = f"ASN-{i:08d}"
        yield (r.id, r.route, "ship_notice", asn, "document_key", asn, "emitted", r.at)
        if i % 2 == 0:
            yield (r.id, r.route, "ship_notice", asn, "po_number", f"45{i // 6:08d}", "emitted", r.at)


def scenarios(hub, rows: int) -> list[tuple[str, MessageFilter, dict]]:
    mid_day = START + SPAN / 2
    first = search(hub, MessageFilter(limit=50))
    deep = search(hub, MessageFilter(limit=50, until=mid_day))  # a cursor half-way through the store
    return [
        ("newest 50, no filter", MessageFilter(), {}),
        ("next page (keyset)", MessageFilter(), {"before": first.older}),
        ("a page half-way back", MessageFilter(), {"before": cursor(deep.rows[0]) if deep.rows else None}),
        ("status dead_lettered", MessageFilter(status="dead_lettered"), {}),
        ("big partner P-0000", MessageFilter(partner="P-0000"), {}),
        ("small partner P-0199", MessageFilter(partner="P-0199"), {}),
        ("business key (PO number)", MessageFilter(key=f"45{rows // 12:08d}"), {}),
        ("business key not found", MessageFilter(key="NO-SUCH-PO"), {}),
        ("file name, exact", MessageFilter(file=f"counts-{mid_day:%Y-%m-%d}-{rows // 2}.csv"), {}),
        ("file name glob, one day", MessageFilter(file=f"counts-{mid_day:%Y-%m-%d}-*"), {}),
        ("route, common", MessageFilter(route="cycle-counts"), {}),
        ("route, rare", MessageFilter(route="recalls"), {}),
        ("time range, one day", MessageFilter(since=mid_day, until=mid_day + timedelta(days=1)), {}),
        ("partner + one week", MessageFilter(partner="P-0003", since=mid_day, until=mid_day + timedelta(days=7)), {}),
        ("status + route", MessageFilter(status="held", route="supplier-x12"), {}),
    ]


def measure(hub, rows: int, repeat: int) -> list[tuple[str, float, float, int, bool]]:
    out = []
    for name, f, kw in scenarios(hub, rows):
        f.limit = 50
        search(hub, f, **kw)  # warm-up
        times, page = [], None
        for _ in range(repeat):
            t = time.perf_counter()
            page = search(hub, f, **kw)
            times.append((time.perf_counter() - t) * 1000)
        out.append((name, statistics.median(times), max(times), page.total if page else 0, page.capped if page else 0))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="Keep the scratch schema (its name is printed)")
    parser.add_argument("--schema", help="Reuse a kept schema instead of filling a new one")
    args = parser.parse_args()
    schema = args.schema or f"bench_console_{secrets.token_hex(4)}"
    admin = create_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
    db = Database(schema_url(schema))
    try:
        if not args.schema:
            with admin.connect() as c:
                c.execute(text(f'CREATE SCHEMA "{schema}"'))
            db.create_schema()
            print(f"filling {schema} with {args.rows:,} messages", flush=True)
            fill(db, args.rows)
        with db.engine.connect() as c:
            rows = c.execute(text("SELECT count(*) FROM messages")).scalar()
        hub = SimpleNamespace(db=db)
        results = measure(hub, rows, args.repeat)
        print(f"\nconsole search over {rows:,} messages on PostgreSQL (page of 50 + capped count), ms:")
        print(f"  {'search':<30} {'median':>8} {'slowest':>8}  matches")
        for name, median, slowest, total, capped in results:
            print(f"  {name:<30} {median:>8.1f} {slowest:>8.1f}  {'>' if capped else ''}{total:,}")
        worst = max(r[2] for r in results)
        print(f"\nslowest of all: {worst:.1f} ms")
    finally:
        db.dispose()
        if not args.keep and not args.schema:
            with admin.connect() as c:
                c.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        elif not args.schema:
            print(f"kept schema {schema}")
        admin.dispose()


if __name__ == "__main__":
    main()
