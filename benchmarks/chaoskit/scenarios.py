"""The faults. Each scenario sends its documents over ``send_s`` seconds while its fault runs
in a thread beside the sender; the fault function returns once the fault is over (the
killed process restarted, the database or broker back, the endpoint answering again)."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from benchmarks.chaoskit.procs import kill_pid, wait_until


@dataclass
class Ctx:
    """What a fault may touch, and its diary."""

    hub: Any  # HubProcesses
    broker: Any  # RabbitNode or RabbitCluster
    pg: Any  # PgCluster
    endpoint: Any  # EndpointClient
    consuming: Callable[[list[str]], bool]
    quick: bool
    t0: float = 0.0
    fault_end: float | None = None
    events: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    sent: threading.Event = field(default_factory=threading.Event)  # set once the sender is done
    rng: random.Random = field(default_factory=lambda: random.Random(11))

    def event(self, text: str) -> None:
        self.events.append(f"t+{time.time() - self.t0:6.1f}s {text}")

    def sleep_until(self, offset: float) -> None:
        pause = self.t0 + offset - time.time()
        if pause > 0:
            self.stop.wait(pause)

    def scaled(self, full: float, quick: float) -> float:
        return quick if self.quick else full


@dataclass
class Scenario:
    name: str
    what: str
    fault: Callable[[Ctx], None] | None
    send_s: float = 40.0
    channels: str = "mixed"
    poison: int = 0
    cluster: bool = False


# -- hub processes ---------------------------------------------------------------------------------

def kill_pool_children(count: int, window: float) -> Callable[[Ctx], None]:
    def fault(ctx: Ctx) -> None:
        n = count if not ctx.quick else max(3, count // 3)
        gap = window / n
        killed = 0
        for i in range(n):
            ctx.sleep_until(2 + i * gap)
            kids = ctx.hub.pool_children()
            if not kids:
                ctx.event("no pool child to kill")
                continue
            victim = ctx.rng.choice(kids)
            killed += kill_pid(victim)
            ctx.event(f"kill -9 pool child {victim}")
        ctx.notes.append(f"{killed} pool children killed")
    return fault


def kill_worker_main(count: int) -> Callable[[Ctx], None]:
    def fault(ctx: Ctx) -> None:
        n = count if not ctx.quick else max(2, count // 4)
        orphans = []
        ctx.sleep_until(2)
        for _ in range(n):
            time.sleep(ctx.rng.uniform(2.0, 4.0))  # let it take some work first
            orphans.append(ctx.hub.kill9_main("worker"))
            ctx.event(f"kill -9 worker main; {orphans[-1]} pool children still alive 2 s later (then killed)")
            started = time.time()
            ctx.hub.start_worker()
            ctx.hub.wait_worker(ctx.consuming)
            ctx.event(f"worker restarted, consuming after {time.time() - started:.1f}s")
        ctx.notes.append(f"worker main killed {n}×; pool children surviving their parent: {sum(orphans)}")
    return fault


def kill_service(role: str, count: int, window: float) -> Callable[[Ctx], None]:
    def fault(ctx: Ctx) -> None:
        n = count if not ctx.quick else max(3, count // 3)
        gap = window / n
        for i in range(n):
            ctx.sleep_until(2 + i * gap + ctx.rng.uniform(0, gap / 2))
            ctx.hub.kill9(role)
            ctx.event(f"kill -9 {role}")
            ctx.hub.start_filedrop() if role == "filedrop" else ctx.hub.start_api()
        ctx.notes.append(f"{role} killed {n}×")
    return fault


# -- configuration ---------------------------------------------------------------------------------

EXTRA_ROUTES = """
routes:
  - name: chaos-extra
    description: a route added and removed by reloads while the chaos documents flow
    from: {format: json, doctype: chaos_extra}
    steps:
      - parse: json
    to: [recorder-extra]

endpoints:
  recorder-extra:
    http: {url: "${CHAOS_ENDPOINT_URL}/extra", timeout: 10s}

channels:
  chaos-extra-files:
    filedrop: {pattern: "*.json", format: json, doctype: chaos_extra, sender: chaos-files}
