"""Chaos suite: the hub's delivery guarantees measured from outside, under injected faults.

    .venv/bin/python benchmarks/chaos.py [--scenario NAME ...] [--docs N] [--quick] [--json]
    .venv/bin/python benchmarks/chaos.py --list

Not part of ``make test``. Everything it needs it starts itself under a temp dir, on ports of
its own, and tears down again (also on Ctrl-C or failure; ``--keep`` keeps the dir and logs):

- RabbitMQ: a private node ``chaos1@localhost`` (AMQP 5681, dist 25681), and for
  ``cluster-leader`` a private three-node cluster ``chaosc1..3`` (5691-5693, dist 25691-25693;
  the hub gets the failover list ``amqp://…:5691//;amqp://…:5692//;amqp://…:5693//``);
- PostgreSQL 15: a private cluster on 5433 (initdb as postgres), one database per scenario;
- a recording HTTP endpoint in its own process (``benchmarks/chaoskit/endpoint.py``);
- the hub as real processes: ``python -m hub worker`` (prefork, 2 processes), ``hub filedrop``,
  ``hub api`` with a partner API key, on a route ``JSON inventory adjustment → validate →
  recorder`` that runs on the hub's default error policy. ``HUB_STUCK_AFTER`` is 60 s (the
  hub's default is 300 s) so the sweeper acts within a scenario's drain deadline;
  ``--hub-env KEY=VALUE`` changes any hub setting.

Each scenario gets a fresh database, namespace, data dir and endpoint log, sends ``--docs``
documents (half through the file drop, half through the API, by business key; the *-kill
scenarios use only the channel they kill) while its fault runs, then waits until every
accepted document is delivered or parked, or ``--drain-timeout`` passes.

The columns (one row per scenario; ``--json`` adds the details):

- sent: documents the hub accepted: a 202 from the API, or a file renamed into the drop
  folder (API documents whose client gave up without a 202 are *not accepted*, shown apart);
- delivered: distinct documents the endpoint answered 200 at least once;
- POSTs: every request the endpoint received (503 and 500 answers included; a refused
  connection never reaches it: the hub's own attempt count is in the details);
- dup same key: 200-answered repeats of a document with an Idempotency-Key it already had
  (harmless for an endpoint that honours the key);
- dup diff keys: extra distinct Idempotency-Keys under which one document was accepted (an
  endpoint applies it twice: the real duplicates);
- lost: accepted documents neither delivered nor parked at the end (where each one was last
  seen is in the details: drop folder, processing/, store, outbox, delivery status);
- parked: non-poison documents with a parked dead letter in the hub's store (``hub dlq
  list``, run once at the end so broker-side dead letters are reconciled): parked by an outage;
- poison parked: poison documents parked / poison documents sent (expected: all);
- out of order: pairs of versions of one business key that the endpoint accepted newest first;
- drain s: seconds from the moment both the sending and the fault had ended until every
  accepted document was delivered or parked ("timeout" if the deadline passed first; polled
  every second).

Goal for every row: 0 lost, 0 dup diff keys, 0 parked (poison parked = all of them).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.chaoskit.clients import Sender, make_docs
from benchmarks.chaoskit.endpoint import EndpointClient
from benchmarks.chaoskit.hubproc import HubProcesses
from benchmarks.chaoskit.measure import Row, Store, account, delivered_refs
from benchmarks.chaoskit.postgres import PgCluster
from benchmarks.chaoskit.procs import terminate, wait_until
from benchmarks.chaoskit.rabbit import RabbitCluster, RabbitNode, make_home
from benchmarks.chaoskit.scenarios import SCENARIOS, Ctx, Scenario

DEFAULT_ORDER = ["worker-children", "worker-main", "rabbit-kill", "rabbit-stop-app", "pg-restart", "pg-down",
                 "endpoint-503", "filedrop-kill", "api-kill", "poison", "routes-reload", "cluster-leader", "endpoint-down"]
PG_PORT = 5433
NODE_PORTS = (5681, 25681)
CLUSTER_PORTS = ([5691, 5692, 5693], [25691, 25692, 25693])


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_busy(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def code_version() -> dict[str, Any]:
    """The commit measured, and the hub files other people had changed but not committed."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False).stdout
    dirty = [line[3:] for line in git("status", "--porcelain", "--", "hub", "connectors", "edi").splitlines()]
    return {"commit": git("rev-parse", "--short", "HEAD").strip(), "uncommitted": dirty}


