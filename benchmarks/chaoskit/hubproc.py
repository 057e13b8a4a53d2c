"""The hub under test as real processes (``python -m hub worker|filedrop|api``), configured by
``HUB_*`` variables that point at the harness's broker, database, routes folder and endpoint."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.chaoskit.procs import (
    alive,
    children,
    kill_group,
    kill_pid,
    terminate,
    wait_until,
)

ROOT = Path(__file__).resolve().parents[2]
ROUTE = "chaos"
ENDPOINT = "recorder"
CHANNEL = "chaos-files"
DOCTYPE = "chaos_adjustment"
PARTNER = "P-CHAOS"

# No on_error: the route runs on the hub's default error policy, which is what is measured.
ROUTES_YAML = f"""
routes:
  - name: {ROUTE}
    description: chaos suite documents (JSON inventory adjustments) to the recording endpoint
    from: {{format: json, doctype: {DOCTYPE}}}
    steps:
      - parse: json
      - validate: InventoryAdjustment
    to: [{ENDPOINT}]

endpoints:
  {ENDPOINT}:
    http: {{url: "${{CHAOS_ENDPOINT_URL}}", timeout: 10s}}

channels:
  {CHANNEL}:
    filedrop:
      pattern: "*.json"
      format: json
      doctype: {DOCTYPE}
      sender: chaos-files
"""

PARTNERS_YAML = f"""
partners:
  - id: {PARTNER}
    name: Chaos suite API client
    roles: [DISTRIBUTOR]
    documents: [{{format: json, doctype: {DOCTYPE}}}]   # the API takes only what the partner may send