"""


def route_reloads(at_least: int) -> Callable[[Ctx], None]:
    """``hub routes reload`` one after another for as long as the documents are being sent (and
    ``at_least`` times), each waiting until the worker, file drop and API run the new
    generation: a route, endpoint and channel added and removed (new queues consumed, removed
    ones drained), the flow's own route and endpoint changed (each batch on one generation; the
    endpoint's sender made again)."""
    def fault(ctx: Ctx) -> None:
        routes = ctx.hub.routes
        original = (routes / "chaos.yaml").read_text()
        edits = [
            ("add route, endpoint, channel chaos-extra", lambda: (routes / "chaos-extra.yaml").write_text(EXTRA_ROUTES)),
            ("change the chaos endpoint (timeout)", lambda: (routes / "chaos.yaml").write_text(
                original.replace("timeout: 10s", "timeout: 12s"))),
            ("remove chaos-extra", lambda: (routes / "chaos-extra.yaml").unlink()),
            ("change the chaos route (error policy)", lambda: (routes / "chaos.yaml").write_text(
                original.replace("timeout: 10s", "timeout: 12s").replace(
                    "    to: [recorder]\n", "    to: [recorder]\n    on_error: {retries: 9}\n"))),
            ("add chaos-extra again", lambda: (routes / "chaos-extra.yaml").write_text(EXTRA_ROUTES)),
            ("chaos route and endpoint back as they were, chaos-extra removed",
             lambda: ((routes / "chaos.yaml").write_text(original), (routes / "chaos-extra.yaml").unlink())),
        ]
        done = under_load = 0
        extra_sent: list[str] = []
        ctx.sleep_until(3)
        while done < at_least or not ctx.sent.is_set():
            what, edit = edits[done % len(edits)]
            if what == "remove chaos-extra" and not extra_sent:
                extra_sent = strand_extra_documents(ctx, 40)
            edit()
            started, before = time.time(), len(ctx.endpoint.records())
            if ctx.hub.procs["worker"].poll() is not None:  # killed by strand_extra_documents
                res = ctx.hub.cli("routes", "reload", check=False)
                ctx.hub.start_worker()
                ctx.hub.wait_worker(ctx.consuming)
                # Before the next edits: adding chaos-extra again would consume its queue anyway.
                account_extra(ctx, extra_sent)
            else:
                res = ctx.hub.cli("routes", "reload", "--wait", "60", check=False)
            said = " / ".join(line.strip() for line in res.stdout.splitlines()[:2])
            meanwhile = len(ctx.endpoint.records()) - before
            under_load += meanwhile > 0
            done += 1
            ctx.event(f"reload ({what}): exit {res.returncode} in {time.time() - started:.1f}s, "
                      f"{meanwhile} deliveries meanwhile: {said}")
            if res.returncode != 0:
                ctx.notes.append(f"RELOAD FAILED ({what}): {res.stdout[-500:]} {res.stderr[-1500:]}")
            time.sleep(1)
        ctx.notes.append(f"{done} route reloads, {under_load} of them while documents were being delivered")
    return fault


def strand_extra_documents(ctx: Ctx, count: int) -> list[str]:
    """Leave ``count`` documents in chaos-extra's queue with no worker running, just before the
    reload that removes the route: the worker started after it must drain them on the route's
    last definition (hub.reload.upkeep), as a worker restarted in the middle of a drain would."""
    folder = ctx.hub.data / "inbox" / "chaos-extra-files"
    wait_until(folder.is_dir, 60, 0.2, "the file drop watching chaos-extra-files")
    ctx.hub.kill9_main("worker")
    refs = [f"extra-{i}" for i in range(count)]
    for ref in refs:
        (folder / f"{ref}.tmp").write_text(f'{{"extra_ref": "{ref}"}}')
        (folder / f"{ref}.tmp").rename(folder / f"{ref}.json")
    wait_until(lambda: not list(folder.glob("*.json")), 60, 0.2, "the file drop taking the chaos-extra documents")
    ctx.event(f"worker killed; {count} chaos-extra documents stored and queued for the route about to be removed")
    return refs


def account_extra(ctx: Ctx, refs: list[str]) -> None:
    """Every stranded chaos-extra document delivered once (one idempotency key each), or a note."""
    def delivered() -> dict[str, set[str]]:
        keys: dict[str, set[str]] = {}
        for r in ctx.endpoint.records():
            if r.get("extra") and r.get("status") == 200:
                keys.setdefault(r["extra"], set()).add(r["key"])
        return keys

    try:
        wait_until(lambda: set(delivered()) >= set(refs), 90, 1.0, "the stranded chaos-extra documents")
    except TimeoutError:
        pass
    got = delivered()
    lost = [r for r in refs if r not in got]
    twice = [r for r, keys in got.items() if len(keys) > 1]
    ctx.notes.append(f"removed route's backlog after a worker restart: {len(refs)} stranded, {len(refs) - len(lost)} "
                     f"delivered within 90 s of the restart, {len(lost)} LOST, {len(twice)} under two keys")
    ctx.event(f"stranded chaos-extra documents: {len(refs) - len(lost)} of {len(refs)} delivered")