def export_rev(rev: str, root: Path) -> Path:
    """``git archive`` of one revision into the temp dir: the hub runs from there, so a commit
    can be measured while the working tree is being edited (the repository is not touched)."""
    dest = root / f"hub-src-{rev.replace('/', '_')}"
    dest.mkdir()
    archive = subprocess.run(["git", "archive", "--format=tar", rev], cwd=ROOT, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest


def amqp_consuming(urls: list[str]):
    """A probe: do the given queues have a consumer? Asked of the first node that answers."""
    import pika

    def check(queues: list[str]) -> bool:
        for url in urls:
            try:
                vhost_url = url[:-1] + "%2F" if url.endswith("//") else url  # pika spells vhost / as %2F
                conn = pika.BlockingConnection(pika.URLParameters(vhost_url + "?connection_attempts=1&socket_timeout=3"))
            except Exception:  # noqa: BLE001, S112 - this node is down: ask the next
                continue
            try:
                ch = conn.channel()
                return all(ch.queue_declare(q, passive=True).method.consumer_count > 0 for q in queues)
            except Exception:  # noqa: BLE001 - not declared yet
                return False
            finally:
                if conn.is_open:
                    conn.close()
        return False
    return check


class Infra:
    """The harness's own services, started on first use and torn down at the end."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = make_home(root)
        self.pg = PgCluster(root / "pg", PG_PORT)
        self.node: RabbitNode | None = None
        self.cluster: RabbitCluster | None = None
        self.hub: HubProcesses | None = None
        self.endpoint_proc: subprocess.Popen | None = None
        self.api_port = free_port()
        self.hub_src = ROOT

    def check_ports(self, scenarios: list[Scenario]) -> None:
        wanted = [PG_PORT]
        if any(not s.cluster for s in scenarios):
            wanted += list(NODE_PORTS)
        if any(s.cluster for s in scenarios):
            wanted += CLUSTER_PORTS[0] + CLUSTER_PORTS[1]
        busy = [p for p in wanted if port_busy(p)]
        if busy:
            raise SystemExit(f"ports in use (another chaos run?): {busy}")

    def postgres(self) -> PgCluster:
        if not self.pg.data.exists():
            self.pg.create()
        if not self.pg.ready():
            self.pg.start()
        return self.pg

    def rabbit(self) -> RabbitNode:
        if self.node is None:
            self.node = RabbitNode("chaos1", *NODE_PORTS, self.root / "rabbit", self.home)
        if not self.node.running:
            say("starting RabbitMQ chaos1@localhost")
            self.node.start()
        return self.node

    def rabbit_cluster(self) -> RabbitCluster:
        if self.cluster is None:
            self.cluster = RabbitCluster.create(self.root / "rabbit", self.home, ["chaosc1", "chaosc2", "chaosc3"],
                                                *CLUSTER_PORTS)
            say("starting the three-node RabbitMQ cluster chaosc1..3")
            self.cluster.start()
        for node in self.cluster.nodes:
            if not node.running:
                node.start()
        return self.cluster

    def start_endpoint(self, work: Path) -> EndpointClient:
        port, control = free_port(), free_port()
        log = work / "endpoint.jsonl"
        self.endpoint_proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.chaoskit.endpoint", "--port", str(port), "--control-port", str(control),
             "--log", str(log)], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, start_new_session=True,
            stdout=open(work / "endpoint.out", "wb"), stderr=subprocess.STDOUT)  # noqa: SIM115
        client = EndpointClient(port, control, log)
        wait_until(client.alive, 30, 0.1, "the recording endpoint")
        return client

    def stop_scenario(self) -> None:
        if self.hub is not None:
            self.hub.stop_all()
            self.hub = None
        if self.endpoint_proc is not None:
            terminate(self.endpoint_proc, grace=5)
            self.endpoint_proc = None

    def teardown(self, keep: bool) -> None:
        self.stop_scenario()
        if self.node is not None and self.node.running:
            self.node.kill9()  # thrown away with its directory
        if self.cluster is not None:
            self.cluster.stop()
        if keep:
            self.pg.stop("fast")
            return
        self.pg.destroy()
        shutil.rmtree(self.root, ignore_errors=True)


# -- one scenario -----------------------------------------------------------------------------------

def run_fault(scenario: Scenario, ctx: Ctx) -> None:
    try:
        if scenario.fault is not None:
            scenario.fault(ctx)
    except Exception as exc:  # noqa: BLE001 - a broken fault is reported in the row, not fatal
        ctx.notes.append(f"FAULT INJECTION FAILED: {type(exc).__name__}: {exc}")
        ctx.event(f"fault failed: {exc}")
    finally:
        ctx.fault_end = ctx.fault_end or time.time()


def wait_drain(docs, endpoint: EndpointClient, store: Store, since: float, timeout: float) -> float | None:
    """Seconds after ``since`` until every accepted document is delivered or parked; None at the deadline."""
    parked: set[str] = set()
    last_report = time.time()
    while True:
        accepted = {d.ref for d in docs if d.accepted_at is not None}
        delivered = delivered_refs(endpoint.records())
        try:
            parked = store.parked_refs()
        except Exception:  # noqa: BLE001, S110 - the database may be the thing that is down
            pass
        missing = accepted - delivered - parked
        now = time.time()
        if not missing:
            return max(0.0, now - since)
        if now > since + timeout:
            return None
        if now - last_report > 30:
            say(f"  draining: {len(accepted) - len(missing)}/{len(accepted)} delivered or parked "
                f"({now - since:.0f}s of {timeout:.0f}s)")
            last_report = now
        time.sleep(1)


def queue_depth(broker, queues: list[str]) -> int | None:
    node = broker.any_running() if isinstance(broker, RabbitCluster) else broker
    try:
        rows = node.queues("name", "messages")
    except Exception:  # noqa: BLE001
        return None
    return sum(r["messages"] for r in rows if r["name"] in queues)


def wait_quiet(endpoint: EndpointClient, broker, queues: list[str], limit: float = 60) -> None:
    """Late duplicates arrive after the last first delivery: wait until the endpoint has been
    silent for 5 s and the work queues hold nothing (ready or unacked), at most ``limit`` s."""
    deadline = time.time() + limit
    seen, since = len(endpoint.records()), time.time()
    while time.time() < deadline:
        time.sleep(1)
        now_seen = len(endpoint.records())
        if now_seen != seen:
            seen, since = now_seen, time.time()
            continue
        if time.time() - since >= 5 and queue_depth(broker, queues) == 0:
            return


def run_scenario(infra: Infra, sc: Scenario, args: argparse.Namespace) -> Row:
    tag = f"{sc.name.replace('-', '_')}_{secrets.token_hex(2)}"
    work = infra.root / sc.name
    work.mkdir(parents=True, exist_ok=True)
    pg = infra.postgres()
    broker = infra.rabbit_cluster() if sc.cluster else infra.rabbit()
    urls = [n.url for n in broker.nodes] if sc.cluster else [broker.url]
    endpoint = infra.start_endpoint(work)
    hub_env = {"HUB_STUCK_AFTER": "60", **dict(kv.split("=", 1) for kv in args.hub_env)}
    hub = infra.hub = HubProcesses(work, pg.create_database(tag), broker.url, f"chaos-{tag}", endpoint.url,
                                   infra.api_port, extra_env=hub_env, src=infra.hub_src, ordered=args.ordered)
    consuming = amqp_consuming(urls)
    hub.prepare()
    hub.start_all(consuming)
    docs = make_docs(args.docs, sc.channels, sc.poison)
    send_s = sc.send_s if not args.quick else max(12.0, sc.send_s / 2)
    sender = Sender(docs, hub.inbox, f"http://127.0.0.1:{infra.api_port}", hub.api_key, seconds=send_s,
                    give_up=args.give_up)
    ctx = Ctx(hub, broker, pg, endpoint, consuming, args.quick)
    say(f"[{sc.name}] {sc.what}: {len(docs)} documents over {send_s:.0f}s (work dir {work})")
    ctx.t0 = time.time()
    fault = threading.Thread(target=run_fault, args=(sc, ctx), name=f"fault-{sc.name}", daemon=True)
    fault.start()
    sender.run()
    ctx.sent.set()
    fault.join()
    since = max(sender.finished, ctx.fault_end or 0.0)
    ctx.event("sending and fault over; draining")
    store = Store(hub.database_url)
    drain = wait_drain(docs, endpoint, store, since, args.drain_timeout)
    ctx.event(f"drained in {drain:.1f}s" if drain is not None else "drain deadline passed")
    wait_quiet(endpoint, broker, hub.work_queues)
    dlq = hub.cli("dlq", "list", check=False, timeout=120)  # reconciles broker-side dead letters into the store
    row = account(sc.name, docs, endpoint.records(), store.snapshot(), hub.inbox, drain)
    store.dispose()
    row.events, row.notes = ctx.events, ctx.notes + process_notes(hub, dlq, docs)
    infra.stop_scenario()
    return row


def process_notes(hub: HubProcesses, dlq: subprocess.CompletedProcess, docs) -> list[str]:
    notes = []
    for role, proc in hub.procs.items():
        if proc.poll() is not None:
            notes.append(f"{role} had exited by itself (code {proc.returncode}); log tail: "
                         f"{hub.log_tail(role, 600)!r}")
    if dlq.returncode != 0:
        notes.append(f"hub dlq list failed ({dlq.returncode}): {dlq.stderr.strip()[-300:]}")
    api = [d for d in docs if d.channel == "api"]
    if api:
        statuses: dict[str, int] = {}
        for d in api:
            for s in d.statuses:
                statuses[s] = statuses.get(s, 0) + 1
        twice = sum(len(set(d.message_ids)) > 1 for d in api)
        notes.append(f"API attempts by answer: {dict(sorted(statuses.items()))}; documents given two message ids "
                     f"by 202s: {twice}")
    return notes


# -- output -----------------------------------------------------------------------------------------

COLUMNS = [("scenario", "scenario"), ("sent", "sent"), ("delivered", "delivered"), ("posts", "POSTs"),
           ("dup_same_key", "dup same key"), ("dup_diff_keys", "dup diff keys"), ("lost", "lost"),
           ("parked", "parked"), ("poison_parked", "poison parked"), ("out_of_order", "out of order"),
           ("drain_s", "drain s")]


def cell(row: Row, key: str) -> str:
    value = getattr(row, key)
    if key == "drain_s":
        return "timeout" if value is None else f"{value:.0f}"
    if key == "sent" and row.not_accepted:
        return f"{value} (+{row.not_accepted} not accepted)"
    return str(value)


def markdown(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(h for _, h in COLUMNS) + " |", "|" + "|".join(" --- " for _ in COLUMNS) + "|"]
    lines += ["| " + " | ".join(cell(r, k) for k, _ in COLUMNS) + " |" for r in rows]
    return "\n".join(lines)


def details(rows: list[Row]) -> str:
    out = []
    for r in rows:
        out.append(f"{r.scenario}: hub delivery attempts {r.hub_attempts}; stored twice {r.stored_twice}; "
                   f"lost where {r.lost_where or '-'}; parked reasons {r.parked_reasons or '-'}; "
                   f"out of the order received {r.out_of_receipt_order}"
                   + (f"; poison parked as {r.poison_reasons}" if r.poison_reasons else ""))
        out += [f"    {n}" for n in r.notes]
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", action="append", choices=sorted(SCENARIOS), help="repeatable; default all")
    ap.add_argument("--docs", type=int, default=300, help="documents per scenario (default 300)")
    ap.add_argument("--quick", action="store_true", help="short outages and send windows, for a smoke run")
    ap.add_argument("--json", action="store_true", help="print JSON (rows with details and diaries) instead")
    ap.add_argument("--out", type=Path, help="also write the JSON to this file")
    ap.add_argument("--drain-timeout", type=float, default=300.0, help="seconds to wait for the drain (300)")
    ap.add_argument("--give-up", type=float, default=240.0, help="API clients give a document up after (240 s)")
    ap.add_argument("--hub-env", action="append", default=[], metavar="KEY=VALUE", help="extra hub settings")
    ap.add_argument("--hub-rev", metavar="REV", help="run the hub from `git archive REV` instead of the working "
                    "tree (e.g. HEAD while others edit the tree); the harness itself runs from the tree")
    ap.add_argument("--ordered", action="store_true", help="the recording endpoint asks for ordered_by: document_key "
                    "(each key's versions delivered in the order received)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (logs, endpoint logs, PG data)")
    ap.add_argument("--list", action="store_true", help="list the scenarios and exit")
    args = ap.parse_args()
    if args.list:
        for name in DEFAULT_ORDER:
            print(f"{name:<16} {SCENARIOS[name].what}")
        return 0
    names = args.scenario or DEFAULT_ORDER
    root = Path(tempfile.mkdtemp(prefix="hub-chaos-"))
    root.chmod(0o755)  # the postgres user must reach its data dir below
    infra = Infra(root)
    infra.check_ports([SCENARIOS[n] for n in names])
    version = code_version()
    if args.hub_rev:
        infra.hub_src = export_rev(args.hub_rev, root)
        version = {"commit": subprocess.run(["git", "rev-parse", "--short", args.hub_rev], cwd=ROOT, text=True,
                                            capture_output=True, check=False).stdout.strip(), "uncommitted": [], "rev": args.hub_rev}
    say(f"chaos suite: {names}, {args.docs} docs each{' (quick)' if args.quick else ''}; hub at {version['commit']}"
        f"{' + uncommitted ' + ', '.join(version['uncommitted']) if version['uncommitted'] else ''}; dir {root}")

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    rows: list[Row] = []
    failed: list[str] = []
    try:
        for name in names:
            started = time.time()
            try:
                rows.append(run_scenario(infra, SCENARIOS[name], args))
                say(markdown(rows[-1:]).splitlines()[-1] + f"   ({time.time() - started:.0f}s)")
            except (Exception, TimeoutError) as exc:  # noqa: BLE001 - one broken scenario must not hide the others
                failed.append(f"{name}: {type(exc).__name__}: {exc}")
                say(f"[{name}] HARNESS ERROR: {type(exc).__name__}: {exc}")
                if infra.hub is not None:
                    say(f"  worker log tail: {infra.hub.log_tail('worker', 1500)}")
                infra.stop_scenario()
    except KeyboardInterrupt:
        say("interrupted: tearing down")
    finally:
        infra.teardown(args.keep)
        if args.keep:
            say(f"kept {root}")
    result = json.dumps({"version": version, "docs": args.docs, "quick": args.quick, "failed": failed,
                         "hub_env": args.hub_env, "rows": [r.as_dict() for r in rows]}, indent=2, default=str)
    if args.out:
        args.out.write_text(result)
    if args.json:
        print(result)
    else:
        print(markdown(rows))
        print()
        print(details(rows))
        for f in failed:
            print(f"not measured: {f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