"""
# Hubs from before the partner ``documents`` allow-list refuse the key: measured revisions may be older.
PARTNERS_YAML_OLD = PARTNERS_YAML.replace(PARTNERS_YAML.splitlines()[-1] + "\n", "")


@dataclass
class HubProcesses:
    """One hub: its folders, environment and the processes the harness started for it."""

    work: Path
    database_url: str
    broker_url: str
    namespace: str
    endpoint_url: str
    api_port: int
    extra_env: dict[str, str] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    starts: dict[str, int] = field(default_factory=dict)
    api_key: str = ""
    src: Path = ROOT  # where the hub's code is run from (the repository, or an exported revision)
    ordered: bool = False  # the recording endpoint asks for each key's versions in order (ordered_by)

    def __post_init__(self) -> None:
        self.routes = self.work / "routes"
        self.routes.mkdir(parents=True, exist_ok=True)
        routes = ROUTES_YAML
        if self.ordered:
            routes = routes.replace("timeout: 10s}\n", "timeout: 10s}\n    ordered_by: document_key\n")
            assert "ordered_by" in routes
        (self.routes / "chaos.yaml").write_text(routes)
        (self.routes / "partners.yaml").write_text(PARTNERS_YAML)
        self.data = self.work / "data"
        self.inbox = self.data / "inbox" / CHANNEL
        self.inbox.mkdir(parents=True, exist_ok=True)
        self.logs = self.work / "logs"
        self.logs.mkdir(exist_ok=True)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
        self.env.update({
            "HUB_DATA_DIR": str(self.data), "HUB_DATABASE_URL": self.database_url, "HUB_BROKER_URL": self.broker_url,
            "HUB_NAMESPACE": self.namespace, "HUB_ROUTES_DIR": str(self.routes), "HUB_API_PORT": str(self.api_port),
            "CHAOS_ENDPOINT_URL": self.endpoint_url, "PYTHONPATH": str(self.src), "HUB_OPERATOR": "chaos-suite",
            **self.extra_env,
        })

    @property
    def work_queues(self) -> list[str]:
        return [f"{self.namespace}.route.{ROUTE}", f"{self.namespace}.endpoint.{ENDPOINT}"]

    # -- one-off commands ------------------------------------------------------------------------

    def cli(self, *args: str, timeout: float = 180, check: bool = True) -> subprocess.CompletedProcess:
        res = subprocess.run([sys.executable, "-m", "hub", *args], cwd=self.src, env=self.env, capture_output=True,
                             text=True, timeout=timeout, check=False)
        if check and res.returncode != 0:
            raise RuntimeError(f"hub {' '.join(args)} failed ({res.returncode}):\n{res.stdout[-2000:]}\n"
                               f"{res.stderr[-4000:]}")
        return res

    def prepare(self) -> None:
        """Schema, partner, API key: what an operator does once before starting the processes."""
        self.cli("db", "upgrade")
        loaded = self.cli("partners", "load", check=False)
        if loaded.returncode != 0 and "documents" in loaded.stdout + loaded.stderr:
            (self.routes / "partners.yaml").write_text(PARTNERS_YAML_OLD)
            self.cli("partners", "load")
        elif loaded.returncode != 0:
            raise RuntimeError(f"hub partners load failed:\n{loaded.stdout[-2000:]}\n{loaded.stderr[-2000:]}")
        out = self.cli("partners", "api-key", "create", PARTNER, "--label", "chaos-suite").stdout
        self.api_key = next(line.strip() for line in out.splitlines() if line.strip().startswith("shk_"))

    # -- long-running processes ------------------------------------------------------------------

    def spawn(self, role: str, *args: str) -> subprocess.Popen:
        n = self.starts.get(role, 0)
        self.starts[role] = n + 1
        out = open(self.logs / f"{role}-{n:02d}.log", "wb")  # noqa: SIM115 - closed when the process goes
        # A session of its own: killing the group is what a supervisor does to a whole service.
        proc = subprocess.Popen([sys.executable, "-m", "hub", *args], cwd=self.src, env=self.env, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        self.procs[role] = proc
        return proc

    def start_worker(self) -> subprocess.Popen:
        return self.spawn("worker", "worker", "--concurrency", "2", "--loglevel", "INFO")

    def start_filedrop(self) -> subprocess.Popen:
        return self.spawn("filedrop", "filedrop")

    def start_api(self) -> subprocess.Popen:
        return self.spawn("api", "api", "--port", str(self.api_port))

    def start_all(self, consuming: Callable[[list[str]], bool]) -> None:
        self.start_worker()
        self.start_filedrop()
        self.start_api()
        self.wait_worker(consuming)
        self.wait_api()

    def wait_worker(self, consuming: Callable[[list[str]], bool], timeout: float = 120) -> None:
        """Until the worker's pool is up and it consumes both work queues."""
        proc = self.procs["worker"]
        wait_until(lambda: proc.poll() is None and len(children(proc.pid)) >= 2 and consuming(self.work_queues),
                   timeout, 0.3, "the worker consuming its queues")

    def api_up(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.api_port}/healthz", timeout=2) as resp:
                return resp.status == 200
        except OSError:
            return False

    def wait_api(self, timeout: float = 90) -> None:
        wait_until(self.api_up, timeout, 0.2, "the API answering /healthz")

    def pid(self, role: str) -> int:
        return self.procs[role].pid

    def pool_children(self) -> list[int]:
        return children(self.pid("worker"))

    def kill9(self, role: str) -> None:
        """kill -9 of the whole service (its process group), as an OOM kill of a container would."""
        kill_group(self.procs[role])

    def kill9_main(self, role: str, grace: float = 2.0) -> int:
        """kill -9 of the main process only; returns how many of its children were still alive
        ``grace`` seconds later, then clears the group as a supervisor would before a restart."""
        proc = self.procs[role]
        kids = children(proc.pid)
        kill_pid(proc.pid)
        proc.wait(30)
        time.sleep(grace)
        orphans = sum(alive(k) for k in kids)
        kill_group(proc)
        return orphans

    def stop_all(self) -> None:
        for proc in self.procs.values():
            terminate(proc)

    def log_tail(self, role: str, chars: int = 3000) -> str:
        logs = sorted(self.logs.glob(f"{role}-*.log"))
        return logs[-1].read_text(errors="replace")[-chars:] if logs else ""