# -- RabbitMQ --------------------------------------------------------------------------------------

def rabbit_kill(ctx: Ctx) -> None:
    ctx.sleep_until(8)
    ctx.broker.kill9()
    ctx.event("RabbitMQ node kill -9")
    time.sleep(5)
    started = time.time()
    ctx.broker.start()
    ctx.event(f"RabbitMQ node restarted, accepting AMQP after {time.time() - started:.1f}s")


def rabbit_stop_app(ctx: Ctx) -> None:
    ctx.sleep_until(8)
    ctx.broker.stop_app()
    ctx.event("rabbitmqctl stop_app")
    time.sleep(ctx.scaled(15, 8))
    ctx.broker.start_app()
    ctx.event("rabbitmqctl start_app")


def cluster_leader(ctx: Ctx) -> None:
    ctx.sleep_until(10)
    leaders = ctx.broker.leaders(ctx.hub.namespace + ".")
    members = ctx.broker.members(ctx.hub.namespace + ".")
    ctx.event(f"quorum queue leaders {leaders}; members {members}")
    victim = Counter(leaders.values()).most_common(1)[0][0]
    ctx.broker.node(victim).kill9()
    ctx.event(f"kill -9 of {victim}, the leader of {sum(v == victim for v in leaders.values())} hub queue(s)")
    ctx.fault_end = time.time()  # the cluster must carry on with two nodes: the loss is the fault
    time.sleep(15)
    try:
        ctx.event(f"leaders now {ctx.broker.leaders(ctx.hub.namespace + '.')}")
    except Exception as exc:  # noqa: BLE001 - the diary must not stop the scenario
        ctx.event(f"could not list leaders: {exc}")


# -- PostgreSQL ------------------------------------------------------------------------------------

def pg_restart(ctx: Ctx) -> None:
    for at in (8, 20):
        ctx.sleep_until(at)
        started = time.time()
        ctx.pg.restart_immediate()
        ctx.event(f"PostgreSQL restart -m immediate (ready after {time.time() - started:.1f}s)")


def pg_down(ctx: Ctx) -> None:
    ctx.sleep_until(8)
    ctx.pg.stop("immediate")
    ctx.event("PostgreSQL stopped (-m immediate)")
    time.sleep(ctx.scaled(45, 10))
    ctx.pg.start()
    ctx.event("PostgreSQL started")


# -- the endpoint ----------------------------------------------------------------------------------

def endpoint_mode(mode: str, full: float, quick: float) -> Callable[[Ctx], None]:
    def fault(ctx: Ctx) -> None:
        ctx.sleep_until(5)
        ctx.endpoint.set_mode(mode)
        ctx.event(f"endpoint {mode}")
        time.sleep(ctx.scaled(full, quick))
        ctx.endpoint.set_mode("ok")
        ctx.event("endpoint answering 200 again")
    return fault


SCENARIOS: dict[str, Scenario] = {s.name: s for s in [
    Scenario("worker-children", "kill -9 of prefork pool children ×25 under load", kill_pool_children(25, 36)),
    Scenario("worker-main", "kill -9 of the worker's main process ×12, restarted each time", kill_worker_main(12),
             send_s=90),
    Scenario("rabbit-kill", "RabbitMQ node kill -9, restarted 5 s later", rabbit_kill, send_s=30),
    Scenario("rabbit-stop-app", "rabbitmqctl stop_app, start_app 15 s later", rabbit_stop_app, send_s=30),
    Scenario("pg-restart", "PostgreSQL restart -m immediate ×2", pg_restart, send_s=30),
    Scenario("pg-down", "PostgreSQL down 45 s", pg_down, send_s=60),
    Scenario("endpoint-503", "endpoint answers 503 for 150 s", endpoint_mode("503", 150, 20), send_s=60),
    Scenario("endpoint-down", "endpoint down (connections refused) for 10 minutes", endpoint_mode("down", 600, 30),
             send_s=60),
    Scenario("filedrop-kill", "kill -9 of the file drop ×20", kill_service("filedrop", 20, 40), channels="filedrop"),
    Scenario("api-kill", "kill -9 of the API ×15; clients retry with their Idempotency-Key",
             kill_service("api", 15, 45), channels="api", send_s=50),
    Scenario("poison", "5 poison documents (endpoint 500s them forever) among good ones", None, send_s=20,
             poison=5),
    Scenario("routes-reload", "hub routes reload one after another while documents flow (routes, "
             "endpoints, channels added, changed, removed)", route_reloads(6), send_s=120),
    Scenario("cluster-leader", "3-node cluster: kill -9 of the node leading the hub's quorum queues",
             cluster_leader, cluster=True),
]}
